/**
 * Bad bytes on the real daemon's stdin, as a broken or hostile client would send them:
 *  - a body that is not JSON gets JSON-RPC's Parse error (-32700, id null), and the daemon reads on;
 *  - JSON that is not a message object gets Invalid Request (-32600, id null);
 *  - a second `initialize` gets Invalid Request, and its processId is not watched;
 *  - a stream that can no longer be split into messages (a bad or missing Content-Length, one beyond
 *    the limit, a header block that never ends) makes the daemon log why and exit with 1, so the client
 *    restarts it, instead of staying alive but deaf.
 * No model is needed: none is configured.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startDaemon, type DaemonClient } from './daemon-harness.js';

const NO_MODEL = { MOECODE_MODEL: '/nonexistent/protocol-test.gguf' };

describe('malformed messages inside intact frames', () => {
  let c: DaemonClient;
  after(() => c?.kill());

  test('a body that is not JSON is answered with Parse error (-32700, id null), then the daemon reads on', async () => {
    c = await startDaemon({ env: NO_MODEL });
    c.sendRaw('{"jsonrpc":"2.0","id":41,"method":');
    const r = await c.waitForOrphanResponse(0);
    assert.equal(r.id, null);
    assert.equal(r.error?.code, -32700);
    assert.match(r.error!.message, /Parse error/);
    assert.ok((await c.status()).state, 'the next request is answered');
  });

  test('a body that is not UTF-8 is a Parse error too', async () => {
    const n = c.orphanResponses.length;
    const body = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    c.writeBytes(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
    const r = await c.waitForOrphanResponse(n);
    assert.equal(r.error?.code, -32700);
    assert.ok((await c.status()).state);
  });

  test('JSON that is not a message object is answered with Invalid Request (-32600, id null)', async () => {
    const n = c.orphanResponses.length;
    c.sendRaw('42');
    c.sendRaw('[{"jsonrpc":"2.0","id":7,"method":"moecode/status/get"}]');
    for (const i of [n, n + 1]) {
      const r = await c.waitForOrphanResponse(i);
      assert.equal(r.id, null);
      assert.equal(r.error?.code, -32600);
    }
    assert.ok((await c.status()).state);
  });

  test('a second initialize is rejected with Invalid Request, and its dead processId does not end the daemon', async () => {
    const r = await c.request('initialize', { processId: 2 ** 22 + 12345, rootUri: null, capabilities: {} }).response;
    assert.equal(r.error?.code, -32600, JSON.stringify(r));
    assert.match(r.error!.message, /already/);
    // vscode-languageserver checks a watched processId every 3 s: give it the chance to act on it
    await new Promise((res) => setTimeout(res, 4000));
    assert.equal(c.child.exitCode, null, 'still running');
    assert.ok((await c.status()).state, 'still answering');
    assert.equal(c.garbage, '', 'nothing but protocol on stdout');
  });
});

describe('a broken byte stream ends the daemon with exit code 1', () => {
  const cases: [string, string | Buffer, RegExp][] = [
    ['a Content-Length that is not a number', 'Content-Length: abc\r\n\r\n{}', /Content-Length "abc" is not a byte count/],
    ['a negative Content-Length', 'Content-Length: -5\r\n\r\n{}', /Content-Length "-5" is not a byte count/],
    ['a header block without Content-Length', 'Content-Type: application/vscode-jsonrpc\r\n\r\n{}', /without Content-Length/],
    ['a Content-Length beyond the limit', 'Content-Length: 99999999999\r\n\r\n{}', /exceeds the limit/],
    ['a header block that never ends', `Content-Length: 2${'x'.repeat(9000)}`, /no end of the header block within|a header block of \d+ bytes/],
  ];
  for (const [what, bytes, reason] of cases) {
    test(what, async () => {
      const c = await startDaemon({ env: NO_MODEL });
      try {
        assert.ok((await c.status()).state, 'answers before the bad bytes');
        c.writeBytes(bytes);
        const exited = await Promise.race([c.exited, new Promise<'alive'>((r) => setTimeout(() => r('alive'), 10_000))]);
        assert.notEqual(exited, 'alive', 'the daemon is still running, deaf to the rest of the stream');
        assert.equal((exited as { code: number | null }).code, 1);
        assert.match(c.stderr, /byte stream is broken/);
        assert.match(c.stderr, reason);
      } finally {
        c.kill();
      }
    });
  }
});
