// Quantises f32 activations to Q8_0 blocks as llama.cpp's x86 CPU backend does before Q8_0 / Q4_0
// matmuls: per block of 32, d = f16(amax / 127), q = round_half_even(x * (127 / amax)) in [-127, 127].
// x: [rows, cols] f32 with rows = step.n_tokens * rows_per_token (mode 0) or step.n_logits rows starting
// at step.logits_start (mode 1). xq: [rows, cols / 4] packed int8; xd: [rows, cols / 32] f32 (f16-rounded).

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { cols: u32, rows_per_token: u32, mode: u32, pad0: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> xq: array<u32>;
@group(0) @binding(4) var<storage, read_write> xd: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let nb = p.cols / 32u;
  var rows = step.n_tokens * p.rows_per_token;
  var first = 0u;
  if (p.mode == 1u) { rows = step.n_logits; first = step.logits_start; }
  let idx = gid.x + gid.y * 65535u * WG;
  if (idx >= rows * nb) { return; }
  let row = first + idx / nb;
  let b = idx % nb;
  let base = (row * p.cols + b * 32u) / 4u;
  var v: array<vec4<f32>, 8>;
  var amax = 0.0;
  for (var i = 0u; i < 8u; i++) {
    v[i] = x[base + i];
    let a = abs(v[i]);
    amax = max(amax, max(max(a.x, a.y), max(a.z, a.w)));
  }
  let d = amax / 127.0;
  var id = 0.0;
  if (amax != 0.0) { id = 127.0 / amax; }
  for (var i = 0u; i < 8u; i++) {
    let q = vec4<i32>(round(v[i] * id));
    xq[base + i] = pack4xI8(q);
  }
  xd[row * nb + b] = unpack2x16float(pack2x16float(vec2<f32>(d, 0.0))).x;
}
