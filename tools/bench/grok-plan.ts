/**
 * Grok-1's memory plan and a bandwidth model of its decode speed, for `npm run bench:grok`.
 *
 * The plan is the generator's own tensor list for the grok1-slice preset at all 64 layers with the output
 * tied to the embedding, as Grok-1 has it (tools/modelgen: planTensors), classed as the engine classes
 * tensors (daemon/model/memory-plan.ts: tensorClass). Decode reads, per token: every layer's attention,
 * router and norms, n_expert_used of its n_expert experts, the output head (one n_vocab × n_embd matrix),
 * one embedding row, and the KV cache up to the current position. Each byte is read once from wherever it
 * lives; a step's time is the sum over tiers of bytes / bandwidth (no overlap between tiers, no compute
 * limit), so the tok/s figures are upper bounds at the stated bandwidths.
 */
import { ggmlByteSize } from '../../daemon/gguf/ggml-types.js';
import { tensorClass } from '../../daemon/model/memory-plan.js';
import { planTensors } from '../modelgen/generate-model.js';
import { GROK1, resolveSpec, type ModelSpec } from '../modelgen/model-spec.js';

export type SliceType = 'Q4_0' | 'Q8_0';

export const GB = 1e9;
export const GiB = 2 ** 30;

export interface GrokPlan {
  spec: ModelSpec;
  /** Bytes by the engine's tensor classes (attention, experts, router, norms, embeddings, output). */
  byClass: Record<string, number>;
  total: number;
  /** Everything but the experts: what a placement keeps on the GPU first. */
  nonExpert: number;
  experts: number;
  /** One expert of one layer (its gate, up and down slices). */
  expertBytes: number;
  /** Attention, router and norms of all layers (read whole every token). */
  denseLayerBytes: number;
  /** The output matrix the head reads every token (the embedding, when tied). */
  headBytes: number;
  /** One embedding row (read per token). */
  embedRowBytes: number;
  /** K and V of one token over all layers, f16 (llama.cpp's and the CPU backend's default cache type). */
  kvBytesPerToken: number;
}

/** The plan of the grok1-slice spec of `type` at `nLayer` layers (64: Grok-1); `tied`: no output.weight. */
export function grokPlan(type: SliceType, nLayer: number = GROK1.n_layer, tied = true): GrokPlan {
  const spec = resolveSpec({ arch: 'grok', preset: 'grok1-slice', weightType: type, n_layer: nLayer, tied_output: tied });
  const byClass: Record<string, number> = {};
  let embedRowBytes = 0;
  let headBytes = 0;
  let expertBytes = 0;
  for (const t of planTensors(spec)) {
    const bytes = ggmlByteSize(t.type, t.dims.reduce((a, b) => a * b, 1));
    const c = tensorClass(t.name);
    byClass[c] = (byClass[c] ?? 0) + bytes;
    if (t.name === 'token_embd.weight') {
      embedRowBytes = bytes / t.dims[1]!;
      if (tied) headBytes = bytes;
    }
    if (t.name === 'output.weight') headBytes = bytes;
    if (t.name.startsWith('blk.0.') && c === 'experts') expertBytes += bytes / t.dims[2]!;
  }
  const total = Object.values(byClass).reduce((a, b) => a + b, 0);
  const experts = byClass.experts ?? 0;
  const denseLayerBytes = (byClass.attention ?? 0) + (byClass.router ?? 0) + (byClass.norms ?? 0) - spec.n_embd * 4; // less output_norm
  return {
    spec,
    byClass,
    total,
    nonExpert: total - experts,
    experts,
    expertBytes,
    denseLayerBytes,
    headBytes,
    embedRowBytes,
    kvBytesPerToken: nLayer * 2 * spec.n_head_kv * spec.head_dim * 2,
  };
}

/** Bytes a decode step reads at context position `ctx`: weights (by kind) and KV cache. */
export interface ActiveBytes {
  dense: number;
  experts: number;
  head: number;
  kv: number;
  total: number;
}

export function activeBytesPerToken(p: GrokPlan, ctx: number): ActiveBytes {
  const dense = p.denseLayerBytes + p.embedRowBytes + p.spec.n_embd * 4; // + output_norm
  const experts = p.spec.n_layer * p.spec.n_expert_used * p.expertBytes;
  const head = p.headBytes;
  const kv = p.kvBytesPerToken * ctx;
  return { dense, experts, head, kv, total: dense + experts + head + kv };
}

