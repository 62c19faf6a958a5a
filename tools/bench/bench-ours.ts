/**
 * Benchmark child: this engine (the job's backend: CPU or WebGPU) on one model. Load, a short warm-up, then for each workload the
 * prompt in one prefill (chunked by the engine's default batch) and greedy decoding; prints one
 * BENCH_RESULT line.
 *   node --import tsx tools/bench/bench-ours.ts job.json
 */
import { Model } from '../../daemon/engine/model.js';
import { Session } from '../../daemon/engine/session.js';
import type { SamplingParams } from '../../daemon/model/backend.js';
import { peakRssBytes, progress, readJob, report, runChild, runResult, type RunResult } from './bench-common.js';

const GREEDY: SamplingParams = { temperature: 0, topK: 1, topP: 1, seed: 0 };

runChild(async () => {
  const job = readJob();
  const NAME = `moecode-${job.backend ?? 'gpu'}`;
  const nCtx = Math.max(...job.workloads.map((w) => w.promptTokens + w.decodeTokens)) + 16;
  const t0 = performance.now();
  let shown = -1;
  const model = await Model.load(job.model, {
    nCtx,
    backend: job.backend ?? 'gpu',
    threads: job.threads,
    onProgress: (f) => {
      const pct = Math.floor(f * 4) * 25;
      if (pct > shown) progress(NAME, `loading ${(shown = pct)}%`);
    },
  });
  const loadMs = performance.now() - t0;
  const device = model.backendInfo.description;
  progress(NAME, `loaded in ${(loadMs / 1000).toFixed(1)} s on ${device}`);
  try {
    const session = new Session(model, 0);
    // Warm-up: the first dispatches of each pipeline are slower (driver-side compilation and caches).
    const w = await session.prefill(job.prompt.slice(0, 4), GREEDY);
    await session.decode(w.token, GREEDY);
    const runs: RunResult[] = [];
    for (const wl of job.workloads) {
      session.reset();
      progress(NAME, `prefill of ${wl.promptTokens} tokens`);
      const tp = performance.now();
      let { token } = await session.prefill(job.prompt.slice(0, wl.promptTokens), GREEDY);
      const ttftMs = performance.now() - tp;
      progress(NAME, `prefill ${(wl.promptTokens / (ttftMs / 1000)).toFixed(2)} tok/s (${(ttftMs / 1000).toFixed(1)} s); decoding ${wl.decodeTokens} tokens`);
      const td = performance.now();
      for (let i = 1; i <= wl.decodeTokens; i++) {
        token = await session.decode(token, GREEDY);
        if (i % 4 === 0 || i === wl.decodeTokens) progress(NAME, `decode ${i}/${wl.decodeTokens}, ${(i / ((performance.now() - td) / 1000)).toFixed(2)} tok/s`);
      }
      runs.push(runResult(wl, ttftMs, performance.now() - td));
    }
    report({ engine: NAME, device, loadMs, runs, peakRssBytes: peakRssBytes() });
  } finally {
    await model.dispose();
  }
});
