// F32 weights (daemon/formats/f32.ts): [rows, cols] f32 as in the file; activations f32
// (activations/f32.wgsl). A block is 4 values (one vec4 word). Composed by daemon/gpu/kernels.ts into
// matmul.wgsl and get_rows.wgsl (see matmul.wgsl for the functions every format file defines).

const QK: u32 = 4u;
const CHUNKS: u32 = 1u;

alias WHead = u32;
alias WChunk = vec4<f32>;

fn w_head(blk: u32) -> WHead { return 0u; }

fn w_chunk(blk: u32, c: u32, h: WHead) -> WChunk {
  return bitcast<vec4<f32>>(w4[blk]);
}

fn chunk_dot(w: WChunk, x: XChunk) -> f32 {
  return dot(w, x);
}

fn dequant(row: u32, i: u32) -> f32 {
  return bitcast<f32>(wu[row * p.cols + i]);
}
