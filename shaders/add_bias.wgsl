// Bias add over the step's rows: x[r, i] += b[i] for r < step.n_tokens * rows_per_token, i < n
// (ggml_add of a bias vector broadcast over the rows of x).

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { n: u32, rows_per_token: u32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x + gid.y * 65535u * WG;
  if (idx >= step.n_tokens * p.rows_per_token * p.n) { return; }
  x[idx] = x[idx] + b[idx % p.n];
}
