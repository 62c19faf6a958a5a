/**
 * A rank of the CPU expert service (a worker thread): computes its share of routed experts for the GPU
 * backend's expert executor. Like the CPU backend's ranks it holds a slice of each expert's width
 * (partition.ts ffRange: gate and up by rows, down by columns, in whole blocks of down's type), so every
 * rank does equal work and the main thread adds the ranks' partial outputs. Experts live in host cache
 * slots in the rank's own WebAssembly memory, read from the GGUF with pread when a job asks (never all
 * at once: the cache is as large as the host budget allows).
 *
 * Per task: the input rows of its tokens are converted to the activation format of gate/up (as the CPU
 * backend and ggml do), gate and up matmuls, GLU, conversion for down, down matmul into the output rows.
 */
import { requireFormat, rowBytes } from '../formats/table.js';
import type { ActivationFormat } from '../formats/format.js';
import { geluF16Table } from '../model/gelu-table.js';
import { Arena } from './arena.js';
import { Cmd, Ctl, signalDone, waitForChange } from './control.js';
import { Job, Task, TASK_WORDS, type ExpertRankInit, type ExpertRankMessage } from './expert-job.js';
import type { ExpertWeights, WeightHandle } from '../model/weights.js';
import { ffRange, rangeLen, type Range, type WeightSlice } from './partition.js';
import { FileSet, readSlice } from './slice-reader.js';
import { activationRowBytes, convertRow, heapBase, instantiateKernels, type KernelExports } from './wasm-kernels.js';

const F32 = 4;

type Matmul = (w: number, x: number, y: number, nrows: number, ncols: number, ntok: number, ystride: number) => void;

/** What a rank knows of one layer's experts: its slice of the width, bytes of each part, kernels. */
interface LayerPlan {
  spec: ExpertWeights;
  ff: Range;
  gate: { slice: WeightSlice; bytes: number; kernel: Matmul; act: ActivationFormat };
  up: { slice: WeightSlice; bytes: number; kernel: Matmul; act: ActivationFormat };
  down: { slice: WeightSlice; bytes: number; kernel: Matmul; act: ActivationFormat };
}

function kernelOf(k: KernelExports, type: number, name: string): Matmul {
  const f = requireFormat(type, name);
  const fn = f.cpu ? k[`matmul_${f.cpu}`] : undefined;
  if (!fn) throw new Error(`${name}: the CPU backend has no kernel for type ${f.name}`);
  return fn;
}

/** A layer's slabs must share type and shape: one slot layout serves every expert. */
function checkUniform(e: ExpertWeights): void {
  for (const list of [e.gate, e.up, e.down]) {
    const h0 = list[0]!;
    for (const h of list) if (h.type !== h0.type || h.rows !== h0.rows || h.cols !== h0.cols) throw new Error(`${h.name}: experts of one layer differ in type or shape`);
  }
}

function planLayer(k: KernelExports, spec: ExpertWeights, nEmbd: number, nRanks: number, rank: number): LayerPlan {
  checkUniform(spec);
  const down = spec.down[0]!;
  const ff = ffRange(down.cols, requireFormat(down.type, down.name).blockSize, nRanks, rank);
  const part = (h: WeightHandle, slice: WeightSlice) => {
    const f = requireFormat(h.type, h.name);
    return { slice, bytes: rangeLen(slice.rows) * (rangeLen(slice.cols) / f.blockSize) * f.typeSize, kernel: kernelOf(k, h.type, h.name), act: f.activation };
  };
  const all = (n: number): Range => ({ start: 0, end: n });
  if (spec.gate[0]!.cols !== nEmbd || down.rows !== nEmbd) throw new Error(`${down.tensor}: expert shapes do not match n_embd ${nEmbd}`);
  return {
    spec,
    ff,
    gate: part(spec.gate[0]!, { rows: ff, cols: all(nEmbd) }),
    up: part(spec.up[0]!, { rows: ff, cols: all(nEmbd) }),
    down: part(down, { rows: all(nEmbd), cols: ff }),
  };
}

