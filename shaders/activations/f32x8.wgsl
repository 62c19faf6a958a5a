// f32 activation rows read 8 values at a time (binding 3), for the F16 and BF16 weight formats. ggml
// rounds their activations to F16 / BF16 (its vec_dot_type) first: shaders/round_activations.wgsl does that
// once per row before the matmul, writing the rounded values as f32, so the matmul reads them as they are.
// Composed into the matmul by daemon/gpu/kernels.ts (see shaders/matmul.wgsl).

const CHUNK: u32 = 8u;

struct XChunk { lo: vec4<f32>, hi: vec4<f32> }

@group(0) @binding(3) var<storage, read> xv: array<vec4<u32>>;

fn x_chunk(k: u32) -> XChunk {
  return XChunk(bitcast<vec4<f32>>(xv[2u * k]), bitcast<vec4<f32>>(xv[2u * k + 1u]));
}
