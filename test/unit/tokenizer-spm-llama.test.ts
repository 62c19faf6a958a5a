/**
 * SentencePiece (`tokenizer.ggml.model = "llama"`) against llama.cpp itself (node-llama-cpp,
 * vocabulary-only loads): token ids, the BOS/EOS rule, detokenisation with and without special
 * tokens, the streaming decoder, round trips, special ids (end of generation, control attributes,
 * FIM tokens), on generated Llama-2/Mixtral-like and CodeLlama-like vocabularies (tools/modelgen) and
 * on small hand-made vocabularies that each isolate one rule (test/helpers/spm-fixtures.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LlamaModel } from 'node-llama-cpp';
import { buildFimPrompt } from '../../daemon/completion/fim-prompt.js';
import { tokenizerDataFromGguf } from '../../daemon/engine/tokenizer/gguf-adapter.js';
import { StreamDecoder } from '../../daemon/engine/tokenizer/stream-decoder.js';
import { Tokenizer } from '../../daemon/engine/tokenizer/tokenizer.js';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { AWKWARD_TEXTS, handVocabs, spmFuzz, writeSpmVocabGguf } from '../helpers/spm-fixtures.js';

type Llama = Awaited<ReturnType<typeof import('node-llama-cpp')['getLlama']>>;

async function loadLlama(): Promise<Llama | string> {
  try {
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    return await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, logger: () => {} });
  } catch (e) {
    return `node-llama-cpp unavailable: ${e instanceof Error ? e.message : String(e)}`;
  }
}

async function tokenizerOf(path: string): Promise<Tokenizer> {
  const file = await openGguf(path);
  try {
    return Tokenizer.fromData(tokenizerDataFromGguf(file.metadata), { warn: () => {} });
  } finally {
    await file.close();
  }
}

const llamaIds = (model: LlamaModel, text: string, parseSpecial: boolean): number[] => Array.from(model.tokenize(text, parseSpecial) as number[]);
const llamaText = (model: LlamaModel, ids: readonly number[], special: boolean): string => model.detokenize(ids as never, special);

/** Seeded random id sequences over the whole vocabulary, biased to byte and special tokens. */
function randomIdRuns(vocabSize: number, count: number, seed: number): number[][] {
  let s = seed;
  const rnd = (n: number): number => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s % n;
  };
  const out: number[][] = [];
  for (let i = 0; i < count; i++) {
    const run: number[] = [];
    for (let j = 1 + rnd(12); j > 0; j--) run.push(rnd(4) === 0 ? rnd(259) : rnd(vocabSize));
    out.push(run);
  }
  return out;
}

/** Every comparison with llama.cpp for one vocabulary. */
function compareWithLlama(tok: Tokenizer, model: LlamaModel, texts: readonly string[], label: string): void {
  // the model's own BOS/EOS rule and special ids (node-llama-cpp reports BOS/EOS only when they are
  // control tokens, so a vocabulary without token types shows none there)
  if (tok.bosId === undefined || tok.isControl(tok.bosId)) {
    assert.equal(tok.bosId ?? null, model.tokens.bos, `${label}: bos id`);
    assert.equal(tok.addBos, model.tokens.shouldPrependBosToken, `${label}: add_bos`);
    assert.equal(tok.addEos, model.tokens.shouldAppendEosToken, `${label}: add_eos`);
  }
  if (tok.eosId === undefined || tok.isControl(tok.eosId)) assert.equal(tok.eosId ?? null, model.tokens.eos, `${label}: eos id`);

  let hidden = 0;
  while (!tok.isSpecial(hidden)) hidden++; // a control or unknown token, which decodes to nothing
  for (const text of texts) {
    const where = `${label}: ${JSON.stringify(text)}`;
    for (const parseSpecial of [false, true]) {
      const want = llamaIds(model, text, parseSpecial);
      assert.deepEqual(tok.encode(text, { parseSpecial, addBos: false, addEos: false }), want, `${where} parseSpecial=${parseSpecial}`);
      // detokenisation of what was encoded, special tokens shown and hidden
      assert.equal(tok.decode(want), llamaText(model, want, true), `${where}: decode, special shown`);
      assert.equal(tok.decode(want, { skipSpecial: true }), llamaText(model, want, false), `${where}: decode, special hidden`);
      // streaming never drops the leading space; llama.cpp's detokenize keeps it after a hidden token
      const stream = new StreamDecoder(tok);
      const streamed = want.map((id) => stream.push(id)).join('') + stream.flush();
      assert.equal(streamed, llamaText(model, [hidden, ...want], false), `${where}: streamed`);
    }
    // the BOS/EOS rule as the model states it
    const plain = llamaIds(model, text, false);
    const withSpecials = [...(tok.addBos ? [tok.bosId!] : []), ...plain, ...(tok.addEos ? [tok.eosId!] : [])];
    assert.deepEqual(tok.encode(text), withSpecials, `${where}: default BOS/EOS`);
    // round trip: ours gives the text back exactly when llama.cpp's does
    const ours = tok.decode(tok.encode(text, { addBos: false, addEos: false }), { skipSpecial: true });
    assert.equal(ours === text, llamaText(model, plain, false) === text, `${where}: round trip`);
  }
}

