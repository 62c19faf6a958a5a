/**
 * Streams weights (backend-neutral handles, model/weights.ts) from a GGUF file into GPU buffers, a few
 * MB at a time, cut into the format's GPU planes and row-sharded as weight-layout.ts describes. An expert slab is uploaded as its
 * own buffer (label `blk.3.ffn_up_exps.e5`), so a single expert can be bound, evicted or re-uploaded.
 * Each handle is uploaded once; `matrix`/`vector` return the uploaded copy afterwards.
 */
import { GgmlType, ggmlTypeName } from '../gguf/ggml-types.js';
import { dequantizeRow } from '../gguf/quantize.js';
import type { GgufFile, GgufTensorInfo } from '../gguf/gguf-reader.js';
import type { VectorHandle, WeightHandle } from '../model/weights.js';
import { StagingPool } from './staging-pool.js';
import { planShards, repackRows, rowLayout, type ShardPlan } from './weight-layout.js';

export interface GpuShard extends ShardPlan {
  buffer: GPUBuffer;
}

/** A weight matrix [rows, cols] on the GPU. */
export interface GpuMatrix {
  name: string;
  type: GgmlType;
  rows: number;
  cols: number;
  shards: GpuShard[];
}

/** An f32 vector (norm weights, biases, RoPE frequency factors), with its values kept on the host. */
export interface GpuVector {
  name: string;
  n: number;
  buffer: GPUBuffer;
  values: Float32Array;
}

const CHUNK_BYTES = 4 << 20;
/** Flush Dawn's staging copies every so often so upload memory stays bounded. */
const FLUSH_BYTES = 64 << 20;

export class WeightStore {
  bytesUploaded = 0;
  /** Matrices split into more than one row shard (larger than the binding limit). */
  shardedMatrices = 0;
  /** Host staging of uploads, reused (an expert cache fill per token allocates nothing). */
  readonly staging = new StagingPool();
  private sinceFlush = 0;
  private readonly owned: GPUBuffer[] = [];
  private readonly matrices = new Map<string, GpuMatrix>();
  private readonly vectors = new Map<string, GpuVector>();

  constructor(
    private readonly device: GPUDevice,
    private readonly file: GgufFile,
    private readonly maxBindingBytes: number,
    private onProgress?: (bytes: number) => void,
  ) {}

  /** GPU bytes of every buffer the store owns (weights and expert slots). */
  get bytes(): number {
    return this.owned.reduce((n, b) => n + b.size, 0);
  }

  /** The load is over: later uploads (expert cache fills) report no load progress. */
  loaded(): void {
    this.onProgress = undefined;
  }

  tensor(name: string): GgufTensorInfo {
    const t = this.file.tensorByName.get(name);
    if (!t) throw new Error(`tensor ${name} is missing from ${this.file.path}`);
    return t;
  }

  has(name: string): boolean {
    return this.file.tensorByName.has(name);
  }

  /** The GPU copy of a weight matrix (or one expert slab), uploaded on first use. */
  async matrix(h: WeightHandle): Promise<GpuMatrix> {
    const done = this.matrices.get(h.name);
    if (done) return done;
    const m = await this.upload(h);
    this.matrices.set(h.name, m);
    return m;
  }

  /** The uploaded copy of `h`; throws when it was never uploaded (the graph binds only loaded weights). */
  uploaded(h: WeightHandle): GpuMatrix {
    const m = this.matrices.get(h.name);
    if (!m) throw new Error(`weight ${h.name} is not on the GPU`);
    return m;
  }

  uploadedVector(h: VectorHandle): GpuVector {
    const v = this.vectors.get(h.name);
    if (!v) throw new Error(`vector ${h.name} is not on the GPU`);
    return v;
  }

  private async upload(h: WeightHandle): Promise<GpuMatrix> {
    const m = this.allocate(h, h.name);
    await this.fill(h, m);
    return m;
  }

  /** Empty GPU buffers shaped for `h` (its type, rows and row shards), labelled `label`; owned by the store. */
  allocate(h: WeightHandle, label: string): GpuMatrix {
    const shards: GpuShard[] = [];
    for (const plan of planShards(h.type, h.rows, h.cols, this.maxBindingBytes)) {
      const buffer = this.device.createBuffer({
        label: plan.rowStart === 0 && plan.rows === h.rows ? label : `${label}.rows${plan.rowStart}`,
        size: plan.bytes,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      });
      this.owned.push(buffer);
      shards.push({ ...plan, buffer });
    }
    if (shards.length > 1) this.shardedMatrices++;
    return { name: label, type: h.type, rows: h.rows, cols: h.cols, shards };
  }

