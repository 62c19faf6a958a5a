// IQ4_NL weights (daemon/formats/iq4_nl.ts): blocks of 32 = f16 d, 16 bytes of 4-bit indices into a
// non-linear grid (byte j: value j low, value j + 16 high);  w = d · grid[q].
// GPU planes: 0 = the indices, one vec4 word per block; 1 (word p.plane1) = d, two blocks per word.
// Activations Q8_0 (activations/q8.wgsl). Block dot as ggml_vec_dot_iq4_nl_q8_0: d_w · d_x · Σ grid[q_w] · q_x;
// the grid values are looked up four bytes at a time (weights.wgsl lut16) into int8 words.
// Composed by daemon/gpu/kernels.ts into matmul.wgsl and get_rows.wgsl (see matmul.wgsl).

const QK: u32 = 32u;
const CHUNKS: u32 = 1u;

alias WHead = u32;
struct WChunk { q0: vec4<u32>, q1: vec4<u32>, d: f32 }

fn w_head(blk: u32) -> WHead { return 0u; }

fn w_chunk(blk: u32, c: u32, h: WHead) -> WChunk {
  let q = w4[blk];
  return WChunk(lut16(q & vec4<u32>(0x0F0F0F0Fu), IQ4_GRID), lut16((q >> vec4<u32>(4u)) & vec4<u32>(0x0F0F0F0Fu), IQ4_GRID), w_f16(p.plane1, blk));
}

fn chunk_dot(w: WChunk, x: XChunk) -> f32 {
  return f32(dot32(w.q0, w.q1, x)) * (w.d * x.d);
}

fn dequant(row: u32, i: u32) -> f32 {
  let blk = row * (p.cols / QK) + i / QK;
  let j = i % QK;
  let q = (w_byte(0u, blk * 16u + j % 16u) >> (4u * (j / 16u))) & 0xFu;
  return w_f16(p.plane1, blk) * f32(lut16_one(q, IQ4_GRID));
}