/** A machine, in the figures the model uses (bytes and bytes per second). */
export interface HardwareProfile {
  name: string;
  gpus: number;
  /** Per GPU. */
  gpuMemory: number;
  gpuBandwidth: number;
  /** Kept free on each GPU (runtime, activations, fragmentation). */
  gpuReserve: number;
  hostMemory: number;
  /** Kept free in host memory (OS, the engine, other programs). */
  hostReserve: number;
  /** What the CPU reads from host memory while computing experts there. */
  hostBandwidth: number;
  /** Host → GPU link, per GPU. */
  linkBandwidth: number;
  /** Reads of experts that fit in neither GPU nor host memory. */
  diskBandwidth: number;
  /** Multi-GPU: latency of one small all-reduce (two per layer: after attention and after the MoE). */
  allReduceLatency: number;
  /** Where each figure comes from, printed with the results. */
  assumptions: string[];
}

export interface DecodeEstimate {
  /** Fractions of the expert bytes resident on the GPUs, in host memory, on disk. */
  expertsOnGpu: number;
  expertsInHost: number;
  expertsOnDisk: number;
  /** Fraction of selected experts found on a GPU (uniform routing: the resident fraction). */
  gpuHitRate: number;
  /** Host experts: computed on the CPU, or uploaded over the link (whichever is faster per byte). */
  hostExpertPath: 'cpu' | 'upload' | 'none';
  /** Seconds per token by tier. */
  seconds: { gpu: number; host: number; disk: number; sync: number };
  secondsPerToken: number;
  tokensPerSecond: number;
  /** Why the non-expert weights do not fit (then the other fields are 0). */
  doesNotFit?: string;
}

/**
 * Decode speed of `plan` at context `ctx` on `hw`: the non-expert weights and the KV cache are placed on
 * the GPUs (in host memory when there is none), then as many experts as fit, then host memory, then disk.
 * Routing is taken as uniform, so the share of selected experts found in a tier is its share of the experts.
 */
export function estimateDecode(plan: GrokPlan, ctx: number, hw: HardwareProfile): DecodeEstimate {
  const a = activeBytesPerToken(plan, ctx);
  const kvBytes = plan.kvBytesPerToken * ctx;
  const pinned = plan.nonExpert + kvBytes;
  const hostFree = Math.max(0, hw.hostMemory - hw.hostReserve);
  let expertsOnGpu = 0;
  let fastBw: number;
  let pinnedWhere: number;
  if (hw.gpus > 0) {
    const gpuFree = hw.gpus * Math.max(0, hw.gpuMemory - hw.gpuReserve);
    if (pinned > gpuFree) return notFit(`the non-expert weights and KV cache (${(pinned / GB).toFixed(1)} GB) exceed the GPU memory (${(gpuFree / GB).toFixed(1)} GB)`);
    expertsOnGpu = Math.min(1, (gpuFree - pinned) / plan.experts);
    fastBw = hw.gpus * hw.gpuBandwidth;
    pinnedWhere = 0;
  } else {
    if (pinned > hostFree) return notFit(`the non-expert weights and KV cache (${(pinned / GB).toFixed(1)} GB) exceed the usable host memory (${(hostFree / GB).toFixed(1)} GB)`);
    fastBw = hw.hostBandwidth;
    pinnedWhere = pinned;
  }
  const hostForExperts = Math.max(0, hostFree - pinnedWhere);
  const expertsInHost = hw.gpus > 0 ? Math.min(1 - expertsOnGpu, hostForExperts / plan.experts) : 0;
  // without a GPU, host memory is the fast tier: the experts that fit there count as "on the fast tier"
  const cpuOnlyResident = hw.gpus > 0 ? 0 : Math.min(1, hostForExperts / plan.experts);
  const fastShare = hw.gpus > 0 ? expertsOnGpu : cpuOnlyResident;
  const expertsOnDisk = Math.max(0, 1 - fastShare - expertsInHost);
  const hostPerByte = Math.min(1 / hw.hostBandwidth, hw.gpus > 0 ? 1 / hw.linkBandwidth : Infinity);
  const hostExpertPath = expertsInHost === 0 ? 'none' : 1 / hw.hostBandwidth <= 1 / hw.linkBandwidth ? 'cpu' : 'upload';
  const seconds = {
    gpu: (a.dense + a.head + a.kv + fastShare * a.experts) / fastBw,
    host: expertsInHost * a.experts * hostPerByte,
    disk: (expertsOnDisk * a.experts) / hw.diskBandwidth,
    sync: hw.gpus > 1 ? 2 * plan.spec.n_layer * hw.allReduceLatency : 0,
  };
  const secondsPerToken = seconds.gpu + seconds.host + seconds.disk + seconds.sync;
  return {
    expertsOnGpu,
    expertsInHost: hw.gpus > 0 ? expertsInHost : cpuOnlyResident,
    expertsOnDisk,
    gpuHitRate: expertsOnGpu,
    hostExpertPath,
    seconds,
    secondsPerToken,
    tokensPerSecond: 1 / secondsPerToken,
  };
}

