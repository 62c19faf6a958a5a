// MXFP4 weights (daemon/formats/mxfp4.ts): blocks of 32 = E8M0 exponent e, 16 bytes of E2M1 codes (byte j:
// value j low, value j + 16 high);  w = fp4[q] · 2^(e − 128), fp4 = ggml's kvalues_mxfp4 (E2M1 values × 2).
// GPU planes: 0 = the codes, one vec4 word per block; 1 (word p.plane1) = e, four blocks per word.
// Activations Q8_0 (activations/q8.wgsl). Block dot as ggml_vec_dot_mxfp4_q8_0:
// 2^(e − 128) · d_x · Σ fp4[q_w] · q_x (codes looked up four bytes at a time into int8 words).
// The scale is built from its bits: exact for every e ≥ 2; e = 0, 1 give f32 subnormals (2^−128, 2^−127),
// which GPUs that flush subnormals read as 0 (ggml does not flush).
// Composed by daemon/gpu/kernels.ts into matmul.wgsl and get_rows.wgsl (see matmul.wgsl).

const QK: u32 = 32u;
const CHUNKS: u32 = 1u;

// 0, 1, 2, 3, 4, 6, 8, 12, -0, -1, -2, -3, -4, -6, -8, -12 as lut16 entries
const FP4_GRID = array<u32, 16>(
  0x00000000u, 0x01010101u, 0x02020202u, 0x03030303u, 0x04040404u, 0x06060606u, 0x08080808u, 0x0C0C0C0Cu,
  0x00000000u, 0xFFFFFFFFu, 0xFEFEFEFEu, 0xFDFDFDFDu, 0xFCFCFCFCu, 0xFAFAFAFAu, 0xF8F8F8F8u, 0xF4F4F4F4u);

alias WHead = u32;
struct WChunk { q0: vec4<u32>, q1: vec4<u32>, s: f32 }

fn w_head(blk: u32) -> WHead { return 0u; }

// GGML_E8M0_TO_FP32_HALF: 2^(e − 128).
fn e8m0_half(e: u32) -> f32 {
  if (e >= 2u) { return bitcast<f32>((e - 1u) << 23u); }
  return bitcast<f32>(0x00200000u << e);
}

fn w_chunk(blk: u32, c: u32, h: WHead) -> WChunk {
  let q = w4[blk];
  return WChunk(lut16(q & vec4<u32>(0x0F0F0F0Fu), FP4_GRID), lut16((q >> vec4<u32>(4u)) & vec4<u32>(0x0F0F0F0Fu), FP4_GRID), e8m0_half(w_byte(p.plane1, blk)));
}

fn chunk_dot(w: WChunk, x: XChunk) -> f32 {
  return f32(dot32(w.q0, w.q1, x)) * (w.s * x.d);
}

fn dequant(row: u32, i: u32) -> f32 {
  let blk = row * (p.cols / QK) + i / QK;
  let j = i % QK;
  let q = (w_byte(0u, blk * 16u + j % 16u) >> (4u * (j / 16u))) & 0xFu;
  return f32(lut16_one(q, FP4_GRID)) * e8m0_half(w_byte(p.plane1, blk));
}
