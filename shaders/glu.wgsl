// Gated linear unit in place: gate[r, i] = act(gate[r, i]) * up[r, i] over rows = step.n_tokens * rows_per_token
// (rows_per_token = n_expert_used for expert slots, 1 for dense / shared FFNs).
// act 0 = SiLU x / (1 + e^-x); 1 = GELU (tanh form). With gelu_f16 set, GELU is evaluated as ggml's CPU
// backend does: looked up in a table of f16(gelu(f16 x)) indexed by the f16 bits of x (built on the host,
// gelu-table.ts), exact 0 / x outside [-10, 10].

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { n: u32, rows_per_token: u32, act: u32, gelu_f16: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read_write> gate: array<f32>;
@group(0) @binding(3) var<storage, read> up: array<f32>;
@group(0) @binding(4) var<storage, read> gelu_table: array<u32>;

override WG: u32 = 64;

// f16_bits(x): shaders/f16_bits.wgsl, composed after this file.

fn gelu(x: f32) -> f32 {
  if (p.gelu_f16 != 0u) {
    if (x <= -10.0) { return 0.0; }
    if (x >= 10.0) { return x; }
    let bits = f16_bits(x);
    return unpack2x16float(gelu_table[bits / 2u])[bits % 2u];
  }
  // WGSL's tanh may be sinh/cosh, which is inf/inf = NaN past |u| ~ 44 (it is on SwiftShader); tanh(±10)
  // is already ±1 in f32, so clamping changes no result.
  let u = clamp(0.7978845608028654 * x * (1.0 + 0.044715 * x * x), -10.0, 10.0);
  return 0.5 * x * (1.0 + tanh(u));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x + gid.y * 65535u * WG;
  if (idx >= step.n_tokens * p.rows_per_token * p.n) { return; }
  let g = gate[idx];
  var a = 0.0;
  if (p.act == 0u) { a = g / (1.0 + exp(-g)); } else { a = gelu(g); }
  gate[idx] = a * up[idx];
}
