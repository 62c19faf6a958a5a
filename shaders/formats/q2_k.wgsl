// Q2_K weights (daemon/formats/q2_k.ts): super-blocks of 256 = 16 sub-blocks of 16 with 4-bit scales and
// mins (scales[16]), 2-bit quants (qs[64]: value 128h + 32j + l in bits 2j of byte 32h + l), f16 d, f16 dmin;
// w = d · sc · q − dmin · m.
// GPU layout (q2_k.ts gpuReorder): plane 0 = five vec4 words per block: the scales as word 0, chunk c's
// (values 32c ..) 2-bit quants in the 2-bit order (weights.wgsl two_bits) in half c % 2 of word 1 + c / 2;
// plane 1 (word p.plane1) = d | dmin << 16.
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
  let q = half_of(w4[5u * blk + 1u + (c >> 1u)], (c & 1u) == 1u);
  let s = half16_of(word_of4(h.sc, c >> 1u), c & 1u); // scale bytes 2c, 2c + 1
  return WChunk(
    two_bits(q.x),
    two_bits(q.y),
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
  let l = v % 32u;
  let q = (w_byte(0u, blk * 80u + 16u + 8u * (v / 32u) + 4u * (l / 16u) + l % 4u) >> (2u * ((l % 16u) / 4u))) & 3u;
  let dm = unpack2x16float(wu[p.plane1 + blk]);
  return (dm.x * f32(sc & 0xFu)) * f32(q) - dm.y * f32(sc >> 4u);
}
