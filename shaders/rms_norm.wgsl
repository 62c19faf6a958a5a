// RMS norm: y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * weight[:]   (weight optional)
// Rows: step.n_tokens * rows_per_token of length n (e.g. [n_tokens, n_embd], or per-head
// [n_tokens * n_head, head_dim] for q/k norms). `main` writes y from x; `main_inplace` normalises buf.

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { n: u32, rows_per_token: u32, has_weight: u32, eps: f32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> buf: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x + gid.y * 65535u * WG; // grids past 65535 workgroups fold into y (graph-builder grid())
  if (row >= step.n_tokens * p.rows_per_token) { return; }
  let base = row * p.n;
  var ss = 0.0;
  for (var i = 0u; i < p.n; i++) { let v = x[base + i]; ss += v * v; }
  let s = 1.0 / sqrt(ss / f32(p.n) + p.eps);
  for (var i = 0u; i < p.n; i++) {
    var v = x[base + i] * s;
    if (p.has_weight != 0u) { v *= weight[i]; }
    y[base + i] = v;
  }
}

@compute @workgroup_size(WG)
fn main_inplace(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x + gid.y * 65535u * WG; // grids past 65535 workgroups fold into y (graph-builder grid())
  if (row >= step.n_tokens * p.rows_per_token) { return; }
  let base = row * p.n;
  var ss = 0.0;
  for (var i = 0u; i < p.n; i++) { let v = buf[base + i]; ss += v * v; }
  let s = 1.0 / sqrt(ss / f32(p.n) + p.eps);
  for (var i = 0u; i < p.n; i++) {
    var v = buf[base + i] * s;
    if (p.has_weight != 0u) { v *= weight[i]; }
    buf[base + i] = v;
  }
}
