/**
 * Benchmark child of `npm run bench:grok`: our engine (the job's backend) on the Grok-1 slice, timed per
 * step through the backend itself so the layers can be told apart from the output head:
 *   prefill  the prompt in one feed step (no logits: embedding lookup + layers)
 *   decode   pairs of one-token steps at growing positions: a sampling step (layers + output head + host
 *            sampling) and a feed step (layers only; the CPU backend skips the head when no logits are
 *            asked for), so head = sample − feed and per-layer = feed / n_layer
 * With a GPU budget (job.expertShare: the non-expert part plus that share of the experts), the GPU backend
 * places the rest of the experts in host memory and the expert executor runs them (on the CPU, or uploaded);
 * the result then carries the placement and the expert cache's counters over the decode steps.
 * Prints one GROK_RESULT {json} line on stdout; progress on stderr.
 *   node --import tsx tools/bench/bench-grok-child.ts job.json
 */
import { readFileSync } from 'node:fs';
import { Model } from '../../daemon/engine/model.js';
import type { SamplingParams } from '../../daemon/model/backend.js';
import { offloadReportDelta, type OffloadReport } from '../../daemon/model/offload-stats.js';
import { peakRssBytes, progress, runChild } from './bench-common.js';

export interface GrokChildJob {
  model: string;
  backend: 'cpu' | 'gpu';
  threads: number;
  prompt: number[];
  /** Decode step pairs (a sampling step and a feed step each). */
  decodePairs: number;
  /** GPU backend under a budget: the non-expert part plus this share (0..1) of the experts on the GPU. */
  expertShare?: number;
}

/** Where the weights went under a GPU budget. */
export interface BudgetPlacement {
  budgetBytes: number;
  gpuBytes: number;
  minimumBytes: number;
  expertsOnGpu: number;
  expertsTotal: number;
  hostCacheBytes: number;
}

export interface GrokChildResult {
  engine: string;
  device: string;
  nLayer: number;
  loadMs: number;
  promptTokens: number;
  /** The prompt in one feed step. */
  prefillMs: number;
  /** One-token steps that sample (layers + head), and that only feed (layers; the head too on the GPU backend). */
  sampleMs: number[];
  feedMs: number[];
  /** Whether a feed step skips the output head (CPU backend) so sample − feed is the head's cost. */
  feedSkipsHead: boolean;
  weightBytes: number;
  engineBytes: number;
  peakRssBytes: number;
  placement?: BudgetPlacement;
  /** The expert executor's counters over the decode steps (budgeted GPU runs). */
  offload?: OffloadReport;
}

export const GROK_RESULT_PREFIX = 'GROK_RESULT ';

const GREEDY: SamplingParams = { temperature: 0, topK: 1, topP: 1, seed: 0 };

if (require.main === module) {
  runChild(async () => {
    const file = process.argv[2];
    if (!file) throw new Error('usage: bench-grok-child.ts <job.json>');
    const job = JSON.parse(readFileSync(file, 'utf8')) as GrokChildJob;
    const name = `moecode-${job.backend}`;
    const nCtx = job.prompt.length + 2 * job.decodePairs + 8;
    const t0 = performance.now();
    let shown = -1;
    const model = await Model.load(job.model, {
      nCtx,
      backend: job.backend,
      threads: job.threads,
      expertShare: job.expertShare,
      maxBatch: Math.max(8, job.prompt.length),
      onProgress: (f) => {
        const pct = Math.floor(f * 4) * 25;
        if (pct > shown) progress(name, `loading ${(shown = pct)}%`);
      },
    });
    const loadMs = performance.now() - t0;
    progress(name, `loaded in ${(loadMs / 1000).toFixed(1)} s on ${model.backendInfo.description}`);
    try {
      const b = model.backend;
      const time = async (f: () => Promise<unknown>): Promise<number> => {
        const s = performance.now();
        await f();
        return performance.now() - s;
      };
      // warm-up: first runs of each step shape (page faults, wasm tier-up, shader pipelines); on a software
      // GPU, where a step takes most of a minute, one sampling step
      if (job.backend === 'cpu') await b.feed({ slot: 0, pos: 0, tokens: job.prompt.slice(0, 2) });
      await b.sample({ slot: 0, pos: 2, tokens: [job.prompt[2]!] }, GREEDY, 0);
      if (job.backend === 'cpu') await b.feed({ slot: 0, pos: 3, tokens: [job.prompt[3]!] });
      const P = job.prompt.length;
      const prefillMs = await time(() => b.feed({ slot: 0, pos: 0, tokens: job.prompt }));
      progress(name, `prefill of ${P} tokens: ${(prefillMs / 1000).toFixed(2)} s`);
      const before = model.offload;
      const sampleMs: number[] = [];
      const feedMs: number[] = [];
      let token = job.prompt[P - 1]!;
      let pos = P;
      for (let i = 0; i < job.decodePairs; i++) {
        let next = token;
        sampleMs.push(await time(async () => (next = await b.sample({ slot: 0, pos, tokens: [token] }, GREEDY, pos))));
        feedMs.push(await time(() => b.feed({ slot: 0, pos: pos + 1, tokens: [next] })));
        token = next;
        pos += 2;
        progress(name, `decode pair ${i + 1}/${job.decodePairs}: sample ${sampleMs.at(-1)!.toFixed(0)} ms, feed ${feedMs.at(-1)!.toFixed(0)} ms`);
      }
      const after = model.offload;
      const p = model.memory.placement;
      const result: GrokChildResult = {
        engine: name,
        device: model.backendInfo.description,
        nLayer: model.cfg.n_layer,
        loadMs,
        promptTokens: P,
        prefillMs,
        sampleMs,
        feedMs,
        feedSkipsHead: job.backend === 'cpu',
        weightBytes: model.memory.weights,
        engineBytes: model.memory.total,
        peakRssBytes: peakRssBytes(),
        placement: p && {
          budgetBytes: p.budgetBytes ?? p.gpuBytes,
          gpuBytes: p.gpuBytes,
          minimumBytes: p.minimumBytes,
          expertsOnGpu: p.experts.gpu,
          expertsTotal: p.experts.total,
          hostCacheBytes: p.hostCacheBytes,
        },
        offload: after && before ? offloadReportDelta(after, before) : after,
      };
      process.stdout.write(`${GROK_RESULT_PREFIX}${JSON.stringify(result)}\n`);
    } finally {
      await model.dispose();
    }
  });
}
