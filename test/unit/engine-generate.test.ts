/**
 * Streaming generation (daemon/engine/generate.ts) on a real GPU with generated tiny models: stop
 * strings cut the text and are never streamed, even in part; max tokens; end-of-generation tokens;
 * a full context; cancellation between tokens through an AbortSignal; and the streamed pieces always
 * add up to the final text.
 *
 * Seeded sampling makes runs comparable: the draw for a position depends only on the seed and the
 * position, so a run that stops early produces a prefix of the tokens of a run that does not.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../daemon/engine/engine.js';
import { generate, type GenerateOptions, type GenerateResult } from '../../daemon/engine/generate.js';
import type { Session } from '../../daemon/engine/session.js';
import type { SamplingParams } from '../../daemon/gpu/graph-runner.js';
import { allowedMask } from '../../daemon/engine/token-mask.js';
import { modelUnavailable } from '../helpers/backend-available.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';

const GREEDY: SamplingParams = { temperature: 0, topK: 1, topP: 1, seed: 0 };
const SEEDED: SamplingParams = { temperature: 0.8, topK: 40, topP: 0.95, seed: 7 };
const PROMPT = 'def parse(line):\n    key, value = line.split(';

let noModel: string | undefined;
let engine: Engine | undefined;
let prompt: number[] = [];
/** 32 seeded tokens from PROMPT with no stop condition but the length. */
let ref: Streamed;

interface Streamed extends GenerateResult {
  /** The onText pieces, in order. */
  pieces: string[];
}

function needModel(t: TestContext): boolean {
  if (noModel) t.skip(noModel);
  return !noModel;
}

async function run(opts: Partial<GenerateOptions> & { session?: Session; prompt?: number[] } = {}): Promise<Streamed> {
  const e = engine!;
  const session = opts.session ?? e.session(0);
  if (!opts.session) session.reset();
  const pieces: string[] = [];
  const r = await generate(session, e.tokenizer, opts.prompt ?? prompt, {
    maxTokens: 32,
    sampling: SEEDED,
    ...opts,
    onText: (s) => {
      assert.ok(s.length > 0, 'onText is never called with an empty piece');
      pieces.push(s);
      opts.onText?.(s);
    },
  });
  assert.equal(pieces.join(''), r.text, 'the streamed pieces add up to the final text');
  return { ...r, pieces };
}

/** `n` tokens of s are a prefix of ref's tokens (the same seed draws the same tokens). */
function assertPrefixOfRef(r: GenerateResult, n = r.tokens.length): void {
  assert.deepEqual(r.tokens, ref.tokens.slice(0, n));
}

before(async () => {
  noModel = await modelUnavailable();
  if (noModel) {
    console.log(`# model tests skipped: ${noModel}`);
    return;
  }
  engine = await Engine.load(await ensureModel({ arch: 'llama', preset: 'tiny', weightType: 'F32' }), { nCtx: 256, nSlots: 2 });
  prompt = engine.tokenizer.encode(PROMPT);
  ref = await run();
});

after(async () => {
  await engine?.dispose();
});

test('streamed text equals the final text, which is the decoded tokens', (t) => {
  if (!needModel(t)) return;
  assert.equal(ref.stopReason, 'length');
  assert.equal(ref.tokens.length, 32);
  assert.equal(ref.text, engine!.tokenizer.decode(ref.tokens, { skipSpecial: true }));
  assert.ok(ref.pieces.length >= 8, `text arrives as it is generated (${ref.pieces.length} pieces)`);
  assert.equal(ref.promptTokens, prompt.length);
  assert.equal(ref.prefillTokens, prompt.length);
  assert.equal(ref.decodeTokens, 31);
  assert.ok(ref.prefillMs > 0 && ref.decodeMs > 0);
});

test('max tokens', async (t) => {
  if (!needModel(t)) return;
  for (const n of [1, 2, 7]) {
    const r = await run({ maxTokens: n });
    assert.equal(r.stopReason, 'length');
    assert.equal(r.tokens.length, n);
    assert.equal(r.decodeTokens, n - 1);
    assertPrefixOfRef(r);
  }
});

/** Start offsets in ref.text of substrings of length `len` that occur there first at that offset and
 * contain no U+FFFD (whose bytes may still be pending in the stream decoder when the stop fires). */
function stopCandidates(len: number, from: number): number[] {
  const out: number[] = [];
  for (let a = from; a + len <= ref.text.length; a++) {
    const s = ref.text.slice(a, a + len);
    if (!s.includes('\ufffd') && !ref.text[a - 1]?.includes('\ufffd') && ref.text.indexOf(s) === a) out.push(a);
  }
  return out;
}

