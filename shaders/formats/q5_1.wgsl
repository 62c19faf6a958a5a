// Q5_1 weights (daemon/formats/q5_1.ts): blocks of 32 = f16 d, f16 m, u32 qh (fifth bits, as Q5_0),
// 16 bytes of low nibbles;  w = q · d + m.
// GPU planes: 0 = the nibbles, one vec4 word per block; 1 (word p.plane1) = d | m << 16 then qh, two
// words per block.
// Activations Q8_1 (activations/q8.wgsl). Block dot as ggml_vec_dot_q5_1_q8_1: d_w · d_x · Σ q_w · q_x +
// m · s_x (s_x: the activation block's stored f16 sum).
// Composed by daemon/gpu/kernels.ts into matmul.wgsl and get_rows.wgsl (see matmul.wgsl).

const QK: u32 = 32u;
const CHUNKS: u32 = 1u;

alias WHead = u32;
struct WChunk { q0: vec4<u32>, q1: vec4<u32>, dm: vec2<f32> }

fn w_head(blk: u32) -> WHead { return 0u; }

fn w_chunk(blk: u32, c: u32, h: WHead) -> WChunk {
  let q = w4[blk];
  let qh = vec4<u32>(wu[p.plane1 + 2u * blk + 1u]);
  let lo = (q & vec4<u32>(0x0F0F0F0Fu)) | (bits_to_bytes(qh >> vec4<u32>(0u, 4u, 8u, 12u)) << vec4<u32>(4u));
  let hi = ((q >> vec4<u32>(4u)) & vec4<u32>(0x0F0F0F0Fu)) | (bits_to_bytes(qh >> vec4<u32>(16u, 20u, 24u, 28u)) << vec4<u32>(4u));
  return WChunk(lo, hi, unpack2x16float(wu[p.plane1 + 2u * blk]));
}

fn chunk_dot(w: WChunk, x: XChunk) -> f32 {
  return f32(dot32(w.q0, w.q1, x)) * (w.dm.x * x.d) + w.dm.y * x_s(x);
}

fn dequant(row: u32, i: u32) -> f32 {
  let blk = row * (p.cols / QK) + i / QK;
  let j = i % QK;
  let q = ((w_byte(0u, blk * 16u + j % 16u) >> (4u * (j / 16u))) & 0xFu) | (((wu[p.plane1 + 2u * blk + 1u] >> j) & 1u) << 4u);
  let dm = unpack2x16float(wu[p.plane1 + 2u * blk]);
  return f32(q) * dm.x + dm.y;
}