export function runExpertRank(init: ExpertRankInit, post: (m: ExpertRankMessage) => void): void {
  const { rank, control: c, memory, layout } = init;
  const k = instantiateKernels(init.module, memory);
  const arena = new Arena(memory, heapBase(k));
  const nEmbd = init.cfg.n_embd;
  const layers = init.layers.map((s) => (s ? planLayer(k, s, nEmbd, init.nRanks, rank) : null));
  const plans = layers.filter((l): l is LayerPlan => l !== null);
  const maxFl = Math.max(1, ...plans.map((l) => rangeLen(l.ff)));
  const slotBytes = rankSlotBytes(init.layers, nEmbd, init.nRanks, rank);
  const maxRows = layout.maxRows;
  const inRow = Math.max(...plans.flatMap((l) => [activationRowBytes(l.gate.act, nEmbd), activationRowBytes(l.up.act, nEmbd)]), 4);
  const hRow = Math.max(...plans.map((l) => activationRowBytes(l.down.act, rangeLen(l.ff)) || 4), 4);
  const xPtr = arena.alloc(init.maxX * nEmbd * F32, 64, 'expert x');
  const outPtr = arena.alloc(maxRows * nEmbd * F32, 64, 'expert out');
  const xg = arena.alloc(maxRows * inRow, 64, 'expert x (gate format)');
  const xu = arena.alloc(maxRows * inRow, 64, 'expert x (up format)');
  const gBuf = arena.alloc(maxRows * maxFl * F32, 64, 'expert gate');
  const uBuf = arena.alloc(maxRows * maxFl * F32, 64, 'expert up');
  const hq = arena.alloc(maxRows * hRow, 64, 'expert hidden (down format)');
  const table = init.cfg.ffn_act === 'gelu' ? arena.alloc(geluF16Table().byteLength, 64, 'gelu table') : 0;
  if (table) new Uint32Array(memory.buffer, table, geluF16Table().length).set(geluF16Table());
  const slots = arena.alloc(init.hostSlots * slotBytes, 64, 'host expert cache');
  const files = new FileSet();
  post({ kind: 'ready', rank, xPtr, outPtr, bytes: arena.used });

  const u8 = () => new Uint8Array(memory.buffer);
  /** Where the parts of the expert in `slot` live, for layer plan `l`. */
  const partsAt = (l: LayerPlan, slot: number) => {
    const base = slots + slot * slotBytes;
    const gate = base;
    const up = gate + Math.ceil(l.gate.bytes / 64) * 64;
    const down = up + Math.ceil(l.up.bytes / 64) * 64;
    return { gate, up, down };
  };
  const load = (l: LayerPlan, expert: number, slot: number) => {
    const at = partsAt(l, slot);
    for (const [p, h, ptr] of [
      [l.gate, l.spec.gate[expert], at.gate],
      [l.up, l.spec.up[expert], at.up],
      [l.down, l.spec.down[expert], at.down],
    ] as const) {
      if (!h) throw new Error(`expert ${expert} does not exist`);
      const loc = init.tensors[h.tensor];
      if (!loc) throw new Error(`tensor ${h.tensor} has no location`);
      readSlice(files, loc, h, p.slice, u8().subarray(ptr, ptr + p.bytes));
    }
  };
  const convert = (f: ActivationFormat, src: number, dst: number, n: number) => {
    if (f === 'f32') u8().copyWithin(dst, src, src + n * F32);
    else convertRow(k, f, src, dst, n);
  };

  let seq = 0;
  try {
    for (;;) {
      seq = waitForChange(c, Ctl.STEP_SEQ, seq);
      if (Atomics.load(c, Ctl.ABORT) || Atomics.load(c, Ctl.CMD) === Cmd.EXIT) return;
      const nTasks = c[Job.N_TASKS]!;
      for (let i = 0; i < nTasks; i++) {
        const t = Job.TASKS + i * TASK_WORDS;
        const l = layers[c[t + Task.LAYER]!];
        if (!l) throw new Error(`job task for layer ${c[t + Task.LAYER]}, which has no host experts`);
        const slot = c[t + Task.SLOT]!;
        if (slot < 0 || slot >= init.hostSlots) throw new Error(`host cache slot ${slot} out of range`);
        if (c[t + Task.LOAD]) load(l, c[t + Task.EXPERT]!, slot);
        const r0 = c[t + Task.ROW_START]!;
        const cnt = c[t + Task.ROW_COUNT]!;
        const fl = rangeLen(l.ff);
        const out = outPtr + r0 * nEmbd * F32;
        if (fl === 0 || cnt === 0) {
          new Float32Array(memory.buffer, out, cnt * nEmbd).fill(0);
          continue;
        }
        const at = partsAt(l, slot);
        const gRow = activationRowBytes(l.gate.act, nEmbd);
        const uRow = activationRowBytes(l.up.act, nEmbd);
        for (let r = 0; r < cnt; r++) {
          const src = xPtr + c[layout.rows + r0 + r]! * nEmbd * F32;
          convert(l.gate.act, src, xg + r * gRow, nEmbd);
          if (l.up.act !== l.gate.act) convert(l.up.act, src, xu + r * uRow, nEmbd);
        }
        const xUp = l.up.act === l.gate.act ? xg : xu;
        l.gate.kernel(at.gate, xg, gBuf, fl, nEmbd, cnt, fl);
        l.up.kernel(at.up, xUp, uBuf, fl, nEmbd, cnt, fl);
        if (table) k.glu_gelu(gBuf, uBuf, cnt * fl, table);
        else k.glu_silu(gBuf, uBuf, cnt * fl);
        let h = gBuf;
        if (l.down.act !== 'f32') {
          const dRow = activationRowBytes(l.down.act, fl);
          for (let r = 0; r < cnt; r++) convertRow(k, l.down.act, gBuf + r * fl * F32, hq + r * dRow, fl);
          h = hq;
        }
        l.down.kernel(at.down, h, out, nEmbd, fl, cnt, nEmbd);
      }
      signalDone(c, init.nRanks);
    }
  } finally {
    files.close();
  }
}

/** Bytes one host cache slot takes on a rank (the largest layer's slices), as runExpertRank lays it out. */
export function rankSlotBytes(layers: (ExpertWeights | null)[], nEmbd: number, nRanks: number, rank: number): number {
  let most = 64;
  for (const s of layers) {
    if (!s) continue;
    const down = s.down[0]!;
    const fl = rangeLen(ffRange(down.cols, requireFormat(down.type, down.name).blockSize, nRanks, rank));
    const part = (h: WeightHandle, rows: number, cols: number) => Math.ceil((rows * (cols === 0 ? 0 : rowBytes(requireFormat(h.type, h.name), cols))) / 64) * 64;
    most = Math.max(most, part(s.gate[0]!, fl, nEmbd) + part(s.up[0]!, fl, nEmbd) + part(down, nEmbd, fl));
  }
  return most;
}
