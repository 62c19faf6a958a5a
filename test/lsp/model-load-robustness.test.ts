/**
 * Model loads that go wrong, against the real daemon process:
 *  - a FIFO as the model path (opening it blocked forever, wedging every later load and `shutdown`):
 *    refused at once as not a regular file, with later loads and shutdown unaffected;
 *  - a bad path, a file that is not a GGUF, an unsupported architecture, a 4 MB architecture name,
 *    each while a model is loaded: the loaded model keeps answering, the status says what failed, and
 *    nothing from the file reaches a message unbounded;
 *  - a load that stops making progress (MOECODE_MODEL_LOAD_TIMEOUT_MS set far below what a load takes):
 *    given up with a clear error, without blocking the next load or shutdown;
 *  - a model named with ANSI escapes: its name is escaped in the status.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { StatusParams } from '../../daemon/protocol.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { modelUnavailable, startDaemon, TEST_MODEL_SPEC, type DaemonClient } from './daemon-harness.js';

let model = '';
let ansiModel = '';
let noModel: string | undefined;
let dir = '';
let fifo = '';

/** A GGUF v3 header with no tensors and one string key (enough for the reader; readModelConfig then decides). */
function ggufWithArchitecture(arch: string): Buffer {
  const key = Buffer.from('general.architecture');
  const value = Buffer.from(arch);
  const b = Buffer.alloc(4 + 4 + 8 + 8 + 8 + key.length + 4 + 8 + value.length);
  let p = b.write('GGUF', 0, 'latin1');
  p = b.writeUInt32LE(3, p);
  p = b.writeBigUInt64LE(0n, p);
  p = b.writeBigUInt64LE(1n, p);
  p = b.writeBigUInt64LE(BigInt(key.length), p);
  p += key.copy(b, p);
  p = b.writeUInt32LE(8, p); // STRING
  p = b.writeBigUInt64LE(BigInt(value.length), p);
  value.copy(b, p);
  return b;
}

