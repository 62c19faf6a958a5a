/** The bound on a model load: stalls and abandonment end the wait, a late result is handed over for disposal. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_LOAD_STALL_MS, LoadAbandonedError, LoadStalledError, loadStallMsFromEnv, watchLoad } from '../../daemon/features/load-watchdog.js';

const never = () => new Promise<string>(() => undefined);

test('a load that never reports progress fails after the stall bound', async () => {
  const t0 = performance.now();
  await assert.rejects(watchLoad(never, { stallMs: 50, signal: new AbortController().signal, onLate: () => assert.fail('no late result') }), (e: unknown) => {
    assert.ok(e instanceof LoadStalledError);
    assert.match(e.message, /made no progress for 50 ms/);
    return true;
  });
  assert.ok(performance.now() - t0 < 1000);
});

test('progress keeps a slow load alive past the bound', async () => {
  const value = await watchLoad(
    async (progress) => {
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 150));
        progress();
      }
      return 'loaded';
    },
    { stallMs: 600, signal: new AbortController().signal, onLate: () => assert.fail('no late result') },
  );
  assert.equal(value, 'loaded');
});

test('an abort ends the wait at once; the result that comes later goes to onLate', async () => {
  const ac = new AbortController();
  let finish!: (v: string) => void;
  const late: unknown[] = [];
  const watched = watchLoad(() => new Promise<string>((r) => (finish = r)), { stallMs: 10_000, signal: ac.signal, onLate: (o) => late.push(o) });
  ac.abort();
  await assert.rejects(watched, LoadAbandonedError);
  finish('engine');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(late, [{ value: 'engine' }]);
});

test('a load that fails after it was given up reports its error to onLate, not to the caller', async () => {
  let fail!: (e: Error) => void;
  const late: unknown[] = [];
  const watched = watchLoad(() => new Promise<string>((_r, reject) => (fail = reject)), { stallMs: 30, signal: new AbortController().signal, onLate: (o) => late.push(o) });
  await assert.rejects(watched, LoadStalledError);
  fail(new Error('stopped at its next check'));
  await new Promise((r) => setImmediate(r));
  assert.equal(late.length, 1);
  assert.match(((late[0] as { error: Error }).error).message, /stopped at its next check/);
});

test('a failing load rejects with its own error', async () => {
  await assert.rejects(watchLoad(() => Promise.reject(new Error('bad file')), { stallMs: 1000, signal: new AbortController().signal, onLate: () => undefined }), /bad file/);
});

test('the bound comes from MOECODE_MODEL_LOAD_TIMEOUT_MS; a bad value is reported and ignored', () => {
  const warned: string[] = [];
  assert.equal(loadStallMsFromEnv((m) => warned.push(m), {}), DEFAULT_LOAD_STALL_MS);
  assert.equal(loadStallMsFromEnv((m) => warned.push(m), { MOECODE_MODEL_LOAD_TIMEOUT_MS: '2500' }), 2500);
  assert.equal(loadStallMsFromEnv((m) => warned.push(m), { MOECODE_MODEL_LOAD_TIMEOUT_MS: 'soon' }), DEFAULT_LOAD_STALL_MS);
  assert.equal(warned.length, 1);
  assert.match(warned[0]!, /not a positive number/);
});
