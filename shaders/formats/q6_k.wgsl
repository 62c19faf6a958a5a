// Q6_K weights (daemon/formats/q6_k.ts): super-blocks of 256 = 16 sub-blocks of 16: ql[128] (low 4 bits),
// qh[64] (high 2 bits), int8 scales[16] (signed), f16 d. For half h, k = 0..3, l = 0..31, value
// 128h + 32k + l has its low bits in byte 64h + 32(k % 2) + l of ql (low nibble for k < 2) and its high
// bits at bits 2k of byte 32h + l of qh;  w = d · sc · (q − 32).
// GPU layout (q6_k.ts gpuReorder): plane 0 = 13 vec4 words per block: chunk c's (values 32c ..) low nibbles
// in Q4_0's order as word c, its high 2-bit pairs in the 2-bit order (weights.wgsl two_bits) in half c % 2
// of word 8 + c / 2, the int8 scales as word 12; plane 1 (word p.plane1) = d, two blocks per word.
// Activations Q8_K (activations/q8.wgsl). Dot as ggml_vec_dot_q6_K_q8_K, in integers per sub-block:
// sc · (Σ q_w · q_x − 32 · bsum_x), then · d · d_x. A chunk is 32 values = 2 sub-blocks.
// Composed by daemon/gpu/kernels.ts into matmul.wgsl and get_rows.wgsl (see matmul.wgsl).

const QK: u32 = 256u;
const CHUNKS: u32 = 8u;

struct WHead { sc: vec4<u32>, d: f32 }
struct WChunk { q0: vec4<u32>, q1: vec4<u32>, sc: vec2<i32>, d: f32 }

fn w_head(blk: u32) -> WHead {
  return WHead(w4[13u * blk + 12u], w_f16(p.plane1, blk));
}

fn w_chunk(blk: u32, c: u32, h: WHead) -> WChunk {
  let at = 13u * blk;
  let q = w4[at + c];
  let hi = half_of(w4[at + 8u + (c >> 1u)], (c & 1u) == 1u);
  let q0 = nibbles_lo(q) | (two_bits(hi.x) << vec4<u32>(4u));
  let q1 = nibbles_hi(q) | (two_bits(hi.y) << vec4<u32>(4u));
  let s = half16_of(word_of4(h.sc, c >> 1u), c & 1u); // scales 2c, 2c + 1 (int8)
  return WChunk(q0, q1, vec2<i32>(bitcast<i32>(s << 24u) >> 24u, bitcast<i32>(s << 16u) >> 24u), h.d);
}

fn chunk_dot(w: WChunk, x: XChunk) -> f32 {
  let bs = x_bsums(x);
  let sum = w.sc.x * (dot16(w.q0, x.q0) - 32 * bs.x) + w.sc.y * (dot16(w.q1, x.q1) - 32 * bs.y);
  return (w.d * x.d) * f32(sum);
}

fn dequant(row: u32, i: u32) -> f32 {
  let blk = row * (p.cols / QK) + i / QK;
  let v = i % QK;
  let c = v / 32u;
  let l = v % 32u;
  let low = (w_byte(0u, blk * 208u + 16u * c + l % 16u) >> (4u * (l / 16u))) & 0xFu;
  // 2-bit order: value l in byte 4 (l / 16) + l % 4 at bits 2 ((l % 16) / 4)
  let high = (w_byte(0u, blk * 208u + 128u + 8u * c + 4u * (l / 16u) + l % 4u) >> (2u * ((l % 16u) / 4u))) & 3u;
  let sc = bitcast<i32>(w_byte(0u, blk * 208u + 192u + v / 16u) << 24u) >> 24u;
  return (w_f16(p.plane1, blk) * f32(sc)) * f32(i32(low | (high << 4u)) - 32);
}
