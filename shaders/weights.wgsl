// The weight bindings and decoding helpers shared by the format files (shaders/formats/*.wgsl), composed
// into matmul.wgsl and get_rows.wgsl by daemon/gpu/kernels.ts; not a module on its own.
// The same buffer — one row shard of a weight matrix, in the planes of weight-layout.ts — is bound twice:
// as 16-byte words for the vector loads of whole blocks, and as 4-byte words for the small planes (scales).

@group(0) @binding(2) var<storage, read> w4: array<vec4<u32>>;
@group(0) @binding(8) var<storage, read> wu: array<u32>;

// The f16 (as f32, subnormals included) at index i of a region of 2-byte values starting at word `at`.
fn w_f16(at: u32, i: u32) -> f32 {
  return unpack2x16float(wu[at + i / 2u])[i & 1u];
}

// The byte at index i of a region of 1-byte values starting at word `at`.
fn w_byte(at: u32, i: u32) -> u32 {
  return (wu[at + i / 4u] >> (8u * (i & 3u))) & 0xFFu;
}

// Byte i of the word (i = 0..3), and of a vec2 / vec4 of words (i = 0..7 / 0..15). Selects and constant
// shifts only: shifts by per-invocation amounts are slow on software adapters (no variable vector shifts).
fn byte_of(v: u32, i: u32) -> u32 {
  let h = select(v, v >> 16u, i >= 2u);
  return select(h, h >> 8u, (i & 1u) == 1u) & 0xFFu;
}
fn byte_of2(v: vec2<u32>, i: u32) -> u32 {
  return byte_of(select(v.x, v.y, i >= 4u), i & 3u);
}
fn word_of4(v: vec4<u32>, i: u32) -> u32 {
  return select(select(v.x, v.y, i == 1u), select(v.z, v.w, i == 3u), i >= 2u);
}
// Half i (0, 1) of a word.
fn half16_of(v: u32, i: u32) -> u32 {
  return select(v, v >> 16u, i == 1u);
}

// The GPU orders of daemon/formats/gpu-order.ts, unpacked into a chunk's int8 words (q0: values 0–15,
// word i holding values 4i..4i+3; q1: values 16–31).
// 16 bytes of nibbles (byte j: value j low, value j + 16 high).
fn nibbles_lo(w: vec4<u32>) -> vec4<u32> { return w & vec4<u32>(0x0F0F0F0Fu); }
fn nibbles_hi(w: vec4<u32>) -> vec4<u32> { return (w >> vec4<u32>(4u)) & vec4<u32>(0x0F0F0F0Fu); }
// 2-bit fields: word h holds 16 values, byte b the values b, 4 + b, 8 + b, 12 + b at bits 0, 2, 4, 6.
fn two_bits(h: u32) -> vec4<u32> { return (vec4<u32>(h) >> vec4<u32>(0u, 2u, 4u, 6u)) & vec4<u32>(0x03030303u); }
// 1-bit fields: bit v of the word is value v's; returns values 0–15 (hi = false) or 16–31 as 0/1 bytes.
fn one_bits(w: u32, hi: bool) -> vec4<u32> {
  return bits_to_bytes(vec4<u32>(w) >> (vec4<u32>(0u, 4u, 8u, 12u) + vec4<u32>(select(0u, 16u, hi))));
}
// Two words of a vec4 word: the first half (c even) or the second.
fn half_of(v: vec4<u32>, second: bool) -> vec2<u32> { return select(v.xy, v.zw, second); }

// Bits 0..3 of each component to bit 0 of its four bytes (bit j to byte j): the products land on disjoint
// bit positions, so nothing carries.
fn bits_to_bytes(b: vec4<u32>) -> vec4<u32> {
  return ((b & vec4<u32>(0xFu)) * 0x00204081u) & vec4<u32>(0x01010101u);
}

fn mux_bytes(a: vec4<u32>, b: vec4<u32>, m: vec4<u32>) -> vec4<u32> {
  return a ^ ((a ^ b) & m);
}

fn pick_bytes(a: u32, b: u32, m: vec4<u32>) -> vec4<u32> {
  return vec4<u32>(a) ^ (vec4<u32>(a ^ b) & m);
}

// A 16-entry table lookup on every byte at once: q holds an index 0..15 in each byte, t[i] is entry i
// repeated in all four bytes; returns the entries, one per byte. A tree of byte-wise selects on the
// index bits (no memory reads, no per-byte shifts).
fn lut16(q: vec4<u32>, t: array<u32, 16>) -> vec4<u32> {
  let one = vec4<u32>(0x01010101u);
  let m0 = (q & one) * 0xFFu;
  let m1 = ((q >> vec4<u32>(1u)) & one) * 0xFFu;
  let m2 = ((q >> vec4<u32>(2u)) & one) * 0xFFu;
  let m3 = ((q >> vec4<u32>(3u)) & one) * 0xFFu;
  let a = mux_bytes(mux_bytes(pick_bytes(t[0], t[1], m0), pick_bytes(t[2], t[3], m0), m1), mux_bytes(pick_bytes(t[4], t[5], m0), pick_bytes(t[6], t[7], m0), m1), m2);
  let b = mux_bytes(mux_bytes(pick_bytes(t[8], t[9], m0), pick_bytes(t[10], t[11], m0), m1), mux_bytes(pick_bytes(t[12], t[13], m0), pick_bytes(t[14], t[15], m0), m1), m2);
  return mux_bytes(a, b, m3);
}

// The signed byte lut16 returns for entry i, sign-extended.
fn lut16_one(q: u32, t: array<u32, 16>) -> i32 {
  return bitcast<i32>(lut16(vec4<u32>(q), t).x << 24u) >> 24u;
}

// ggml's kvalues_iq4nl (IQ4_NL and IQ4_XS share the grid) as lut16 entries:
// -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113.
const IQ4_GRID = array<u32, 16>(
  0x81818181u, 0x98989898u, 0xADADADADu, 0xBFBFBFBFu, 0xCFCFCFCFu, 0xDDDDDDDDu, 0xEAEAEAEAu, 0xF6F6F6F6u,
  0x01010101u, 0x0D0D0D0Du, 0x19191919u, 0x26262626u, 0x35353535u, 0x45454545u, 0x59595959u, 0x71717171u);
