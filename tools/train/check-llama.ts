/**
 * Loads an exported GGUF in llama.cpp (node-llama-cpp, CPU) and compares it with reference.json from
 * tools/train/reference.py: tokenization, next-token log-probs after every prompt position, greedy tokens.
 *
 * Usage: npx tsx tools/train/check-llama.ts <model.gguf> <reference.json> [--gen "prompt"]
 */
import { readFile } from 'node:fs/promises';
import type { Token } from 'node-llama-cpp';

export interface ReferenceCase {
  text: string;
  ids: number[];
  top_ids: number[][];
  top_logprobs: number[][];
  greedy: number[];
}

export interface CaseResult {
  text: string;
  tokensMatch: boolean;
  /** max |logprob(llama.cpp) - logprob(torch)| over the reference top-k at every position */
  maxLogprobDiff: number;
  /** fraction of positions where the top-1 token agrees */
  top1Agree: number;
  greedyMatchPrefix: number;
  llamaGreedy: number[];
  llamaText: string;
}

export async function checkAgainstReference(modelPath: string, cases: ReferenceCase[], contextSize = 256): Promise<CaseResult[]> {
  // dynamic import: node-llama-cpp is ESM with top-level await; this package compiles to CommonJS
  const { getLlama } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never' });
  const model = await llama.loadModel({ modelPath });
  const ctx = await model.createContext({
    contextSize, flashAttention: false,
    experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
  });
  const results: CaseResult[] = [];
  try {
    for (const c of cases) {
      const seq = ctx.getSequence();
      const ids = model.tokenize(c.text, false) as number[];
      const tokensMatch = ids.length === c.ids.length && ids.every((t, i) => t === c.ids[i]);
      const out = await seq.controlledEvaluate(
        c.ids.map((t) => [t as Token, { generateNext: { probabilities: true, options: { temperature: 0 } } }]),
      );
      let maxDiff = 0;
      let agree = 0;
      for (let i = 0; i < c.ids.length; i++) {
        const probs = out[i]?.next.probabilities;
        if (!probs) throw new Error(`no probabilities at position ${i}`);
        let best = -1;
        let bestP = -1;
        for (const [t, p] of probs) if (p > bestP) { bestP = p; best = t; }
        if (best === c.top_ids[i]![0]) agree++;
        c.top_ids[i]!.forEach((t, k) => {
          const p = probs.get(t as Token) ?? 0;
          const lp = Math.log(Math.max(p, 1e-30));
          maxDiff = Math.max(maxDiff, Math.abs(lp - c.top_logprobs[i]![k]!));
        });
      }
      await seq.clearHistory();
      const gen: number[] = [];
      for await (const t of seq.evaluate(c.ids as Token[], { temperature: 0 })) {
        gen.push(t);
        if (gen.length >= c.greedy.length) break;
      }
      let prefix = 0;
      while (prefix < gen.length && gen[prefix] === c.greedy[prefix]) prefix++;
      results.push({
        text: c.text, tokensMatch, maxLogprobDiff: maxDiff, top1Agree: agree / c.ids.length,
        greedyMatchPrefix: prefix, llamaGreedy: gen, llamaText: model.detokenize(gen as Token[]),
      });
      seq.dispose();
    }
  } finally {
    await ctx.dispose();
    await model.dispose();
  }
  return results;
}

const isMain = process.argv[1]?.endsWith('check-llama.ts') ?? false;
async function main(): Promise<void> {
  const [modelPath, refPath] = process.argv.slice(2);
  if (!modelPath || !refPath) throw new Error('usage: check-llama.ts <model.gguf> <reference.json>');
  const ref = JSON.parse(await readFile(refPath, 'utf8')) as { cases: ReferenceCase[] };
  const res = await checkAgainstReference(modelPath, ref.cases);
  for (const r of res) {
    console.log(JSON.stringify({ ...r, llamaGreedy: undefined }));
  }
}
if (isMain) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
