// Copies [n_tokens, n] rows of src into dst at row step.kv_base + step.pos_start + t (V into the KV cache).
// `main` keeps f32; `main_f16` stores halves (rounded to nearest even, as ggml) two per u32, low half first,
// into dst_f16 [rows, n / 2]. n is a multiple of 4.

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { n: u32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dst_f16: array<vec2<u32>>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n4 = p.n / 4u;
  let idx = gid.x + gid.y * 65535u * WG; // grids past 65535 workgroups fold into y (graph-builder grid())
  if (idx >= step.n_tokens * n4) { return; }
  dst[(step.kv_base + step.pos_start) * n4 + idx] = src[idx];
}

// f16_bits(x): shaders/f16_bits.wgsl, composed after this file.

@compute @workgroup_size(WG)
fn main_f16(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n4 = p.n / 4u;
  let idx = gid.x + gid.y * 65535u * WG; // grids past 65535 workgroups fold into y (graph-builder grid())
  if (idx >= step.n_tokens * n4) { return; }
  let x = src[idx];
  dst_f16[(step.kv_base + step.pos_start) * n4 + idx] = vec2<u32>(f16_bits(x.x) | (f16_bits(x.y) << 16u), f16_bits(x.z) | (f16_bits(x.w) << 16u));
}
