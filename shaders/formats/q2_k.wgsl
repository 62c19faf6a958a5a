// Q2_K weights (daemon/formats/q2_k.ts): super-blocks of 256 = 16 sub-blocks of 16 with 4-bit scales and
// mins (scales[16]), 2-bit quants (qs[64]: value 128h + 32j + l in bits 2j of byte 32h + l), f16 d, f16 dmin;
// w = d · sc · q − dmin · m.
// GPU planes: 0 = scales then qs, five vec4 words per block; 1 (word p.plane1) = d | dmin << 16.
// Activations Q8_K (activations/q8.wgsl). Dot as ggml_vec_dot_q2_K_q8_K: per sub-block
// d_x · (d · sc · Σ q_w · q_x − dmin · m · bsum_x), bsum_x the activation's stored Σ q over the 16 values.
// A chunk is 32 values = 2 sub-blocks. Composed by daemon/gpu/kernels.ts (see matmul.wgsl).

const QK: u32 = 256u;
const CHUNKS: u32 = 8u;

struct WHead { sc: vec4<u32>, dm: vec2<f32> }
struct WChunk { q0: vec4<u32>, q1: vec4<u32>, sc: vec2<i32>, m: vec2<i32>, dm: vec2<f32> }

fn w_head(blk: u32) -> WHead {
  return WHead(w4[5u * blk], unpack2x16float(wu[p.plane1 + blk]));
}

fn w_chunk(blk: u32, c: u32, h: WHead) -> WChunk {
  let at = 5u * blk + 1u + 2u * (c >> 2u); // qs bytes 32h .. 32h + 31, h = c / 4
  let shift = vec4<u32>(2u * (c & 3u));
  let s = h.sc[c >> 1u] >> (16u * (c & 1u)); // scale bytes 2c, 2c + 1
  return WChunk(
    (w4[at] >> shift) & vec4<u32>(0x03030303u),
    (w4[at + 1u] >> shift) & vec4<u32>(0x03030303u),
    vec2<i32>(i32(s & 0xFu), i32((s >> 8u) & 0xFu)),
    vec2<i32>(i32((s >> 4u) & 0xFu), i32((s >> 12u) & 0xFu)),
    h.dm);
}

fn chunk_dot(w: WChunk, x: XChunk) -> f32 {
  let sum = w.sc.x * dot16(w.q0, x.q0) + w.sc.y * dot16(w.q1, x.q1);
  return x.d * (w.dm.x * f32(sum) - w.dm.y * f32(dot(w.m, x_bsums(x))));
}

fn dequant(row: u32, i: u32) -> f32 {
  let blk = row * (p.cols / QK) + i / QK;
  let v = i % QK;
  let sc = w_byte(0u, blk * 80u + v / 16u);
  let q = (w_byte(0u, blk * 80u + 16u + 32u * (v / 128u) + v % 32u) >> (2u * ((v / 32u) % 4u))) & 3u;
  let dm = unpack2x16float(wu[p.plane1 + blk]);
  return (dm.x * f32(sc & 0xFu)) * f32(q) - dm.y * f32(sc >> 4u);
}
