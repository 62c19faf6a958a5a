// The bounded template renderer (daemon/template/: template-sandbox.ts + template-renderer.ts + bounded-range.ts):
// results and template errors come back per template; time, heap, output and range() limits end a render with a
// typed TemplateLimitError; the worker is replaced after each such stop and later renders work.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { boundedRange, MAX_RANGE_ITEMS } from '../../daemon/template/bounded-range';
import { TemplateLimitError, TemplateSandbox, type TemplateLimits } from '../../daemon/template/template-sandbox';

const sandbox = new TemplateSandbox();
after(() => sandbox.dispose());
const SMALL: TemplateLimits = { timeoutMs: 1_000, maxHeapMb: 48, maxOutputChars: 10_000 };

function isLimit(kind: TemplateLimitError['kind']) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof TemplateLimitError, `expected a TemplateLimitError, got ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    return true;
  };
}

test('renders each template with the values; a template that throws is an outcome, not a rejection', async () => {
  const outcomes = await sandbox.render(['Hi {{ name | upper }}', '{{ name | nope }}', "{{ raise_exception('no') }}"], { name: 'ada' }, SMALL);
  assert.deepEqual(outcomes[0], { ok: true, text: 'Hi ADA' });
  assert.equal(outcomes[1].ok, false);
  assert.match(!outcomes[1].ok ? outcomes[1].message : '', /nope/);
  assert.deepEqual(outcomes[2], { ok: false, phase: 'render', message: 'no' });
  assert.equal(outcomes[1].ok === false && outcomes[1].phase, 'render');
  const [broken] = await sandbox.render(['{% if %}'], {}, SMALL);
  assert.equal(broken.ok === false && broken.phase, 'parse', JSON.stringify(broken));
});

test('a render past its time is stopped, and the next render gets a fresh worker', async () => {
  const t0 = Date.now();
  await assert.rejects(sandbox.render(['{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}'], {}, SMALL), isLimit('timeout'));
  const ms = Date.now() - t0;
  assert.ok(ms >= 900 && ms < 3_000, `stopped after ${ms} ms`);
  assert.deepEqual(await sandbox.render(['ok {{ 1 + 1 }}'], {}, SMALL), [{ ok: true, text: 'ok 2' }]);
});

test('a render past its heap ends the worker process, not this one', async () => {
  const doubling = '{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l | length }}';
  await assert.rejects(sandbox.render([doubling], {}, SMALL), (e: unknown) => isLimit('memory')(e) && /more than 48 MB/.test((e as Error).message));
  assert.deepEqual(await sandbox.render(['still {{ "here" }}'], {}, SMALL), [{ ok: true, text: 'still here' }]);
});

test('an output past its size is refused in the worker, all templates of a request counted together', async () => {
  await assert.rejects(sandbox.render(['{% for i in range(2000) %}0123456789{% endfor %}'], {}, SMALL), (e: unknown) => isLimit('output')(e) && /longer than 10,000 characters \(it reached 20,000\)/.test((e as Error).message));
  const half = '{% for i in range(600) %}0123456789{% endfor %}';
  assert.equal((await sandbox.render([half], {}, SMALL)).length, 1);
  await assert.rejects(sandbox.render([half, half], {}, SMALL), isLimit('output'));
});

test('range() refuses a list longer than MAX_RANGE_ITEMS before building it; `x.range` and other names are untouched', async () => {
  await assert.rejects(sandbox.render(['{{ range(1000000000) | length }}'], {}, SMALL), (e: unknown) => isLimit('engine')(e) && /range\(\) of 1,000,000,000 items/.test((e as Error).message));
  const ok = await sandbox.render([`{{ range(${MAX_RANGE_ITEMS}) | length }} {{ range(2, 9, 3) | join(',') }} {{ range(3, 0, -1) | join(',') }}`, '{% set ns = namespace(range=7) %}{{ ns.range }}'], {}, SMALL);
  assert.deepEqual(ok, [
    { ok: true, text: `${MAX_RANGE_ITEMS} 2,5,8 3,2,1` },
    { ok: true, text: '7' },
  ]);
});

test('boundedRange follows Python/Jinja range and checks its arguments', () => {
  assert.deepEqual(boundedRange(3), [0, 1, 2]);
  assert.deepEqual(boundedRange(1, 4), [1, 2, 3]);
  assert.deepEqual(boundedRange(10, 0, -4), [10, 6, 2]);
  assert.deepEqual(boundedRange(5, 1), []);
  assert.deepEqual(boundedRange(0, 1, 0.25), [0, 0.25, 0.5, 0.75]);
  assert.equal(boundedRange(MAX_RANGE_ITEMS).length, MAX_RANGE_ITEMS);
  assert.throws(() => boundedRange(MAX_RANGE_ITEMS + 1), RangeError);
  assert.throws(() => boundedRange(0, 1, 1e-9), RangeError);
  assert.throws(() => boundedRange(0, 5, 0), /step must not be zero/);
  assert.throws(() => boundedRange('5' as unknown as number), TypeError);
  assert.throws(() => boundedRange(Infinity), TypeError);
});

test('requests run one at a time in order; a stopped one does not disturb the next in the queue', async () => {
  const slow = sandbox.render(['{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}'], {}, SMALL);
  const next = sandbox.render(['second'], {}, SMALL);
  await assert.rejects(slow, isLimit('timeout'));
  assert.deepEqual(await next, [{ ok: true, text: 'second' }]);
});

test('a worker that cannot start fails the request with a TemplateLimitError; a disposed sandbox refuses work', async () => {
  const broken = new TemplateSandbox({ script: '/nonexistent/template-renderer.js' });
  await assert.rejects(broken.render(['x'], {}, SMALL), isLimit('worker'));
  broken.dispose();
  const gone = new TemplateSandbox();
  gone.dispose();
  await assert.rejects(gone.render(['x'], {}, SMALL), isLimit('worker'));
});
