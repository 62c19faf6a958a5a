/**
 * Benchmark child: llama.cpp (node-llama-cpp, CPU) on the same model and prompt. llama.cpp's defaults
 * (mmap, F16 KV cache), each prompt in one batch, greedy decoding; prints one BENCH_RESULT line.
 *   node --import tsx tools/bench/bench-llama.ts job.json
 */
import type { Token } from 'node-llama-cpp';
import { peakRssBytes, progress, readJob, report, runChild, runResult, type RunResult } from './bench-common.js';

const NAME = 'llama.cpp';

runChild(async () => {
  const job = readJob();
  const longest = Math.max(...job.workloads.map((w) => w.promptTokens + w.decodeTokens));
  // node-llama-cpp is ESM with top-level await: import it dynamically from this CommonJS-compiled file.
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  const t0 = performance.now();
  const model = await llama.loadModel({ modelPath: job.model, gpuLayers: 0 });
  const ctx = await model.createContext({
    contextSize: longest + 16,
    batchSize: Math.max(512, ...job.workloads.map((w) => w.promptTokens)),
    threads: job.threads,
  });
  const loadMs = performance.now() - t0;
  const device = `CPU, ${job.threads} threads`;
  progress(NAME, `loaded in ${(loadMs / 1000).toFixed(1)} s (${device})`);
  const seq = ctx.getSequence();
  try {
    const prompt = job.prompt as Token[];
    // Warm-up, as for our engine.
    const warm = seq.evaluate(prompt.slice(0, 4), { temperature: 0 });
    await warm.next();
    await warm.next();
    await warm.return();
    const runs: RunResult[] = [];
    for (const wl of job.workloads) {
      await seq.clearHistory();
      progress(NAME, `prefill of ${wl.promptTokens} tokens`);
      const tp = performance.now();
      const it = seq.evaluate(prompt.slice(0, wl.promptTokens), { temperature: 0 });
      const first = await it.next();
      const ttftMs = performance.now() - tp;
      if (first.done) throw new Error('llama.cpp generated nothing');
      progress(NAME, `prefill ${(wl.promptTokens / (ttftMs / 1000)).toFixed(1)} tok/s; decoding ${wl.decodeTokens} tokens`);
      const td = performance.now();
      for (let i = 1; i <= wl.decodeTokens; i++) {
        const r = await it.next();
        if (r.done) throw new Error(`llama.cpp stopped after ${i} tokens`);
      }
      const decodeMs = performance.now() - td;
      await it.return();
      runs.push(runResult(wl, ttftMs, decodeMs));
    }
    report({ engine: NAME, device, loadMs, runs, peakRssBytes: peakRssBytes() });
  } finally {
    seq.dispose();
    await ctx.dispose();
    await model.dispose();
    await llama.dispose();
  }
});
