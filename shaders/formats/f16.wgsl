// F16 weights (daemon/formats/f16.ts): [rows, cols] f16 as in the file, two per word; activations
// rounded to f16 (round_activations.wgsl, read by activations/f32x8.wgsl), products summed in f32.
// A block is 8 values (one vec4 word). Composed by daemon/gpu/kernels.ts into matmul.wgsl and
// get_rows.wgsl (see matmul.wgsl).

const QK: u32 = 8u;
const CHUNKS: u32 = 1u;

alias WHead = u32;
struct WChunk { lo: vec4<f32>, hi: vec4<f32> }

fn w_head(blk: u32) -> WHead { return 0u; }

fn w_chunk(blk: u32, c: u32, h: WHead) -> WChunk {
  let q = w4[blk];
  return WChunk(vec4<f32>(unpack2x16float(q.x), unpack2x16float(q.y)), vec4<f32>(unpack2x16float(q.z), unpack2x16float(q.w)));
}

fn chunk_dot(w: WChunk, x: XChunk) -> f32 {
  return dot(w.lo, x.lo) + dot(w.hi, x.hi);
}

fn dequant(row: u32, i: u32) -> f32 {
  return w_f16(0u, row * p.cols + i);
}
