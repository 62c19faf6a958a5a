// BF16 weights (daemon/formats/bf16.ts): [rows, cols] bfloat16 as in the file, two per word (element 2j
// in the low half); activations rounded to bf16 (round_activations.wgsl, read by activations/f32x8.wgsl),
// products summed in f32. A block is 8 values (one vec4 word). Composed by daemon/gpu/kernels.ts into
// matmul.wgsl and get_rows.wgsl (see matmul.wgsl).

const QK: u32 = 8u;
const CHUNKS: u32 = 1u;

alias WHead = u32;
struct WChunk { lo: vec4<f32>, hi: vec4<f32> }

fn w_head(blk: u32) -> WHead { return 0u; }

fn bf16_pairs(a: u32, b: u32) -> vec4<f32> {
  return bitcast<vec4<f32>>(vec4<u32>(a << 16u, a & 0xFFFF0000u, b << 16u, b & 0xFFFF0000u));
}

fn w_chunk(blk: u32, c: u32, h: WHead) -> WChunk {
  let q = w4[blk];
  return WChunk(bf16_pairs(q.x, q.y), bf16_pairs(q.z, q.w));
}

fn chunk_dot(w: WChunk, x: XChunk) -> f32 {
  return dot(w.lo, x.lo) + dot(w.hi, x.hi);
}

fn dequant(row: u32, i: u32) -> f32 {
  let e = row * p.cols + i;
  return bitcast<f32>(((wu[e / 2u] >> (16u * (e & 1u))) & 0xFFFFu) << 16u);
}
