// Q8_0 weights (daemon/formats/q8_0.ts): blocks of 32 = f16 d, int8 q[32];  w = q · d.
// GPU planes: 0 = the quants, two vec4 words per block; 1 (word p.plane1) = d, two blocks per word.
// Activations Q8_0 (activations/q8.wgsl). Block dot as ggml_vec_dot_q8_0_q8_0: d_w · d_x · Σ q_w · q_x.
// Composed by daemon/gpu/kernels.ts into matmul.wgsl and get_rows.wgsl (see matmul.wgsl).

const QK: u32 = 32u;
const CHUNKS: u32 = 1u;

alias WHead = u32;
struct WChunk { q0: vec4<u32>, q1: vec4<u32>, d: f32 }

fn w_head(blk: u32) -> WHead { return 0u; }

fn w_chunk(blk: u32, c: u32, h: WHead) -> WChunk {
  return WChunk(w4[2u * blk], w4[2u * blk + 1u], w_f16(p.plane1, blk));
}

fn chunk_dot(w: WChunk, x: XChunk) -> f32 {
  return f32(dot32(w.q0, w.q1, x)) * (w.d * x.d);
}

fn dequant(row: u32, i: u32) -> f32 {
  let blk = row * (p.cols / QK) + i / QK;
  let q = bitcast<i32>(w_byte(0u, blk * QK + i % QK) << 24u) >> 24u;
  return f32(q) * w_f16(p.plane1, blk);
}
