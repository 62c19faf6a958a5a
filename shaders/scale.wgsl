// In-place scale: buf[r, i] *= scale over rows r of length n; mode 0: rows 0 .. step.n_tokens * rows_per_token,
// mode 1: the logits rows 0 .. step.n_logits.

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { n: u32, scale: f32, mode: u32, rows_per_token: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read_write> buf: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x + gid.y * 65535u * WG;
  var rows = step.n_tokens * p.rows_per_token;
  if (p.mode == 1u) { rows = step.n_logits; }
  if (idx >= rows * p.n) { return; }
  buf[idx] = buf[idx] * p.scale;
}
