// Activations quantised to 8-bit blocks of 32, as shaders/quantize_q8_{0,1,k}.wgsl write them (one GPU
// layout for ggml's Q8_0, Q8_1 and Q8_K; daemon/gpu/activations.ts). Composed into the matmul by
// daemon/gpu/kernels.ts (see shaders/matmul.wgsl); not a module on its own.
//   xv (binding 3): int8 quants, row-major [rows, cols] (value j of a row in byte j), as vec4<u32> words
//   xs (binding 7): one vec2<u32> per block of 32 values, [rows, cols / 32]:
//     Q8_0  (f32 bits of d, Σ q as i32)                d = f16(amax / 127)
//     Q8_1  (f32 bits of d, f32 bits of s)              s = f16(d · Σ q), ggml's stored block sum
//     Q8_K  (f32 bits of d, Σ q of values 0–15 | Σ q of values 16–31 << 16, two i16)   d of the 256-block
// The value of quant j is q_j · d; the matmul chunk is one block of 32.

const CHUNK: u32 = 32u;

struct XChunk {
  // values 0–15 and 16–31 of the block, four int8 per word
  q0: vec4<u32>,
  q1: vec4<u32>,
  d: f32,
  aux: u32,
}

@group(0) @binding(3) var<storage, read> xv: array<vec4<u32>>;
@group(0) @binding(7) var<storage, read> xs: array<vec2<u32>>;

// Chunk k of the activation buffer (row * cols / 32 + block).
fn x_chunk(k: u32) -> XChunk {
  let s = xs[k];
  return XChunk(xv[2u * k], xv[2u * k + 1u], bitcast<f32>(s.x), s.y);
}

// Σ of 16 int8 products: a (4 words) with one half of a block.
fn dot16(a: vec4<u32>, b: vec4<u32>) -> i32 {
  return dot4I8Packed(a.x, b.x) + dot4I8Packed(a.y, b.y) + dot4I8Packed(a.z, b.z) + dot4I8Packed(a.w, b.w);
}

// Σ of the 32 int8 products of a weight chunk (q0: values 0–15, q1: 16–31) with the activation chunk.
fn dot32(q0: vec4<u32>, q1: vec4<u32>, x: XChunk) -> i32 {
  return dot16(q0, x.q0) + dot16(q1, x.q1);
}

// Q8_0: Σ q over the block.
fn x_qsum(x: XChunk) -> i32 {
  return bitcast<i32>(x.aux);
}

// Q8_1: the stored sum s.
fn x_s(x: XChunk) -> f32 {
  return bitcast<f32>(x.aux);
}

// Q8_K: Σ q over values 0–15 and 16–31 of the chunk (ggml's bsums).
fn x_bsums(x: XChunk) -> vec2<i32> {
  return vec2<i32>(bitcast<i32>(x.aux << 16u) >> 16u, bitcast<i32>(x.aux) >> 16u);
}
