import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { OpenAiStandIn } from '../../helpers/openai-stand-in';
import { api, hasDaemon, waitFor } from './helpers';

/** moecode.remote.url is user-only (machine scope): written to the user settings. */
async function setRemoteUrl(url: string | undefined): Promise<void> {
  await vscode.workspace.getConfiguration('moecode').update('remote.url', url, vscode.ConfigurationTarget.Global);
}

suite('remote server', () => {
  let server: OpenAiStandIn | undefined;

  suiteSetup(async function () {
    if (!hasDaemon()) {
      console.log('skipping the remote server suite: dist/daemon.js is not built (run npm run build)');
      this.skip();
    }
    server = new OpenAiStandIn({ dialect: 'vllm', models: [{ id: 'Qwen/Qwen2.5-Coder-7B', contextLength: 32768 }], apiKey: 'exthost-key', chat: () => ['from', ' the', ' server'] });
    await server.start();
  });

  suiteTeardown(async () => {
    const a = await api();
    await setRemoteUrl(undefined);
    await a.daemon.setRemoteApiKey(undefined);
    await server?.stop();
    // back on the local model for the suites that follow
    await waitFor('the local model again', () => a.daemon.status?.remote === undefined, 60_000);
  });

  test('the key from SecretStorage reaches the daemon; the status bar names the server model; chat goes there', async () => {
    const a = await api();
    await waitFor('the daemon to run', () => a.daemon.isRunning, 60_000);
    await a.daemon.setRemoteApiKey('exthost-key');
    await setRemoteUrl(server!.url);
    await waitFor('the status bar to show the remote model', () => /Qwen\/Qwen2\.5-Coder-7B: ready/.test(a.statusBar.text), 60_000).catch((e: Error) => {
      throw new Error(`${e.message}; status bar "${a.statusBar.text}", status ${JSON.stringify(a.daemon.status)}`);
    });
    assert.equal(a.daemon.status?.remote?.url, server!.url);
    assert.equal(server!.received('/v1/models').at(-1)!.authorization, 'Bearer exthost-key');
    const deltas: string[] = [];
    const r = await a.daemon.chat({ messages: [{ role: 'user', content: 'hi' }] }, (d) => deltas.push(d));
    assert.equal(r.text, 'from the server');
    assert.deepEqual(deltas, ['from', ' the', ' server']);
  });

  test('a refused key shows in the status bar; a new key recovers it without a restart; the key is never in the settings', async () => {
    const a = await api();
    const pid = a.daemon.pid;
    await a.daemon.setRemoteApiKey('not-the-key');
    await waitFor('the status bar to say the key was refused', () => /refused the API key/.test(a.statusBar.text), 60_000);
    await a.daemon.setRemoteApiKey('exthost-key');
    await waitFor('the status bar to recover', () => /: ready/.test(a.statusBar.text), 60_000);
    // removing the key sends none at all
    await a.daemon.setRemoteApiKey(undefined);
    await waitFor('the status bar to say the key was refused', () => /refused the API key/.test(a.statusBar.text), 60_000);
    assert.equal(server!.received('/v1/models').at(-1)!.authorization, undefined);
    await a.daemon.setRemoteApiKey('exthost-key');
    await waitFor('the status bar to recover', () => /: ready/.test(a.statusBar.text), 60_000);
    assert.equal(a.daemon.pid, pid, 'same daemon process');
    const inspected = JSON.stringify(vscode.workspace.getConfiguration('moecode'));
    assert.equal(inspected.includes('exthost-key'), false);
    assert.equal(JSON.stringify(a.config.daemonSettings()).includes('exthost-key'), false);
  });

  test('a server that cannot be reached shows in the status bar and as the chat panel\'s notice, naming it', async () => {
    const a = await api();
    // a port nothing listens on: the stand-in's own, once it is stopped
    const gone = new OpenAiStandIn({ dialect: 'vllm', models: [{ id: 'gone', contextLength: 4096 }] });
    await gone.start();
    const url = gone.url;
    await gone.stop();
    await setRemoteUrl(url);
    await waitFor('the status bar to say the server is unreachable', () => /unreachable/.test(a.statusBar.text), 60_000);
    const notice = await waitFor('the chat notice', () => a.chat.notice, 10_000);
    assert.ok(notice.startsWith(`The remote server ${url} cannot be reached`), notice);
    assert.doesNotMatch(notice, /could not be loaded/);
    await setRemoteUrl(server!.url);
    await waitFor('the status bar to recover', () => /: ready/.test(a.statusBar.text), 60_000);
    assert.equal(a.chat.notice, undefined);
  });
});
