// Q5_K weights (daemon/formats/q5_k.ts): super-blocks of 256 = 8 sub-blocks of 32: f16 d, f16 dmin, packed
// 6-bit scales and mins (as Q4_K), qh[32] (bit s of byte l: the fifth bit of value 32s + l), qs[128] (low
// nibbles, as Q4_K);  w = d · sc · q − dmin · m.
// GPU layout (q5_k.ts gpuReorder): one plane, eleven vec4 words (44 words) per block: the header as in the
// file, sub-block c's low nibbles in Q4_0's order as vec4 word 1 + c, its fifth bits as word 36 + c.
// Activations Q8_K (activations/q8.wgsl). Dot as ggml_vec_dot_q5_K_q8_K: per sub-block
// d_x · (d · sc · Σ q_w · q_x − dmin · m · bsum_x). A chunk is one sub-block.
// Composed by daemon/gpu/kernels.ts into matmul.wgsl and get_rows.wgsl (see matmul.wgsl).

const QK: u32 = 256u;
const CHUNKS: u32 = 8u;

struct WHead { dm: vec2<f32>, sc: vec2<u32>, mn: vec2<u32> }
struct WChunk { q0: vec4<u32>, q1: vec4<u32>, s: f32, m: f32 }

// The packed scales and mins, as Q4_K (k-scales.ts).
fn k_head(v: vec4<u32>) -> WHead {
  let sc = vec2<u32>(v.y & 0x3F3F3F3Fu, (v.w & 0x0F0F0F0Fu) | ((v.y >> 2u) & 0x30303030u));
  let mn = vec2<u32>(v.z & 0x3F3F3F3Fu, ((v.w >> 4u) & 0x0F0F0F0Fu) | ((v.z >> 2u) & 0x30303030u));
  return WHead(unpack2x16float(v.x), sc, mn);
}

fn w_head(blk: u32) -> WHead {
  return k_head(w4[11u * blk]);
}

fn w_chunk(blk: u32, c: u32, h: WHead) -> WChunk {
  let q = w4[11u * blk + 1u + c];
  let qh = wu[44u * blk + 36u + c];
  let q0 = nibbles_lo(q) | (one_bits(qh, false) << vec4<u32>(4u));
  let q1 = nibbles_hi(q) | (one_bits(qh, true) << vec4<u32>(4u));
  let sc = byte_of2(h.sc, c);
  let mn = byte_of2(h.mn, c);
  return WChunk(q0, q1, h.dm.x * f32(sc), h.dm.y * f32(mn));
}

fn chunk_dot(w: WChunk, x: XChunk) -> f32 {
  let bs = x_bsums(x);
  return x.d * (w.s * f32(dot32(w.q0, w.q1, x)) - w.m * f32(bs.x + bs.y));
}

fn dequant(row: u32, i: u32) -> f32 {
  let blk = row * (p.cols / QK) + i / QK;
  let v = i % QK;
  let h = w_head(blk);
  let s = v / 32u;
  let l = v % 32u;
  let low = (w_byte(0u, blk * 176u + 16u + 16u * s + l % 16u) >> (4u * (l / 16u))) & 0xFu;
  let q = low | (((wu[44u * blk + 36u + s] >> l) & 1u) << 4u);
  return (h.dm.x * f32(byte_of2(h.sc, s))) * f32(q) - h.dm.y * f32(byte_of2(h.mn, s));
}
