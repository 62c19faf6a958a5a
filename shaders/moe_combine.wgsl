// The end of the expert executor: the weighted sum of the chosen experts' outputs per token,
// y[t, i] = sum_j weights[t, j] * expert_out[t * k + j, i].

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { n: u32, k: u32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> expert_out: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x + gid.y * 65535u * WG;
  if (idx >= step.n_tokens * p.n) { return; }
  let t = idx / p.n;
  let i = idx % p.n;
  var acc = 0.0;
  for (var j = 0u; j < p.k; j++) {
    acc += weights[t * p.k + j] * expert_out[(t * p.k + j) * p.n + i];
  }
  y[idx] = acc;
}
