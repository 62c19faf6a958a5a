// Q4_K weights (daemon/formats/q4_k.ts): super-blocks of 256 = 8 sub-blocks of 32: f16 d, f16 dmin,
// 8 six-bit scales sc and mins m packed in 12 bytes (daemon/formats/k-scales.ts), qs[128] (byte 32c' + l:
// value 64c' + l low, 64c' + 32 + l high);  w = d · sc · q − dmin · m.
// GPU layout (q4_k.ts gpuReorder): one plane, nine vec4 words per block: the header (d | dmin << 16 and the
// scale bytes) as in the file, then sub-block c's nibbles in Q4_0's order as word 1 + c.
// Activations Q8_K (activations/q8.wgsl). Dot as ggml_vec_dot_q4_K_q8_K: per sub-block
// d_x · (d · sc · Σ q_w · q_x − dmin · m · bsum_x). A chunk is one sub-block.
// Composed by daemon/gpu/kernels.ts into matmul.wgsl and get_rows.wgsl (see matmul.wgsl).

const QK: u32 = 256u;
const CHUNKS: u32 = 8u;

// sc / mn: the 8 scales and 8 mins as bytes (sub-block j in byte j % 4 of component j / 4)
struct WHead { dm: vec2<f32>, sc: vec2<u32>, mn: vec2<u32> }
struct WChunk { q0: vec4<u32>, q1: vec4<u32>, s: f32, m: f32 }

// The packed scales of k-scales.ts: bytes 0–3 sc[0..3] and the top bits of sc[4..7], bytes 4–7 m[0..3]
// and the top bits of m[4..7], bytes 8–11 the low nibbles of sc[4..7] and of m[4..7].
fn k_head(v: vec4<u32>) -> WHead {
  let sc = vec2<u32>(v.y & 0x3F3F3F3Fu, (v.w & 0x0F0F0F0Fu) | ((v.y >> 2u) & 0x30303030u));
  let mn = vec2<u32>(v.z & 0x3F3F3F3Fu, ((v.w >> 4u) & 0x0F0F0F0Fu) | ((v.z >> 2u) & 0x30303030u));
  return WHead(unpack2x16float(v.x), sc, mn);
}

fn w_head(blk: u32) -> WHead {
  return k_head(w4[9u * blk]);
}

fn w_chunk(blk: u32, c: u32, h: WHead) -> WChunk {
  let q = w4[9u * blk + 1u + c];
  let sc = byte_of2(h.sc, c);
  let mn = byte_of2(h.mn, c);
  return WChunk(nibbles_lo(q), nibbles_hi(q), h.dm.x * f32(sc), h.dm.y * f32(mn));
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
  let j = v % 32u;
  let q = (w_byte(0u, blk * 144u + 16u + 16u * s + j % 16u) >> (4u * (j / 16u))) & 0xFu;
  return (h.dm.x * f32(byte_of2(h.sc, s))) * f32(q) - h.dm.y * f32(byte_of2(h.mn, s));
}
