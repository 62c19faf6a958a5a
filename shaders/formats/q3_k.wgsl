// Q3_K weights (daemon/formats/q3_k.ts): super-blocks of 256 = 16 sub-blocks of 16: hmask[32] (the high
// bit of value 128h + 32j + l is bit 4h + j of byte l), qs[64] (low 2 bits, as Q2_K), 16 six-bit scales
// S packed in 12 bytes, f16 d;  q = low | high << 2 − 4 ∈ −4..3,  w = d · (S − 32) · q.
// GPU layout (q3_k.ts gpuReorder): plane 0 = six vec4 words (24 words) per block: chunk c's (values 32c ..)
// low 2-bit quants in the 2-bit order (weights.wgsl two_bits) in half c % 2 of word c / 2, its high bits as
// word 16 + c; plane 1 (vec4 word p.plane1 / 4 + block) = the 12 scale bytes then d (2 bytes of padding).
// Activations Q8_K (activations/q8.wgsl). Dot as ggml_vec_dot_q3_K_q8_K, in integers per sub-block:
// (S − 32) · (Σ (low | high << 2) · q_x − 4 · bsum_x), then · d · d_x. A chunk is 32 values = 2 sub-blocks.
// Composed by daemon/gpu/kernels.ts into matmul.wgsl and get_rows.wgsl (see matmul.wgsl).

const QK: u32 = 256u;
const CHUNKS: u32 = 8u;

// s: the 16 six-bit scales as bytes (scale k in byte k % 4 of word k / 4)
struct WHead { s: vec4<u32>, d: f32 }
struct WChunk { q0: vec4<u32>, q1: vec4<u32>, sc: vec2<i32>, d: f32 }

fn w_head(blk: u32) -> WHead {
  let v = w4[p.plane1 / 4u + blk];
  let m4 = 0x0F0F0F0Fu;
  let m2 = 0x03030303u;
  // low 4 bits: scales 0–7 in the low nibbles of bytes 0–7, scales 8–15 in their high nibbles;
  // high 2 bits: bits 2·⌊k/4⌋ of byte 8 + k % 4
  let s = vec4<u32>(
    (v.x & m4) | ((v.z & m2) << 4u),
    (v.y & m4) | (((v.z >> 2u) & m2) << 4u),
    ((v.x >> 4u) & m4) | (((v.z >> 4u) & m2) << 4u),
    ((v.y >> 4u) & m4) | (((v.z >> 6u) & m2) << 4u));
  return WHead(s, unpack2x16float(v.w).x);
}

fn w_chunk(blk: u32, c: u32, h: WHead) -> WChunk {
  let low = half_of(w4[6u * blk + (c >> 1u)], (c & 1u) == 1u);
  let high = wu[24u * blk + 16u + c];
  let q0 = two_bits(low.x) | (one_bits(high, false) << vec4<u32>(2u));
  let q1 = two_bits(low.y) | (one_bits(high, true) << vec4<u32>(2u));
  let s = half16_of(word_of4(h.s, c >> 1u), c & 1u); // scales 2c, 2c + 1
  return WChunk(q0, q1, vec2<i32>(i32(s & 0xFFu), i32((s >> 8u) & 0xFFu)) - vec2<i32>(32), h.d);
}

fn chunk_dot(w: WChunk, x: XChunk) -> f32 {
  let bs = x_bsums(x);
  let sum = w.sc.x * (dot16(w.q0, x.q0) - 4 * bs.x) + w.sc.y * (dot16(w.q1, x.q1) - 4 * bs.y);
  return (w.d * x.d) * f32(sum);
}

fn dequant(row: u32, i: u32) -> f32 {
  let blk = row * (p.cols / QK) + i / QK;
  let v = i % QK;
  let h = w_head(blk);
  let k = v / 16u;
  let sc = i32(byte_of(word_of4(h.s, k / 4u), k % 4u)) - 32;
  let c = v / 32u;
  let l = v % 32u;
  let low = (w_byte(0u, blk * 96u + 8u * c + 4u * (l / 16u) + l % 4u) >> (2u * ((l % 16u) / 4u))) & 3u;
  let high = (wu[24u * blk + 16u + c] >> l) & 1u;
  return (h.d * f32(sc)) * f32(i32(low | (high << 2u)) - 4);
}
