// Rounds f32 activations to f16 (override BF16 = false) or bf16 (BF16 = true), round to nearest even, as
// llama.cpp's CPU backend converts them before a matmul with F16 / BF16 weights (their vec_dot_type;
// daemon/formats/activation-float.ts), and stores the rounded values as f32 for the matmul
// (shaders/activations/f32x8.wgsl). f16 rounding is exact (shaders/exact_math.wgsl, composed after this
// file by daemon/gpu/kernels.ts): overflow gives ±inf, f16 subnormals are kept.
// x: [rows, cols] f32 with rows = step.n_tokens * rows_per_token (mode 0) or step.n_logits rows from
// step.logits_start (mode 1); out: the same rows at the same places. One invocation per 4 values.

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { cols: u32, rows_per_token: u32, mode: u32, pad0: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> xv: array<vec4<f32>>;

override WG: u32 = 64;
override BF16: bool = false;

fn round_bf16(v: vec4<f32>) -> vec4<f32> {
  let u = bitcast<vec4<u32>>(v);
  return bitcast<vec4<f32>>((u + vec4<u32>(0x7FFFu) + ((u >> vec4<u32>(16u)) & vec4<u32>(1u))) & vec4<u32>(0xFFFF0000u));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n4 = p.cols / 4u;
  var rows = step.n_tokens * p.rows_per_token;
  var first = 0u;
  if (p.mode == 1u) { rows = step.n_logits; first = step.logits_start; }
  let idx = gid.x + gid.y * 65535u * WG;
  if (idx >= rows * n4) { return; }
  let k = first * n4 + idx;
  let v = x[k];
  if (BF16) {
    xv[k] = round_bf16(v);
  } else {
    xv[k] = vec4<f32>(round_f16_rn(v.x), round_f16_rn(v.y), round_f16_rn(v.z), round_f16_rn(v.w));
  }
}
