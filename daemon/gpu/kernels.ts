/**
 * Kernel registry: loads each op's WGSL from shaders/, compiles it once per (kernel, entry point, constants)
 * and hands out cached compute pipelines. Pipeline creation is slow on software adapters (20–700 ms), so
 * every pipeline a model needs is created at load time.
 *
 * Most kernels are one file, shaders/<name>.wgsl, with layout 'auto'. The matmul and the embedding lookup
 * exist once per weight format and are composed from parts (see shaders/matmul.wgsl): `matmul_<wgsl>` is
 * shaders/matmul.wgsl + weights.wgsl + activations/<reader>.wgsl + formats/<wgsl>.wgsl, `get_rows_<wgsl>`
 * the same with get_rows.wgsl first; <wgsl> is a format's `wgsl` name (daemon/formats) and <reader> follows
 * from its activation format (activations.ts). Functions several kernels share are appended as parts
 * (SHARED_PARTS: exact_math.wgsl, f16_bits.wgsl). Composed kernels share one explicit bind group layout per
 * kind (MATMUL_BINDINGS, GET_ROWS_BINDINGS), so that the graph binds the same entries for every format.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { TensorFormat } from '../formats/format.js';
import { KNOWN_FORMATS } from '../formats/table.js';
import { GPU_ACTIVATIONS } from './activations.js';

export type KernelName =
  | 'add'
  | 'add_bias'
  | 'attention'
  | 'copy_rows'
  | 'glu'
  | 'moe_combine'
  | 'moe_group'
  | 'moe_topk'
  | 'quantize_q8'
  | 'quantize_q8_k'
  | 'round_activations'
  | 'rms_norm'
  | 'rope'
  | 'sample'
  | 'scale'
  | `matmul_${string}`
  | `get_rows_${string}`;

/** The matmul kernel of a weight format (which must have a WGSL block function). */
export function matmulKernel(f: TensorFormat): KernelName {
  if (!f.wgsl) throw new Error(`${f.name} has no WebGPU kernel`);
  return `matmul_${f.wgsl}`;
}

/** The embedding lookup of a weight format. */
export function getRowsKernel(f: TensorFormat): KernelName {
  if (!f.wgsl) throw new Error(`${f.name} has no WebGPU kernel`);
  return `get_rows_${f.wgsl}`;
}

type BindingKind = 'uniform' | 'read-only-storage' | 'storage';

/**
 * The composed matmul's bindings: 0 step, 1 params, 2 the weight shard as vec4 words, 3 activations,
 * 4 y, 5 rowmap, 6 counts, 7 the q8 activations' per-block words (a dummy for float activations), 8 the
 * weight shard again as 4-byte words.
 */
export const MATMUL_BINDINGS: readonly [number, BindingKind][] = [
  [0, 'uniform'],
  [1, 'uniform'],
  [2, 'read-only-storage'],
  [3, 'read-only-storage'],
  [4, 'storage'],
  [5, 'read-only-storage'],
  [6, 'read-only-storage'],
  [7, 'read-only-storage'],
  [8, 'read-only-storage'],
];

/** The composed embedding lookup's bindings: 0 step, 1 params, 2 / 8 the weight shard, 4 out, 5 token ids. */
export const GET_ROWS_BINDINGS: readonly [number, BindingKind][] = [
  [0, 'uniform'],
  [1, 'uniform'],
  [2, 'read-only-storage'],
  [4, 'storage'],
  [5, 'read-only-storage'],
  [8, 'read-only-storage'],
];

