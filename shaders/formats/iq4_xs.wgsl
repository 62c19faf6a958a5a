// IQ4_XS weights (daemon/formats/iq4_xs.ts): super-blocks of 256 = 8 sub-blocks of 32: f16 d (often an
// f16 subnormal), scales_h (u16: bits 2s of sub-block s's 6-bit scale's top bits), scales_l[4] (low 4 bits,
// sub-block s in nibble s % 2 of byte s / 2), qs[128] (sub-block s: byte 16s + j holds the grid indices of
// values 32s + j low and 32s + 16 + j high);  w = d · (ls − 32) · grid[q].
// GPU planes: 0 = qs, eight vec4 words per block (one per sub-block); 1 (word p.plane1) = d | scales_h << 16
// then scales_l, two words per block.
// Activations Q8_K (activations/q8.wgsl). Dot as ggml_vec_dot_iq4_xs_q8_K: d · d_x · Σ_s (ls − 32) · Σ grid[q_w] · q_x
// (the grid looked up four bytes at a time, weights.wgsl lut16). A chunk is one sub-block.
// Composed by daemon/gpu/kernels.ts into matmul.wgsl and get_rows.wgsl (see matmul.wgsl).

const QK: u32 = 256u;
const CHUNKS: u32 = 8u;

// ls: the 8 six-bit scales as bytes (sub-block s in byte s % 4 of component s / 4)
struct WHead { d: f32, ls: vec2<u32> }
struct WChunk { q0: vec4<u32>, q1: vec4<u32>, s: f32 }

fn w_head(blk: u32) -> WHead {
  let v = wu[p.plane1 + 2u * blk];
  let sl = wu[p.plane1 + 2u * blk + 1u]; // nibble s: the low 4 bits of scale s
  let sh = v >> 16u; // bits 2s, 2s + 1: its top 2 bits
  // sub-blocks 0–3 / 4–7 as bytes: low nibbles spread to bytes, top bits to bits 4–5 of each byte
  let lo = vec2<u32>(spread_nibbles(sl & 0xFFFFu), spread_nibbles(sl >> 16u));
  let hi = vec2<u32>(spread_pairs(sh & 0xFFu), spread_pairs(sh >> 8u));
  return WHead(unpack2x16float(v).x, lo | (hi << vec2<u32>(4u)));
}

// Four nibbles (16 bits) to the low nibbles of four bytes.
fn spread_nibbles(n: u32) -> u32 {
  return (n & 0xFu) | ((n & 0xF0u) << 4u) | ((n & 0xF00u) << 8u) | ((n & 0xF000u) << 12u);
}

// Four 2-bit fields (8 bits) to bits 0–1 of four bytes.
fn spread_pairs(n: u32) -> u32 {
  return (n & 3u) | ((n & 0xCu) << 6u) | ((n & 0x30u) << 12u) | ((n & 0xC0u) << 18u);
}

fn ls_of(h: WHead, s: u32) -> i32 {
  return i32(byte_of2(h.ls, s)) - 32;
}

fn w_chunk(blk: u32, c: u32, h: WHead) -> WChunk {
  let q = w4[8u * blk + c];
  return WChunk(lut16(q & vec4<u32>(0x0F0F0F0Fu), IQ4_GRID), lut16((q >> vec4<u32>(4u)) & vec4<u32>(0x0F0F0F0Fu), IQ4_GRID), h.d * f32(ls_of(h, c)));
}

fn chunk_dot(w: WChunk, x: XChunk) -> f32 {
  return f32(dot32(w.q0, w.q1, x)) * (w.s * x.d);
}

fn dequant(row: u32, i: u32) -> f32 {
  let blk = row * (p.cols / QK) + i / QK;
  let v = i % QK;
  let h = w_head(blk);
  let s = v / 32u;
  let j = v % 32u;
  let q = (w_byte(0u, blk * 128u + 16u * s + j % 16u) >> (4u * (j / 16u))) & 0xFu;
  return (h.d * f32(ls_of(h, s))) * f32(lut16_one(q, IQ4_GRID));
}
