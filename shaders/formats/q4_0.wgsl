// Q4_0 weights (daemon/formats/q4_0.ts): blocks of 32 = f16 d, 16 bytes of nibbles (byte j: value j in
// the low nibble, value j + 16 in the high one);  w = (q − 8) · d.
// GPU planes: 0 = the nibbles, one vec4 word per block; 1 (word p.plane1) = d, two blocks per word.
// Activations Q8_0 (activations/q8.wgsl). Block dot as ggml_vec_dot_q4_0_q8_0, in integers:
// Σ (q_w − 8) · q_x = Σ q_w · q_x − 8 · Σ q_x, with Σ q_x stored by the quantiser.
// Composed by daemon/gpu/kernels.ts into matmul.wgsl and get_rows.wgsl (see matmul.wgsl).

const QK: u32 = 32u;
const CHUNKS: u32 = 1u;

alias WHead = u32;
struct WChunk { q0: vec4<u32>, q1: vec4<u32>, d: f32 }

fn w_head(blk: u32) -> WHead { return 0u; }

fn w_chunk(blk: u32, c: u32, h: WHead) -> WChunk {
  let q = w4[blk];
  return WChunk(q & vec4<u32>(0x0F0F0F0Fu), (q >> vec4<u32>(4u)) & vec4<u32>(0x0F0F0F0Fu), w_f16(p.plane1, blk));
}

fn chunk_dot(w: WChunk, x: XChunk) -> f32 {
  return f32(dot32(w.q0, w.q1, x) - 8 * x_qsum(x)) * (w.d * x.d);
}

fn dequant(row: u32, i: u32) -> f32 {
  let blk = row * (p.cols / QK) + i / QK;
  let j = i % QK;
  let q = (w_byte(0u, blk * 16u + j % 16u) >> (4u * (j / 16u))) & 0xFu;
  return (f32(q) - 8.0) * w_f16(p.plane1, blk);
}
