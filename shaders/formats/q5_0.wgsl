// Q5_0 weights (daemon/formats/q5_0.ts): blocks of 32 = f16 d, u32 qh (bit j: the fifth bit of value j),
// 16 bytes of low nibbles (as Q4_0);  w = (q − 16) · d.
// GPU planes: 0 = the nibbles, one vec4 word per block; 1 (word p.plane1) = qh, one word per block;
// 2 (word p.plane2) = d, two blocks per word.
// Activations Q8_0 (activations/q8.wgsl). Block dot as ggml_vec_dot_q5_0_q8_0, in integers:
// Σ q_w · q_x − 16 · Σ q_x.
// Composed by daemon/gpu/kernels.ts into matmul.wgsl and get_rows.wgsl (see matmul.wgsl).

const QK: u32 = 32u;
const CHUNKS: u32 = 1u;

alias WHead = u32;
struct WChunk { q0: vec4<u32>, q1: vec4<u32>, d: f32 }

fn w_head(blk: u32) -> WHead { return 0u; }

fn w_chunk(blk: u32, c: u32, h: WHead) -> WChunk {
  let q = w4[blk];
  let qh = vec4<u32>(wu[p.plane1 + blk]);
  // word i of q0 holds values 4i..4i+3: their fifth bits are qh bits 4i..4i+3 (16 + 4i.. for q1)
  let lo = (q & vec4<u32>(0x0F0F0F0Fu)) | (bits_to_bytes(qh >> vec4<u32>(0u, 4u, 8u, 12u)) << vec4<u32>(4u));
  let hi = ((q >> vec4<u32>(4u)) & vec4<u32>(0x0F0F0F0Fu)) | (bits_to_bytes(qh >> vec4<u32>(16u, 20u, 24u, 28u)) << vec4<u32>(4u));
  return WChunk(lo, hi, w_f16(p.plane2, blk));
}

fn chunk_dot(w: WChunk, x: XChunk) -> f32 {
  return f32(dot32(w.q0, w.q1, x) - 16 * x_qsum(x)) * (w.d * x.d);
}

fn dequant(row: u32, i: u32) -> f32 {
  let blk = row * (p.cols / QK) + i / QK;
  let j = i % QK;
  let q = ((w_byte(0u, blk * 16u + j % 16u) >> (4u * (j / 16u))) & 0xFu) | (((wu[p.plane1 + blk] >> j) & 1u) << 4u);
  return (f32(q) - 16.0) * w_f16(p.plane2, blk);
}