before(async () => {
  model = await ensureModel(TEST_MODEL_SPEC);
  ansiModel = await ensureModel({ ...TEST_MODEL_SPEC, name: 'Evil\u001b[31mRED\u001b[0m' });
  noModel = await modelUnavailable();
  dir = mkdtempSync(join(tmpdir(), 'moecode-load-robust-'));
  fifo = join(dir, 'model.gguf');
  try {
    execFileSync('mkfifo', [fifo]);
  } catch {
    fifo = '';
  }
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Sends `shutdown` and expects its answer within `ms`. */
async function shutsDownWithin(c: DaemonClient, ms: number): Promise<void> {
  const answered = await Promise.race([c.request('shutdown').response.then(() => 'answered'), new Promise((r) => setTimeout(() => r('blocked'), ms))]);
  assert.equal(answered, 'answered', `shutdown was not answered within ${ms} ms`);
  c.notify('exit');
  assert.equal((await c.exited).code, 0);
}

describe('a FIFO as the model path', () => {
  let c: DaemonClient;
  after(() => c?.kill());

  test('is refused at once; the next load and shutdown are not blocked', async (t) => {
    if (!fifo) return t.skip('mkfifo is not available');
    c = await startDaemon({ env: { MOECODE_MODEL: '' }, initializationOptions: { moecode: { model: { path: fifo } } } });
    const s = await c.waitForState(['error', 'ready'], 10_000);
    assert.equal(s.state, 'error');
    assert.match(s.message ?? '', /named pipe \(FIFO\), not a regular file/);
    const again = await Promise.race([
      c.request('moecode/model/load', { path: fifo }).response,
      new Promise<'blocked'>((r) => setTimeout(() => r('blocked'), 5000)),
    ]);
    assert.notEqual(again, 'blocked', 'a second load of the FIFO is answered');
    if (!noModel) {
      const ready = await c.call<StatusParams>('moecode/model/load', { path: model });
      assert.equal(ready.state, 'ready', ready.message);
      // with a model loaded, a FIFO leaves it loaded
      const r = await c.request('moecode/model/load', { path: fifo }).response;
      assert.equal(r.error?.code, -32803);
      const kept = await c.status();
      assert.equal(kept.state, 'ready');
      assert.equal(kept.modelPath, model);
      assert.match(kept.message ?? '', /FIFO.*Still using/);
    }
    await shutsDownWithin(c, 5000);
  });
});

describe('a failed load keeps the loaded model', () => {
  let c: DaemonClient;
  const uri = 'file:///load-robust/a.ts';
  after(() => c?.kill());

  before(async () => {
    if (noModel) return;
    c = await startDaemon({ env: { MOECODE_MODEL: model }, settings: { completion: { maxTokens: 4, temperature: 0 } } });
    const s = await c.waitForState(['ready', 'error']);
    assert.equal(s.state, 'ready', s.message);
    c.open(uri, 'function add(a, b) {\n  return a');
  });

  const bad: [string, () => string, RegExp][] = [
    ['a path that does not exist', () => join(dir, 'missing.gguf'), /no such file/],
    ['a file that is not a GGUF (/etc/passwd)', () => '/etc/passwd', /not a GGUF file/],
    ['an unsupported architecture', () => save('gpt9.gguf', ggufWithArchitecture('gpt9')), /architecture 'gpt9' is not supported/],
    ['a 4 MB architecture name', () => save('huge-arch.gguf', ggufWithArchitecture('x'.repeat(4 * 1024 * 1024))), /architecture 'x+… \(4194304 characters\)/],
  ];
  for (const [what, path, reason] of bad) {
    test(what, async (t) => {
      if (noModel) return t.skip(noModel);
      const p = path();
      const r = await c.request('moecode/model/load', { path: p }).response;
      assert.equal(r.error?.code, -32803, JSON.stringify(r).slice(0, 500));
      assert.deepEqual(r.error?.data, { reason: 'modelError' });
      assert.match(r.error!.message, reason);
      assert.ok(r.error!.message.length < 3000, `the error is ${r.error!.message.length} characters`);
      const s = await c.status();
      assert.equal(s.state, 'ready', 'the loaded model still answers');
      assert.equal(s.modelPath, model);
      assert.match(s.message ?? '', /Could not load .*Still using moecode-llama-tiny/);
      assert.ok((s.message ?? '').length < 3000, `the status message is ${(s.message ?? '').length} characters`);
      const done = await c.inline(uri, 1, 10).response;
      assert.equal(done.error, undefined, JSON.stringify(done.error));
      for (const m of c.logMessages()) assert.ok(m.length < 5000, `a log line of ${m.length} characters`);
    });
  }

  test('a model named with ANSI escapes: the status shows its name escaped', async (t) => {
    if (noModel) return t.skip(noModel);
    const s = await c.call<StatusParams>('moecode/model/load', { path: ansiModel });
    assert.equal(s.state, 'ready');
    assert.doesNotMatch(s.modelName, /\u001b/);
    assert.equal(s.modelName, 'Evil\\x1b[31mRED\\x1b[0m');
    for (const m of c.logMessages()) assert.doesNotMatch(m, /\u001b/);
  });
});

function save(name: string, bytes: Buffer): string {
  const p = join(dir, name);
  if (!existsSync(p)) writeFileSync(p, bytes);
  return p;
}

describe('a load that stops making progress', () => {
  let c: DaemonClient;
  after(() => c?.kill());

  test('is given up with a clear error, and neither the next load nor shutdown waits for it', async (t) => {
    if (noModel) return t.skip(noModel);
    // far below what creating a GPU device and compiling the kernels take between two progress reports
    c = await startDaemon({ env: { MOECODE_MODEL: model, MOECODE_MODEL_LOAD_TIMEOUT_MS: '20' } });
    const s = await c.waitForState(['error', 'ready'], 30_000);
    assert.equal(s.state, 'error');
    assert.match(s.message ?? '', /made no progress for 20 ms and was given up/);
    const started = performance.now();
    const next = await c.request('moecode/model/load', { path: join(dir, 'missing.gguf') }).response;
    assert.match(next.error?.message ?? '', /no such file/);
    assert.ok(performance.now() - started < 5000, 'the next load did not wait for the abandoned one');
    // the given-up load ends in the background (disposed, or stopped at its next check) and changes no status
    await c.waitForNotification('window/logMessage', (p: { message: string }) => /that was given up has ended/.test(p.message), 60_000);
    const after = await c.status();
    assert.equal(after.state, 'error');
    assert.match(after.message ?? '', /missing\.gguf.*no such file/);
    await shutsDownWithin(c, 5000);
  });
});