test('a stop string cuts the text before it and is never streamed, even in part', async (t) => {
  if (!needModel(t)) return;
  const candidates = stopCandidates(4, 3);
  assert.ok(candidates.length >= 2, `the reference text has stop-string candidates: ${JSON.stringify(ref.text)}`);
  for (const a of [candidates[0], candidates[Math.floor(candidates.length / 2)], candidates.at(-1)!]) {
    const stop = ref.text.slice(a, a + 4);
    const r = await run({ stop: [stop] });
    assert.equal(r.stopReason, 'stop', `stop ${JSON.stringify(stop)}`);
    assert.equal(r.text, ref.text.slice(0, a), `text cut before ${JSON.stringify(stop)}`);
    assertPrefixOfRef(r);
    // generation stopped at the token that completed the stop string
    const upTo = engine!.tokenizer.decode(r.tokens, { skipSpecial: true });
    assert.ok(upTo.includes(stop) && !engine!.tokenizer.decode(r.tokens.slice(0, -1), { skipSpecial: true }).includes(stop));
  }
});

test('with several stop strings the earliest one wins', async (t) => {
  if (!needModel(t)) return;
  const c = stopCandidates(3, 2);
  const [early, late] = [c[0], c.at(-1)!];
  assert.ok(late > early + 3);
  const r = await run({ stop: [ref.text.slice(late, late + 3), 'never generated \u0001', ref.text.slice(early, early + 3)] });
  assert.equal(r.stopReason, 'stop');
  assert.equal(r.text, ref.text.slice(0, early));
});

test('text that might begin a stop string is held back until it cannot', async (t) => {
  if (!needModel(t)) return;
  // A stop string whose beginning is the reference's tail: from offset a on, the text is held back;
  // the stop string never completes, so at the end it is all released.
  const a = stopCandidates(6, Math.floor(ref.text.length / 2))[0];
  assert.ok(a !== undefined, 'a tail to hold back');
  const stop = ref.text.slice(a) + '\u0007never';
  const released: number[] = [];
  let sent = 0;
  const r = await run({ stop: [stop], onText: (s) => released.push((sent += s.length)) });
  assert.equal(r.stopReason, 'length');
  assert.equal(r.text, ref.text);
  assert.equal(released.at(-1), ref.text.length);
  assert.ok(released.slice(0, -1).every((n) => n <= a), `nothing at or after offset ${a} streamed before the end: ${released.join(',')}`);
  assert.ok(released.length >= 2 && released.at(-2)! > 0, 'text before the held part was streamed on time');

  // A held-back part that turns out not to be the stop string is released as soon as that is certain.
  const b = stopCandidates(4, 3)[0];
  const falseStart = ref.text.slice(b, b + 3) + '\u0007';
  const early: number[] = [];
  let n = 0;
  const r2 = await run({ stop: [falseStart], onText: (s) => early.push((n += s.length)) });
  assert.equal(r2.text, ref.text);
  assert.ok(early.some((x) => x > b + 3 && x < ref.text.length), 'released before the end');
});

test('shouldStop ends generation without cutting the text', async (t) => {
  if (!needModel(t)) return;
  const lengths: number[] = [];
  const r = await run({ shouldStop: (text) => (lengths.push(text.length), text.length >= 10) });
  assert.equal(r.stopReason, 'stop');
  assert.equal(lengths.length, r.tokens.length, 'asked once per token');
  assert.ok(lengths.slice(0, -1).every((n) => n < 10) && lengths.at(-1)! >= 10, `stopped at the first token that made it long enough: ${lengths.join(',')}`);
  assert.equal(r.text.length, lengths.at(-1));
  assertPrefixOfRef(r);
});

test('an AbortSignal stops generation between tokens', async (t) => {
  if (!needModel(t)) return;
  // aborted after the 5th token (shouldStop runs once per token): exactly 5 tokens come back
  const ac = new AbortController();
  let seen = 0;
  const r = await run({ signal: ac.signal, shouldStop: () => (++seen === 5 && ac.abort(), false) });
  assert.equal(r.stopReason, 'cancelled');
  assert.equal(r.tokens.length, 5);
  assertPrefixOfRef(r);

  // aborted before it starts: nothing is evaluated, the session is untouched
  const session = engine!.session(0);
  session.reset();
  const pre = await run({ session, signal: AbortSignal.abort() });
  assert.equal(pre.stopReason, 'cancelled');
  assert.deepEqual([pre.tokens.length, pre.prefillTokens, pre.text], [0, 0, '']);
  assert.deepEqual(session.tokens, []);
});

test('an abort from a timer stops a long generation, and the session stays usable', async (t) => {
  if (!needModel(t)) return;
  const session = engine!.session(0);
  session.reset();
  const ac = new AbortController();
  // the timer starts with the first token (a fast backend writes 200 tokens in well under a second)
  let timer: NodeJS.Timeout | undefined;
  let abortedAt = 0;
  const startTimer = () => (timer ??= setTimeout(() => ((abortedAt = performance.now()), ac.abort()), 1));
  const r = await run({ session, maxTokens: 200, sampling: GREEDY, signal: ac.signal, onText: startTimer, shouldStop: () => (startTimer(), false) });
  const ms = performance.now() - abortedAt;
  clearTimeout(timer);
  assert.equal(r.stopReason, 'cancelled');
  assert.ok(r.tokens.length > 0 && r.tokens.length < 200, `${r.tokens.length} tokens`);
  assert.ok(ms < 2000, `stopped within a token or two of the abort (${ms.toFixed(0)} ms after it)`);
  // The cache holds the prompt and the generated tokens: generating again reuses it and gives what a
  // fresh slot gives.
  const again = await run({ session, maxTokens: 12, sampling: GREEDY });
  assert.equal(again.prefillTokens, 1, 'only the last prompt token is evaluated again');
  const fresh = await run({ session: (engine!.session(1).reset(), engine!.session(1)), maxTokens: 12, sampling: GREEDY });
  assert.deepEqual(again.tokens, fresh.tokens);
  assert.deepEqual(again.tokens.slice(0, Math.min(12, r.tokens.length)), r.tokens.slice(0, 12));
});

