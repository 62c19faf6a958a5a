// Residual add over [step.n_tokens, n]: dst[t, i] += scale * src[t, i] (mode 0), or
// dst[t, i] += sigmoid(gate[t]) * src[t, i] (mode 1: a sigmoid-gated shared expert; gate [n_tokens]).

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { n: u32, scale: f32, mode: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<storage, read> gate: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x + gid.y * 65535u * WG;
  if (idx >= step.n_tokens * p.n) { return; }
  if (p.mode == 1u) {
    dst[idx] = dst[idx] + src[idx] / (1.0 + exp(-gate[idx / p.n]));
  } else {
    dst[idx] = dst[idx] + p.scale * src[idx];
  }
}
