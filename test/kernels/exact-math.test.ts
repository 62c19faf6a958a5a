/**
 * shaders/exact_math.wgsl (composed into the activation converters) on its own: div_rn against f32
 * division rounded to nearest even (Math.fround of the double quotient: rounding twice is harmless for a
 * quotient, as 53 ≥ 2·24 + 2), and round_f16_rn against
 * formats/half.ts f32ToF16Bits, over random operands spanning the exponent range and hand-picked corners
 * (ties, overflow, f16 subnormals). Bit for bit. A small test entry point is compiled with the file.
 * (Plain `/` passes this test on SwiftShader, but not inside the Q8_K quantiser, where the compiler
 * rewrote 1 / (-127 / max): activations.test.ts catches that.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { f16BitsToF32, f32ToF16Bits } from '../../daemon/formats/half.js';
import { shaderDir } from '../../daemon/gpu/kernels.js';
import { type GpuKernelHarness, kernelTest } from '../helpers/gpu-harness.js';
import { assertSameF32Bits, seeded } from './kernel-test-utils.js';

const ENTRY = `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
override OP: u32 = 0u;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= arrayLength(&out)) { return; }
  switch OP {
    case 0u: { out[i] = div_rn(a[i], b[i]); }
    case 1u: { out[i] = round_f16_rn(a[i]); }
    // constant dividends, as the quantisers have them (where compilers like to take shortcuts)
    case 2u: { out[i] = div_rn(1.0, b[i]); }
    case 3u: { out[i] = div_rn(127.0, b[i]); }
    default: { out[i] = div_rn(-127.0, b[i]); }
  }
}
`;

async function run(h: GpuKernelHarness, op: number, a: Float32Array, b: Float32Array): Promise<Float32Array> {
  const code = ENTRY + readFileSync(join(shaderDir(), 'exact_math.wgsl'), 'utf8');
  const module = h.device.createShaderModule({ label: 'exact_math test', code });
  const pipeline = h.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main', constants: { OP: op } } });
  const bufs = [a, b, new Float32Array(a.length)].map((v) => h.buffer(v));
  try {
    h.device.pushErrorScope('validation');
    const enc = h.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, h.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: bufs.map((buffer, binding) => ({ binding, resource: { buffer, size: a.byteLength } })) }));
    pass.dispatchWorkgroups(Math.ceil(a.length / 64));
    pass.end();
    h.device.queue.submit([enc.finish()]);
    const err = await h.device.popErrorScope();
    if (err) throw new Error(err.message);
    return new Float32Array(await h.read(bufs[2]!, a.byteLength));
  } finally {
    bufs.forEach((x) => x.destroy());
  }
}

/** Random f32 values of random sign, exponents 2^lo .. 2^hi, all mantissa bits random. */
function randomF32(n: number, rnd: () => number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(n);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    const e = 127 + lo + Math.floor(rnd() * (hi - lo + 1));
    u[i] = ((rnd() < 0.5 ? 1 : 0) << 31) | (e << 23) | Math.floor(rnd() * 0x800000);
  }
  return out;
}

kernelTest('exact_math div_rn: f32 division rounded to nearest even, bit for bit (random operands 2^-60..2^60, ggml quantiser operands)', async (h) => {
  const rnd = seeded(301);
  const n = 1 << 16;
  const a = randomF32(n, rnd, -60, 60);
  const b = randomF32(n, rnd, -60, 60);
  // the quantisers' operands: amax / 127, 127 / amax, -127 / max, 1 / iscale
  for (let i = 0; i < 4096; i++) {
    const v = b[i]!;
    a[i] = [v, 127, -127, 1][i % 4]!;
    b[i] = [127, v, v, v][i % 4]!;
  }
  a[4096] = 3; b[4096] = 3; // exact quotients
  a[4097] = 1; b[4097] = 3;
  a[4098] = -6; b[4098] = 4;
  const want = Float32Array.from(a, (x, i) => Math.fround(x / b[i]!));
  assertSameF32Bits(await run(h, 0, a, b), want, 'div_rn');
  for (const [op, dividend] of [
    [2, 1],
    [3, 127],
    [4, -127],
  ] as const) {
    assertSameF32Bits(await run(h, op, a, b), Float32Array.from(b, (x) => Math.fround(dividend / x)), `div_rn(${dividend}, b)`);
  }
});

kernelTest('exact_math round_f16_rn: f32 -> f16 rounding to nearest even with overflow to inf and f16 subnormals, bit for bit', async (h) => {
  const rnd = seeded(302);
  const n = 1 << 16;
  const a = randomF32(n, rnd, -30, 17);
  const corners = [65504, 65519.996, 65520, 65536, -1e9, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 2 ** -26, 2 ** -14, 2 ** -14 - 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11, -0, 0, Infinity, -Infinity];
  corners.forEach((v, i) => (a[i] = v));
  const want = Float32Array.from(a, (x) => f16BitsToF32(f32ToF16Bits(x)));
  assertSameF32Bits(await run(h, 1, a, new Float32Array(n)), want, 'round_f16_rn');
});
