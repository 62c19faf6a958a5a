// f32 activations as they are (ggml's vec_dot_type for F32 weights), read 4 values at a time from the
// activation rows at binding 3. Composed into the matmul by daemon/gpu/kernels.ts (see shaders/matmul.wgsl).

const CHUNK: u32 = 4u;
alias XChunk = vec4<f32>;

@group(0) @binding(3) var<storage, read> xv: array<vec4<u32>>;

fn x_chunk(k: u32) -> XChunk {
  return bitcast<vec4<f32>>(xv[k]);
}
