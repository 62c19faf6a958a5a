/**
 * The remote server's health: the state each probe outcome gives, probes again after failures with a
 * doubling delay, at once on a nudge (at most once per first delay), and failures reported by requests
 * turning the state without waiting for a probe.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RemoteHttpError, RemoteUnauthorizedError, RemoteUnreachableError } from '../../daemon/remote/errors.js';
import { RemoteHealth, type HealthState } from '../../daemon/remote/health.js';

const URL_ = 'http://gpu-box:30000/v1/models';

function scripted(outcomes: (Error | 'ok')[]) {
  const calls: number[] = [];
  const states: HealthState[] = [];
  const t0 = performance.now();
  let health!: RemoteHealth;
  health = new RemoteHealth({
    probe: async () => {
      calls.push(performance.now() - t0);
      const next = outcomes.shift() ?? 'ok';
      if (next !== 'ok') throw next;
    },
    onChange: () => states.push(health.state),
    minRetryMs: 40,
    maxRetryMs: 200,
    okIntervalMs: 60_000,
  });
  return { health, calls, states };
}

const until = async (check: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('failures are probed again with a doubling delay until the server answers', async () => {
  const down = new RemoteUnreachableError(URL_, 'ECONNREFUSED');
  const { health, calls, states } = scripted([down, down, down, 'ok']);
  try {
    assert.equal(health.state, 'connecting');
    await health.probeNow();
    assert.equal(health.state, 'unreachable');
    assert.match(health.message ?? '', /gpu-box:30000.*ECONNREFUSED/);
    await until(() => health.state === 'ok');
    assert.equal(calls.length, 4);
    const gaps = calls.slice(1).map((t, i) => t - calls[i]!);
    // 40, 80, 160 ms (timers fire late, never early)
    assert.ok(gaps[0]! >= 38 && gaps[1]! >= 78 && gaps[2]! >= 158, JSON.stringify(gaps));
    assert.deepEqual(states, ['unreachable', 'ok']);
  } finally {
    health.dispose();
  }
});

test('a refused key is unauthorized, another answer error; a request failure turns the state at once', async () => {
  const { health } = scripted([new RemoteUnauthorizedError(URL_, 401, 'Invalid API Key'), new RemoteHttpError(URL_, 500, 'boom'), 'ok']);
  try {
    await health.probeNow();
    assert.equal(health.state, 'unauthorized');
    await health.probeNow();
    assert.equal(health.state, 'error');
    await health.probeNow();
    assert.equal(health.state, 'ok');
    health.reportFailure(new RemoteUnreachableError(URL_, 'ECONNRESET'));
    assert.equal(health.state, 'unreachable');
    // a 4xx answer to one request says nothing about the server's health
    health.reportFailure(new RemoteHttpError(URL_, 400, 'bad request'));
    assert.equal(health.state, 'unreachable');
  } finally {
    health.dispose();
  }
});

test('a nudge probes at once, but not more than once per first retry delay; dispose stops probing', async () => {
  const { health, calls } = scripted([new RemoteUnreachableError(URL_, 'ECONNREFUSED'), new RemoteUnreachableError(URL_, 'ECONNREFUSED')]);
  await health.probeNow();
  const n = calls.length;
  health.nudge(); // too soon after the last probe
  assert.equal(calls.length, n);
  await new Promise((r) => setTimeout(r, 45));
  // the scheduled retry (40 ms) or the nudge ran one probe, not two
  health.nudge();
  await until(() => calls.length >= n + 1);
  health.dispose();
  const after = calls.length;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(calls.length, after, 'no probe after dispose');
  assert.ok(after <= n + 2);
});
