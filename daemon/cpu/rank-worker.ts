/**
 * A rank of the CPU backend (a worker thread): instantiates the kernels over its own memory, loads its
 * share of the weights, records the architecture's forward pass (cpu-graph.ts), then runs a step each
 * time the main thread posts one, meeting the other ranks at collectives.
 */
import { parentPort } from 'node:worker_threads';
import { ARCHITECTURES } from '../model/architectures.js';
import { Arena } from './arena.js';
import { Barrier, Cmd, Ctl, abortAll, signalDone, waitForChange } from './control.js';
import { allocateExchange, CpuGraph, type StepState } from './cpu-graph.js';
import type { RankInit, RankMessage } from './rank-messages.js';
import type { ExpertRankInit } from './expert-job.js';
import { runExpertRank } from './expert-rank.js';
import { loadShard } from './shard-loader.js';
import { heapBase, instantiateKernels } from './wasm-kernels.js';

function post(m: RankMessage): void {
  parentPort!.postMessage(m);
}

function run(init: RankInit): void {
  const { rank, control: c } = init;
  const memory = init.memories[rank]!;
  const k = instantiateKernels(init.module, memory);
  const arena = new Arena(memory, heapBase(k));
  const exchange = allocateExchange(arena, init.maxBatch, init.cfg);
  let lastSent = -1;
  const shard = loadShard(memory, arena, init.cfg, init.weights, init.plan, rank, init.tensors, (fraction) => {
    const pct = Math.floor(fraction * 50);
    if (pct !== lastSent) post({ kind: 'progress', rank, fraction: (lastSent = pct) / 50 });
  }, () => Atomics.load(c, Ctl.ABORT) !== 0);
  const n = init.plan.nRanks;
  const barrier = new Barrier(c, n, init.spin);
  const graph = new CpuGraph(k, arena, init.memories, barrier, shard.matrices, shard.vectors, {
    rank,
    plan: init.plan,
    cfg: init.cfg,
    nCtx: init.nCtx,
    nSlots: init.nSlots,
    maxBatch: init.maxBatch,
    maxLogitRows: init.maxLogitRows,
    kvF16: init.kvF16,
  }, exchange);
  ARCHITECTURES[init.cfg.arch](graph, init.cfg, init.weights);
  graph.finalize();
  const out = graph.logitsOutput;
  post({ kind: 'ready', rank, logitsPtr: out.ptr, logitsCols: out.cols, bytes: arena.used });

  const program = graph.program;
  const tokens = c.subarray(Ctl.TOKENS);
  let seq = 0; // no step can be posted before every rank is ready: the first one bumps STEP_SEQ to 1
  for (;;) {
    seq = waitForChange(c, Ctl.STEP_SEQ, seq);
    if (Atomics.load(c, Ctl.ABORT) || Atomics.load(c, Ctl.CMD) === Cmd.EXIT) return;
    const nTok = c[Ctl.N_TOKENS]!;
    const mode = c[Ctl.LOGITS]!;
    const s: StepState = {
      n: nTok,
      pos: c[Ctl.POS]!,
      slot: c[Ctl.SLOT]!,
      logitsStart: mode === 1 ? nTok - 1 : 0,
      nLogits: mode === 0 ? 0 : mode === 1 ? 1 : nTok,
      tokens,
    };
    for (const op of program) op(s);
    signalDone(c, n);
  }
}

parentPort!.once('message', (init: RankInit | ExpertRankInit) => {
  try {
    // the same worker serves the CPU backend and the GPU backend's CPU expert service (expert-rank.ts)
    if ('kind' in init && init.kind === 'experts') runExpertRank(init, (m) => parentPort!.postMessage(m));
    else run(init as RankInit);
  } catch (e) {
    const err = e as Error;
    if (err.name !== 'AbortedError' && err.name !== 'LoadCancelledError') post({ kind: 'error', rank: init.rank, message: err.message, stack: err.stack });
    abortAll(init.control);
  }
});
