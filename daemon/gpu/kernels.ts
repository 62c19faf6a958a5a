/**
 * Kernel registry: loads each op's WGSL from shaders/, compiles it once per (file, entry point, constants)
 * and hands out cached compute pipelines. Pipeline creation is slow on software adapters (20–700 ms), so
 * every pipeline a model needs is created at load time.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export type KernelName =
  | 'add'
  | 'add_bias'
  | 'attention'
  | 'copy_rows'
  | 'get_rows'
  | 'glu'
  | 'matmul_f16'
  | 'matmul_f32'
  | 'matmul_q4_0'
  | 'matmul_q8_0'
  | 'moe_combine'
  | 'moe_group'
  | 'moe_topk'
  | 'quantize_q8_0'
  | 'rms_norm'
  | 'rope'
  | 'sample'
  | 'scale';

/** The folder holding the .wgsl files: next to the bundle (dist/../shaders) or the source tree. */
export function shaderDir(): string {
  const fromEnv = process.env.MOECODE_SHADER_DIR;
  if (fromEnv) return fromEnv;
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'shaders');
    if (existsSync(join(candidate, 'matmul_f32.wgsl'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`MoeCode's shaders/ folder was not found above ${__dirname}; set MOECODE_SHADER_DIR.`);
}

export class KernelRegistry {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly dir: string;

  constructor(
    private readonly device: GPUDevice,
    dir?: string,
  ) {
    this.dir = resolve(dir ?? shaderDir());
  }

  source(name: KernelName): string {
    return readFileSync(join(this.dir, `${name}.wgsl`), 'utf8');
  }

  private module(name: KernelName): GPUShaderModule {
    let m = this.modules.get(name);
    if (!m) {
      m = this.device.createShaderModule({ label: name, code: this.source(name) });
      this.modules.set(name, m);
    }
    return m;
  }

  pipeline(name: KernelName, entryPoint = 'main', constants: Record<string, number> = {}): GPUComputePipeline {
    const key = `${name}:${entryPoint}:${JSON.stringify(constants)}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.device.createComputePipeline({
        label: key,
        layout: 'auto',
        compute: { module: this.module(name), entryPoint, constants },
      });
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** Surfaces WGSL compile errors with the file name (Dawn only logs them otherwise). */
  async checkCompilation(): Promise<void> {
    for (const [name, m] of this.modules) {
      const info = await m.getCompilationInfo();
      const errors = info.messages.filter((x) => x.type === 'error');
      if (errors.length) {
        throw new Error(`${name}.wgsl: ${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join('; ')}`);
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