  /**
   * Writes the weights of `h` from the file into `target`'s buffers (allocated for a matrix of the same type
   * and shape): how an expert cache slot takes another expert. The writes are queued: GPU work submitted
   * afterwards sees them.
   */
  async fill(h: WeightHandle, target: GpuMatrix): Promise<void> {
    const t = this.tensor(h.tensor);
    if (target.type !== h.type || target.rows !== h.rows || target.cols !== h.cols) throw new Error(`${h.name} does not fit the buffers of ${target.name}`);
    const layout = rowLayout(t.type, h.cols);
    let fileOffset = t.offset;
    if (h.expert !== undefined) {
      const n = t.dims[2] ?? 1;
      if (h.expert < 0 || h.expert >= n) throw new Error(`${h.tensor} has ${n} slabs, asked for ${h.expert}`);
      fileOffset += h.expert * h.rows * layout.fileRowBytes;
    }
    for (const shard of target.shards) await this.fillShard(shard.buffer, shard, t.type, h.cols, t.part, fileOffset + shard.rowStart * layout.fileRowBytes);
  }

  private async fillShard(buffer: GPUBuffer, plan: ShardPlan, type: GgmlType, cols: number, part: number, fileOffset: number): Promise<void> {
    const layout = rowLayout(type, cols);
    // no bigger than the shard: an expert slab (uploaded per token under offload) allocates its own size, not the chunk's
    let chunkRows = Math.min(Math.max(4, Math.floor(CHUNK_BYTES / layout.fileRowBytes)), Math.ceil(plan.rows / 4) * 4);
    chunkRows -= chunkRows % 4; // every plane's part of a chunk then starts on a word (strides of 1 and 2 bytes)
    const src = this.staging.take(chunkRows * layout.fileRowBytes);
    const planes = layout.planes.map((p) => this.staging.take(Math.ceil((chunkRows * p.rowBytes) / 4) * 4));
    try {
      for (let r = 0; r < plan.rows; r += chunkRows) {
        const n = Math.min(chunkRows, plan.rows - r);
        const bytes = await this.file.read(fileOffset + r * layout.fileRowBytes, n * layout.fileRowBytes, src, part);
        repackRows(layout, n, bytes, planes);
        layout.planes.forEach((p, i) => {
          const len = Math.ceil((n * p.rowBytes) / 4) * 4; // the region is padded to 16 bytes: the tail fits
          this.device.queue.writeBuffer(buffer, plan.planeOffsets[i]! + r * p.rowBytes, planes[i]!, 0, len);
        });
        await this.account(n * layout.fileRowBytes);
      }
    } finally {
      this.staging.give(src, ...planes);
    }
  }

  private async account(bytes: number): Promise<void> {
    this.bytesUploaded += bytes;
    this.sinceFlush += bytes;
    this.onProgress?.(this.bytesUploaded);
    if (this.sinceFlush >= FLUSH_BYTES) {
      this.sinceFlush = 0;
      await this.device.queue.onSubmittedWorkDone();
    }
  }

  /** Uploads a 1-D tensor as f32 (norm weights are small; F16 ones are widened on the host). */
  async vector(h: VectorHandle): Promise<GpuVector> {
    const done = this.vectors.get(h.name);
    if (done) return done;
    const t = this.tensor(h.tensor);
    const n = t.nElements;
    if (t.type !== GgmlType.F32 && t.type !== GgmlType.F16) {
      throw new Error(`${h.tensor}: vectors must be F32 or F16, found ${ggmlTypeName(t.type)}`);
    }
    const raw = await this.file.read(t.offset, t.byteSize, undefined, t.part);
    const values = dequantizeRow(t.type, raw, n) as Float32Array<ArrayBuffer>;
    const buffer = this.device.createBuffer({
      label: h.name,
      size: Math.max(16, Math.ceil((n * 4) / 16) * 16),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    this.owned.push(buffer);
    this.device.queue.writeBuffer(buffer, 0, values);
    await this.account(t.byteSize);
    const v = { name: h.name, n, buffer, values };
    this.vectors.set(h.name, v);
    return v;
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}
