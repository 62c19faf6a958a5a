// The MoE routing step (daemon/model/routing.ts routeTokens), one invocation per token: router logits
// [n_tokens, n_expert] -> gating (softmax over all experts, or sigmoid) -> top-k (descending, lower expert
// index wins ties) -> weights = gating values of the chosen experts, renormalised to sum 1 when `norm` is
// set (divided by max(sum, 6.103515625e-5)), times `scale`. ids: [n_tokens, k] u32; weights: [n_tokens, k]
// f32. n_expert <= 256.

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { n_expert: u32, k: u32, norm: u32, gating: u32, scale: f32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> ids: array<u32>;
@group(0) @binding(4) var<storage, read_write> weights: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x + gid.y * 65535u * WG; // grids past 65535 workgroups fold into y (graph-builder grid())
  if (t >= step.n_tokens) { return; }
  let base = t * p.n_expert;
  var mx = -3.0e38;
  for (var e = 0u; e < p.n_expert; e++) { mx = max(mx, logits[base + e]); }
  var sum = 0.0;
  if (p.gating == 0u) {
    for (var e = 0u; e < p.n_expert; e++) { sum += exp(logits[base + e] - mx); }
  }
  var taken: array<bool, 256>;
  var wsum = 0.0;
  for (var j = 0u; j < p.k; j++) {
    var best = 0u;
    var bv = -3.0e38;
    for (var e = 0u; e < p.n_expert; e++) {
      let v = logits[base + e];
      if (!taken[e] && v > bv) { bv = v; best = e; }
    }
    taken[best] = true;
    var pr = 0.0;
    if (p.gating == 0u) { pr = exp(bv - mx) / sum; } else { pr = 1.0 / (1.0 + exp(-bv)); }
    ids[t * p.k + j] = best;
    weights[t * p.k + j] = pr;
    wsum += pr;
  }
  var div = 1.0;
  if (p.norm != 0u) { div = max(wsum, 6.103515625e-5); }
  for (var j = 0u; j < p.k; j++) { weights[t * p.k + j] = weights[t * p.k + j] / div * p.scale; }
}