/** The folder holding the .wgsl files: next to the bundle (dist/../shaders) or the source tree. */
export function shaderDir(): string {
  const fromEnv = process.env.MOECODE_SHADER_DIR;
  if (fromEnv) return fromEnv;
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'shaders');
    if (existsSync(join(candidate, 'matmul.wgsl'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`MoeCode's shaders/ folder was not found above ${__dirname}; set MOECODE_SHADER_DIR.`);
}

/** The files a kernel is compiled from, in order, and its bind group layout (undefined: 'auto'). */
export function kernelParts(name: KernelName): { files: string[]; bindings?: readonly [number, BindingKind][] } {
  for (const [prefix, head, bindings] of [
    ['matmul_', 'matmul.wgsl', MATMUL_BINDINGS],
    ['get_rows_', 'get_rows.wgsl', GET_ROWS_BINDINGS],
  ] as const) {
    if (!name.startsWith(prefix)) continue;
    const wgsl = name.slice(prefix.length);
    const f = KNOWN_FORMATS.find((x) => x.wgsl === wgsl);
    if (!f) throw new Error(`kernel ${name}: no tensor format has the WGSL block function '${wgsl}'`);
    return { files: [head, 'weights.wgsl', `activations/${GPU_ACTIVATIONS[f.activation].reader}.wgsl`, `formats/${wgsl}.wgsl`], bindings };
  }
  return { files: [`${name}.wgsl`, ...(SHARED_PARTS[name] ?? [])] };
}

/**
 * Functions several kernels share, appended after the kernel's own file: shaders/exact_math.wgsl (exact
 * division and f16 rounding, for the activation converters), shaders/f16_bits.wgsl (f32 → f16 bits).
 */
const SHARED_PARTS: Partial<Record<KernelName, readonly string[]>> = {
  quantize_q8: ['exact_math.wgsl'],
  quantize_q8_k: ['exact_math.wgsl'],
  round_activations: ['exact_math.wgsl'],
  attention: ['f16_bits.wgsl'],
  copy_rows: ['f16_bits.wgsl'],
  glu: ['f16_bits.wgsl'],
  rope: ['f16_bits.wgsl'],
};

interface Part {
  file: string;
  /** First line of the part in the composed source (1-based). */
  firstLine: number;
  lines: number;
}

export class KernelRegistry {
  private readonly modules = new Map<string, { module: GPUShaderModule; parts: Part[] }>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new Map<readonly [number, BindingKind][], GPUPipelineLayout>();
  private readonly dir: string;

  constructor(
    private readonly device: GPUDevice,
    dir?: string,
  ) {
    this.dir = resolve(dir ?? shaderDir());
  }

  /** The WGSL a kernel is compiled from (the parts of a composed kernel joined in order). */
  source(name: KernelName): string {
    return this.compose(name).code;
  }

  private compose(name: KernelName): { code: string; parts: Part[] } {
    const parts: Part[] = [];
    let line = 1;
    const texts = kernelParts(name).files.map((file) => {
      const text = readFileSync(join(this.dir, file), 'utf8');
      const body = text.endsWith('\n') ? text : `${text}\n`;
      const lines = body.split('\n').length - 1;
      parts.push({ file, firstLine: line, lines });
      line += lines;
      return body;
    });
    return { code: texts.join(''), parts };
  }

  private module(name: KernelName): GPUShaderModule {
    let m = this.modules.get(name);
    if (!m) {
      const { code, parts } = this.compose(name);
      m = { module: this.device.createShaderModule({ label: name, code }), parts };
      this.modules.set(name, m);
    }
    return m.module;
  }

  private layout(bindings: readonly [number, BindingKind][]): GPUPipelineLayout {
    let l = this.layouts.get(bindings);
    if (!l) {
      const group = this.device.createBindGroupLayout({
        entries: bindings.map(([binding, type]) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } })),
      });
      l = this.device.createPipelineLayout({ bindGroupLayouts: [group] });
      this.layouts.set(bindings, l);
    }
    return l;
  }

  pipeline(name: KernelName, entryPoint = 'main', constants: Record<string, number> = {}): GPUComputePipeline {
    const key = `${name}:${entryPoint}:${JSON.stringify(constants)}`;
    let p = this.pipelines.get(key);
    if (!p) {
      const { bindings } = kernelParts(name);
      p = this.device.createComputePipeline({
        label: key,
        layout: bindings ? this.layout(bindings) : 'auto',
        compute: { module: this.module(name), entryPoint, constants },
      });
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** Surfaces WGSL compile errors with the file and line (Dawn only logs them otherwise). */
  async checkCompilation(): Promise<void> {
    for (const [name, m] of this.modules) {
      const info = await m.module.getCompilationInfo();
      const errors = info.messages.filter((x) => x.type === 'error');
      if (errors.length) {
        const where = (line: number) => {
          const part = m.parts.find((x) => line >= x.firstLine && line < x.firstLine + x.lines);
          return part ? `${part.file}:${line - part.firstLine + 1}` : `${name}:${line}`;
        };
        throw new Error(`kernel ${name}: ${errors.map((e) => `${where(e.lineNum)}:${e.linePos} ${e.message}`).join('; ')}`);
      }
    }
  }
}

/** A uniform struct field: u32 by default, `{ f32: v }` for floats. */
export type ParamField = number | { f32: number };

/** Packs a uniform params struct (u32/f32 fields, padded to 16 bytes). */
export function packParams(fields: readonly ParamField[]): ArrayBuffer {
  const n = Math.max(4, Math.ceil(fields.length / 4) * 4);
  const buf = new ArrayBuffer(n * 4);
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  fields.forEach((v, i) => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`param ${i}: ${v} is not a u32`);
      u[i] = v;
    } else {
      f[i] = v.f32;
    }
  });
  return buf;
}

export function uniformBuffer(device: GPUDevice, label: string, fields: readonly ParamField[]): GPUBuffer {
  const data = packParams(fields);
  const buf = device.createBuffer({ label, size: data.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(buf, 0, data);
  return buf;
}

/** Fields of the per-step uniform every kernel binds at @binding(0), in WGSL order. */
export interface StepParams {
  n_tokens: number;
  pos_start: number;
  n_kv: number;
  logits_start: number;
  n_logits: number;
  kv_base: number;
  seed: number;
  sample_index: number;
}

export function packStep(s: StepParams): ArrayBuffer {
  return packParams([s.n_tokens, s.pos_start, s.n_kv, s.logits_start, s.n_logits, s.kv_base, s.seed >>> 0, s.sample_index >>> 0]);
}