test('masks: the first-token mask decides the first token only; the every-token mask holds for all', async (t) => {
  if (!needModel(t)) return;
  const V = engine!.tokenizer.vocabSize;
  const greedy = await run({ maxTokens: 8, sampling: GREEDY });
  const forced = [...new Set([3, 7, 11])].find((id) => id !== greedy.tokens[0])!;
  const r = await run({ maxTokens: 8, sampling: GREEDY, masks: { first: allowedMask(V, (i) => i === forced) } });
  assert.equal(r.tokens[0], forced);
  const after = await run({ prompt: [...prompt, forced], maxTokens: 7, sampling: GREEDY });
  assert.deepEqual(r.tokens.slice(1), after.tokens, 'then the greedy continuation of prompt + the forced token');
  // banning the tokens the seeded run drew: none of them comes out, with sampling or greedy
  const banned = new Set([...ref.tokens, ...engine!.tokenizer.eogIds]); // no end of generation: 16 tokens come
  for (const sampling of [SEEDED, GREEDY]) {
    const b = await run({ maxTokens: 16, sampling, masks: { every: allowedMask(V, (i) => !banned.has(i)) } });
    assert.equal(b.tokens.length, 16);
    assert.ok(b.tokens.every((x) => !banned.has(x)), `${JSON.stringify(sampling)}: ${b.tokens.filter((x) => banned.has(x))}`);
  }
  // a mask allowing everything changes nothing
  const all = await run({ masks: { first: allowedMask(V, () => true), every: allowedMask(V, () => true) } });
  assert.deepEqual(all.tokens, ref.tokens);
});

test('a mask of the wrong size, or one allowing no token, is refused; the engine stays usable', async (t) => {
  if (!needModel(t)) return;
  const V = engine!.tokenizer.vocabSize;
  await assert.rejects(run({ masks: { every: new Uint32Array(1) } }), /words/);
  await assert.rejects(run({ masks: { every: allowedMask(V, () => false) } }), /allows no token/);
  assert.deepEqual((await run()).tokens, ref.tokens);
});

test('generation stops when the context is full', async (t) => {
  if (!needModel(t)) return;
  const nCtx = engine!.model.nCtx;
  const long = Array.from({ length: nCtx - 10 }, (_, i) => 3 + ((i * 7919) % 400));
  const r = await run({ prompt: long, maxTokens: 100, sampling: GREEDY });
  assert.equal(r.stopReason, 'context');
  assert.ok(r.tokens.length >= 9 && r.tokens.length <= 10, `${r.tokens.length} tokens after a prompt of ${long.length} in a context of ${nCtx}`);
  assert.ok(engine!.session(0).tokens.length <= nCtx);
});

test('an end-of-generation token ends generation and is not part of the text', async (t) => {
  if (!needModel(t)) return;
  const e = await Engine.load(await ensureModel({ arch: 'olmoe', preset: 'tiny', weightType: 'F32' }), { nCtx: 128 });
  try {
    // Find a prompt whose greedy continuation reaches an end-of-generation token.
    let found: { ids: number[]; cont: number[]; at: number } | undefined;
    for (const text of ['for (let i = 0; i < n; i++) {', 'import numpy as np\nx = np.', 'SELECT * FROM users WHERE', '#include <stdio.h>\nint main']) {
      const ids = e.tokenizer.encode(text);
      const s = e.session(0);
      s.reset();
      let { token } = await s.prefill(ids, GREEDY);
      const cont = [token];
      while (cont.length < 24) cont.push((token = await s.decode(token, GREEDY)));
      const at = cont.findIndex((x) => e.tokenizer.eogIds.has(x));
      if (at > 0) {
        found = { ids, cont, at };
        break;
      }
    }
    assert.ok(found, 'one of the prompts reaches an end-of-generation token within 24 tokens');
    const session = e.session(0);
    session.reset();
    const r = await generate(session, e.tokenizer, found.ids, { maxTokens: 24, sampling: GREEDY });
    assert.equal(r.stopReason, 'eos');
    assert.deepEqual(r.tokens, found.cont.slice(0, found.at));
    assert.equal(r.text, e.tokenizer.decode(found.cont.slice(0, found.at), { skipSpecial: true }));
    assert.ok(!r.text.includes(e.tokenizer.tokenText(found.cont[found.at])), 'the end-of-generation token is not in the text');
  } finally {
    await e.dispose();
  }
});