function notFit(why: string): DecodeEstimate {
  return {
    expertsOnGpu: 0,
    expertsInHost: 0,
    expertsOnDisk: 0,
    gpuHitRate: 0,
    hostExpertPath: 'none',
    seconds: { gpu: 0, host: 0, disk: 0, sync: 0 },
    secondsPerToken: Infinity,
    tokensPerSecond: 0,
    doesNotFit: why,
  };
}

/** The two stated profiles besides this machine (figures: vendor specifications, see assumptions). */
export const STATED_PROFILES: readonly HardwareProfile[] = [
  {
    name: 'one 24 GB GPU + 192 GB RAM',
    gpus: 1,
    gpuMemory: 24 * GB,
    gpuBandwidth: 1008 * GB,
    gpuReserve: 1.5 * GiB,
    hostMemory: 192 * GB,
    hostReserve: 16 * GiB,
    hostBandwidth: 70 * GB,
    linkBandwidth: 25 * GB,
    diskBandwidth: 7 * GB,
    allReduceLatency: 0,
    assumptions: [
      'GPU: RTX 4090 class, 24 GB GDDR6X at 1008 GB/s (spec), 1.5 GiB kept for the runtime and activations',
      'host: dual-channel DDR5-5600 (89.6 GB/s peak), 70 GB/s read by the CPU computing host-resident experts; 16 GiB kept for the OS',
      'link: PCIe 4.0 x16, 25 GB/s effective (32 GB/s peak): slower than computing a host expert on the CPU, so decode does not upload',
      'disk: PCIe 4.0 NVMe, 7 GB/s sequential reads, for experts that fit in neither',
    ],
  },
  {
    name: 'eight 80 GB GPUs',
    gpus: 8,
    gpuMemory: 80 * GB,
    gpuBandwidth: 3350 * GB,
    gpuReserve: 4 * GiB,
    hostMemory: 1024 * GB,
    hostReserve: 64 * GiB,
    hostBandwidth: 200 * GB,
    linkBandwidth: 50 * GB,
    diskBandwidth: 10 * GB,
    allReduceLatency: 10e-6,
    assumptions: [
      'GPUs: 8 x H100 SXM, 80 GB HBM3 at 3.35 TB/s each (spec), 4 GiB each kept for the runtime; the whole model fits',
      'split: attention heads and experts spread over the 8 GPUs so each reads 1/8 of the active bytes (aggregate 26.8 TB/s)',
      'interconnect: NVLink 4 (900 GB/s per GPU); two all-reduces of one token (12 KB) per layer at 10 us each',
    ],
  },
];

/**
 * This machine as a profile: no GPU (WebGPU here is SwiftShader, i.e. the CPU), the measured read
 * bandwidth of the CPU backend's threads and of the disk, and its memory less a reserve.
 */
export function thisMachineProfile(hostMemory: number, hostBandwidth: number, diskBandwidth: number, threads: number): HardwareProfile {
  const hostReserve = Math.min(4 * GiB, hostMemory / 4);
  return {
    name: 'this machine',
    gpus: 0,
    gpuMemory: 0,
    gpuBandwidth: 0,
    gpuReserve: 0,
    hostMemory,
    hostReserve,
    hostBandwidth,
    linkBandwidth: 0,
    diskBandwidth,
    allReduceLatency: 0,
    assumptions: [
      `host: ${(hostMemory / GiB).toFixed(1)} GiB, ${(hostReserve / GiB).toFixed(1)} GiB kept for the OS; read bandwidth ${(hostBandwidth / GB).toFixed(1)} GB/s (measured: ${threads} threads streaming with WebAssembly SIMD, as the CPU backend's ranks read weights)`,
      `disk: ${(diskBandwidth / GB).toFixed(2)} GB/s (measured: direct reads of the slice, no page cache) for experts that do not fit in memory`,
      'no GPU: the WebGPU adapter here is SwiftShader (the same CPU)',
    ],
  };
}
