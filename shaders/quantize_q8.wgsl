// Quantises f32 activations to 8-bit blocks of 32 as llama.cpp's x86 CPU backend does before a matmul
// whose weights take Q8_0 or Q8_1 activations (daemon/formats/activation-q8_0.ts, activation-q8_1.ts):
// per block, d = f16(amax / 127), q = round_half_even(x * (127 / amax)) in [-127, 127] (0 when amax = 0).
// Q8_1 (override Q8_1 = true) also keeps s = f16(d32 * Σ q), d32 the f32 amax / 127 before rounding.
// d and id are divided exactly, d and s rounded to f16 exactly (shaders/exact_math.wgsl, composed after this
// file by daemon/gpu/kernels.ts).
// x: [rows, cols] f32 with rows = step.n_tokens * rows_per_token (mode 0) or step.n_logits rows from
// step.logits_start (mode 1). Output in the layout of shaders/activations/q8.wgsl:
//   xv: [rows, cols] int8, four per word; xs: per block vec2(f32 bits of d, Q8_0: Σ q as i32 / Q8_1: f32 bits of s).

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { cols: u32, rows_per_token: u32, mode: u32, pad0: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> xv: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> xs: array<vec2<u32>>;

override WG: u32 = 64;
override Q8_1: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let nb = p.cols / 32u;
  var rows = step.n_tokens * p.rows_per_token;
  var first = 0u;
  if (p.mode == 1u) { rows = step.n_logits; first = step.logits_start; }
  let idx = gid.x + gid.y * 65535u * WG;
  if (idx >= rows * nb) { return; }
  let k = first * nb + idx; // block index in the buffers
  var v: array<vec4<f32>, 8>;
  var amax = 0.0;
  for (var i = 0u; i < 8u; i++) {
    v[i] = x[8u * k + i];
    let a = abs(v[i]);
    amax = max(amax, max(max(a.x, a.y), max(a.z, a.w)));
  }
  var d = 0.0;
  var id = 0.0;
  if (amax != 0.0) { d = div_rn(amax, 127.0); id = div_rn(127.0, amax); }
  var sum = vec4<i32>(0);
  var packed: array<u32, 8>;
  for (var i = 0u; i < 8u; i++) {
    let q = vec4<i32>(round(v[i] * id));
    sum += q;
    packed[i] = pack4xI8(q);
  }
  xv[2u * k] = vec4<u32>(packed[0], packed[1], packed[2], packed[3]);
  xv[2u * k + 1u] = vec4<u32>(packed[4], packed[5], packed[6], packed[7]);
  let total = sum.x + sum.y + sum.z + sum.w;
  var aux = bitcast<u32>(total);
  if (Q8_1) { aux = bitcast<u32>(round_f16_rn(d * f32(total))); }
  xs[k] = vec2<u32>(bitcast<u32>(round_f16_rn(d)), aux);
}