function compareSpecialIds(tok: Tokenizer, model: LlamaModel, label: string, skipEog: ReadonlySet<number> = new Set()): void {
  const llamaEog: number[] = [];
  for (let id = 0; id < tok.vocabSize; id++) if (model.isEogToken(id as never) && !skipEog.has(id)) llamaEog.push(id);
  assert.deepEqual([...tok.eogIds].filter((id) => !skipEog.has(id)).sort((a, b) => a - b), llamaEog, `${label}: end-of-generation ids`);
  for (let id = 0; id < tok.vocabSize; id++) {
    if (skipEog.has(id)) continue;
    assert.equal(tok.isControl(id), model.getTokenAttributes(id as never).control, `${label}: control attribute of ${id} ${tok.tokenText(id)}`);
  }
  const infill = model.tokens.infill;
  assert.deepEqual([tok.fim.prefix ?? null, tok.fim.suffix ?? null, tok.fim.middle ?? null], [infill.prefix, infill.suffix, infill.middle], `${label}: FIM ids`);
}

describe('SentencePiece tokenizer equals llama.cpp', () => {
  let llama: Llama | string = 'not loaded';
  let dir = '';

  before(async () => {
    llama = await loadLlama();
    dir = mkdtempSync(join(tmpdir(), 'moecode-spm-'));
  });
  after(async () => {
    if (typeof llama !== 'string') await llama.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const texts = [...AWKWARD_TEXTS, ...spmFuzz(250, 11)];

  for (const style of ['llama', 'codellama'] as const) {
    test(`generated ${style} vocabulary (tools/modelgen)`, async (t) => {
      if (typeof llama === 'string') return t.skip(llama);
      const path = await ensureModel({ arch: 'llama', tokenizer: style });
      const tok = await tokenizerOf(path);
      assert.equal(tok.type, 'spm');
      const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
      try {
        compareWithLlama(tok, model, texts, style);
        compareSpecialIds(tok, model, style);
        // random id runs: byte tokens that form no character, control tokens anywhere
        for (const ids of randomIdRuns(tok.vocabSize, 300, 5)) {
          assert.equal(tok.decode(ids), llamaText(model, ids, true), `decode ${ids}`);
          assert.equal(tok.decode(ids, { skipSpecial: true }), llamaText(model, ids, false), `decode (special hidden) ${ids}`);
        }
      } finally {
        await model.dispose();
      }
    });
  }

  for (const v of handVocabs()) {
    test(`hand-made vocabulary "${v.name}"`, async (t) => {
      if (typeof llama === 'string') return t.skip(llama);
      const path = join(dir, `${v.name}.gguf`);
      await writeSpmVocabGguf(path, v);
      const tok = await tokenizerOf(path);
      const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
      try {
        compareWithLlama(tok, model, [...v.texts, ...AWKWARD_TEXTS, ...spmFuzz(60, 3)], v.name);
        // "▁<EOT>" ends generation here and not in llama.cpp (see special-tokens.ts); all else must agree
        const eot = tok.tokenId('\u2581<EOT>');
        compareSpecialIds(tok, model, v.name, new Set(eot === undefined ? [] : [eot]));
        for (const ids of randomIdRuns(tok.vocabSize, 100, 9).map((run) => run.filter((id) => id !== eot))) {
          assert.equal(tok.decode(ids), llamaText(model, ids, true), `decode ${ids}`);
          assert.equal(tok.decode(ids, { skipSpecial: true }), llamaText(model, ids, false), `decode (special hidden) ${ids}`);
        }
      } finally {
        await model.dispose();
      }
    });
  }

  test('an older CodeLlama file without FIM keys: FIM tokens found by text, "▁<EOT>" ends generation', async (t) => {
    if (typeof llama === 'string') return t.skip(llama);
    const v = handVocabs().find((x) => x.name === 'codellama-by-text')!;
    const path = join(dir, 'codellama-eot.gguf');
    await writeSpmVocabGguf(path, v);
    const tok = await tokenizerOf(path);
    const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
    try {
      const id = (text: string) => tok.tokenId(text)!;
      assert.deepEqual([tok.fim.prefix, tok.fim.suffix, tok.fim.middle], [id('▁<PRE>'), id('▁<SUF>'), id('▁<MID>')]);
      assert.equal(tok.eotId, id('▁<EOT>'));
      assert.ok(tok.isEog(id('▁<EOT>')) && tok.isControl(id('▁<EOT>')));
      // the one deliberate difference from llama.cpp, which finds no end-of-turn token here
      assert.equal(model.isEogToken(id('▁<EOT>') as never), false);
    } finally {
      await model.dispose();
    }
  });

  test('FIM prompt of a CodeLlama-like model: [BOS] ▁<PRE> prefix ▁<SUF> suffix ▁<MID> with llama.cpp\'s ids', async (t) => {
    if (typeof llama === 'string') return t.skip(llama);
    const path = await ensureModel({ arch: 'llama', tokenizer: 'codellama' });
    const tok = await tokenizerOf(path);
    const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
    try {
      const prefix = 'def add(a, b):\n    ';
      const suffix = '\n\nprint(add(1, 2))\n';
      const p = buildFimPrompt(tok, prefix, suffix, { budget: 512 });
      assert.equal(p.mode, 'fim');
      const infill = model.tokens.infill;
      // llama.cpp's server builds the same: prefix and suffix tokenized without specials, each with its space prefix
      const want = [model.tokens.bos!, infill.prefix!, ...llamaIds(model, prefix, false), infill.suffix!, ...llamaIds(model, suffix, false), infill.middle!];
      assert.deepEqual(p.ids, want);
      assert.equal(tok.tokenText(p.ids[1]!), '▁<PRE>');
      assert.ok(tok.eotId !== undefined && tok.isEog(tok.eotId), '▁<EOT> ends an infill');
    } finally {
      await model.dispose();
    }
  });
});
