// MXFP4 weights (daemon/formats/mxfp4.ts): blocks of 32 = E8M0 exponent e, 16 bytes of E2M1 codes (byte j:
// value j low, value j + 16 high);  w = fp4[q] · 2^(e − 128), fp4 = ggml's kvalues_mxfp4 (E2M1 values × 2).
// GPU planes: 0 = the codes, one vec4 word per block; 1 (word p.plane1) = e, four blocks per word.
// Activations Q8_0 (activations/q8.wgsl). Block dot as ggml_vec_dot_mxfp4_q8_0:
// 2^(e − 128) · d_x · Σ fp4[q_w] · q_x (codes decoded four bytes at a time into int8 words, fp4_bytes).
// The scale is built from its bits: exact for every e ≥ 2; e = 0, 1 give f32 subnormals (2^−128, 2^−127),
// which GPUs that flush subnormals read as 0 (ggml does not flush).
// Composed by daemon/gpu/kernels.ts into matmul.wgsl and get_rows.wgsl (see matmul.wgsl).

const QK: u32 = 32u;
const CHUNKS: u32 = 1u;

// The E2M1 codes of four values per word (one per byte, 0..15) to their kvalues_mxfp4 as int8: the
// magnitude code m = 0..7 stands for m + max(0, m − 4) + 2 · max(0, m − 6) (0, 1, 2, 3, 4, 6, 8, 12), bit 3
// is the sign (code 8, −0, is 0). Byte-wise arithmetic on whole words: no byte carries into the next.
fn fp4_bytes(q: vec4<u32>) -> vec4<u32> {
  let m = q & vec4<u32>(0x07070707u);
  let t4 = m + vec4<u32>(0x7C7C7C7Cu); // bit 7 of a byte set where m >= 4, and its low bits m - 4
  let t6 = m + vec4<u32>(0x7A7A7A7Au); // ... where m >= 6
  let a = t4 & vec4<u32>(0x7F7F7F7Fu) & (((t4 >> vec4<u32>(7u)) & vec4<u32>(0x01010101u)) * 0xFFu);
  let b = t6 & vec4<u32>(0x7F7F7F7Fu) & (((t6 >> vec4<u32>(7u)) & vec4<u32>(0x01010101u)) * 0xFFu);
  let v = m + a + (b << vec4<u32>(1u));
  let neg = ((q >> vec4<u32>(3u)) & vec4<u32>(0x01010101u)) * 0xFFu;
  let minus = (vec4<u32>(0x80808080u) - v) ^ vec4<u32>(0x80808080u); // 256 - v in each byte (0 for 0)
  return (v & ~neg) | (minus & neg);
}

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
  return WChunk(fp4_bytes(nibbles_lo(q)), fp4_bytes(nibbles_hi(q)), e8m0_half(w_byte(p.plane1, blk)));
}

fn chunk_dot(w: WChunk, x: XChunk) -> f32 {
  return f32(dot32(w.q0, w.q1, x)) * (w.s * x.d);
}

fn dequant(row: u32, i: u32) -> f32 {
  let blk = row * (p.cols / QK) + i / QK;
  let j = i % QK;
  let q = (w_byte(0u, blk * 16u + j % 16u) >> (4u * (j / 16u))) & 0xFu;
  return f32(bitcast<i32>(fp4_bytes(vec4<u32>(q)).x << 24u) >> 24u) * e8m0_half(w_byte(p.plane1, blk));
}
