// Quantises f32 activations to Q8_K blocks of 256 as llama.cpp's CPU backend does before a matmul whose
// weights take Q8_K activations (the K-quants, IQ4_XS; daemon/formats/activation-q8_k.ts,
// quantize_row_q8_K_ref, which x86 runs as is): max = the value of largest magnitude (the first one on
// ties, sign kept), iscale = -127 / max, q = min(127, round_half_even(iscale * x)), d = 1 / iscale, and the
// sums of q over each 16 values; an all-zero block is all zeros.
// Both divisions are exact (shaders/exact_math.wgsl, composed after this file by daemon/gpu/kernels.ts).
// x: [rows, cols] f32, rows as in quantize_q8.wgsl (mode 0: step tokens x rows_per_token, mode 1: logits rows).
// Output in the layout of shaders/activations/q8.wgsl: xv: [rows, cols] int8, four per word; xs: per 32
// values vec2(f32 bits of the 256-block's d, Σ q of values 0–15 | Σ q of values 16–31 << 16).

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { cols: u32, rows_per_token: u32, mode: u32, pad0: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> xv: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> xs: array<vec2<u32>>;

override WG: u32 = 64;

// Σ q over 16 values (4 words of 4), and the words.
fn quantize16(at: u32, iscale: f32, out: ptr<function, vec4<u32>>) -> i32 {
  var s = vec4<i32>(0);
  var w = vec4<u32>(0u);
  for (var i = 0u; i < 4u; i++) {
    let q = min(vec4<i32>(round(iscale * x[at + i])), vec4<i32>(127));
    s += q;
    w[i] = pack4xI8(q);
  }
  *out = w;
  return s.x + s.y + s.z + s.w;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let nb = p.cols / 256u;
  var rows = step.n_tokens * p.rows_per_token;
  var first = 0u;
  if (p.mode == 1u) { rows = step.n_logits; first = step.logits_start; }
  let idx = gid.x + gid.y * 65535u * WG;
  if (idx >= rows * nb) { return; }
  let k = first * nb + idx; // 256-block index; its 32-value chunks are 8k .. 8k + 7
  var amax = 0.0;
  var vmax = 0.0;
  for (var i = 0u; i < 64u; i++) {
    let v = x[64u * k + i];
    let a = abs(v);
    // in order, strictly greater: the first value of largest magnitude wins
    if (a.x > amax) { amax = a.x; vmax = v.x; }
    if (a.y > amax) { amax = a.y; vmax = v.y; }
    if (a.z > amax) { amax = a.z; vmax = v.z; }
    if (a.w > amax) { amax = a.w; vmax = v.w; }
  }
  if (amax == 0.0) {
    for (var c = 0u; c < 8u; c++) {
      xv[2u * (8u * k + c)] = vec4<u32>(0u);
      xv[2u * (8u * k + c) + 1u] = vec4<u32>(0u);
      xs[8u * k + c] = vec2<u32>(0u);
    }
    return;
  }
  let iscale = div_rn(-127.0, vmax);
  let d = bitcast<u32>(div_rn(1.0, iscale));
  for (var c = 0u; c < 8u; c++) {
    var lo: vec4<u32>;
    var hi: vec4<u32>;
    let s0 = quantize16(64u * k + 8u * c, iscale, &lo);
    let s1 = quantize16(64u * k + 8u * c + 4u, iscale, &hi);
    xv[2u * (8u * k + c)] = lo;
    xv[2u * (8u * k + c) + 1u] = hi;
    xs[8u * k + c] = vec2<u32>(d, (bitcast<u32>(s0) & 0xFFFFu) | (bitcast<u32>(s1) << 16u));
  }
}
