// Causal grouped-query attention over the KV cache, one invocation per (token, head), online softmax.
// q: [n_tokens, n_head, head_dim_k]; k_cache: [rows, n_head_kv, head_dim_k]; v_cache: [rows, n_head_kv, head_dim_v]
// with cache row = step.kv_base + position. Token t (position step.pos_start + t) attends to positions
// 0 ..= pos_start + t. score = scale * q.k, then softcap * tanh(score / softcap) when softcap > 0.
// out: [n_tokens, n_head, head_dim_v]. Head dims are multiples of 4, at most 256.
// `main_f16` reads an f16 cache (k_f16, v_f16: halves two per u32, low half first) and rounds as ggml does
// without flash attention: q to f16 before q·k, and each probability to f16 before p·v. That needs the
// softmax's max and sum before the first probability, so it runs over the positions twice (scores, then
// probabilities times values); `main` keeps an online softmax over the f32 cache.

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { n_head: u32, n_head_kv: u32, head_dim_k: u32, head_dim_v: u32, scale: f32, softcap: f32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> k_cache: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> v_cache: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> k_f16: array<vec2<u32>>;
@group(0) @binding(7) var<storage, read> v_f16: array<vec2<u32>>;

override WG: u32 = 32;
const MAX_D4: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x + gid.y * 65535u * WG; // grids past 65535 workgroups fold into y (graph-builder grid())
  if (idx >= step.n_tokens * p.n_head) { return; }
  let t = idx / p.n_head;
  let h = idx % p.n_head;
  let hkv = h / (p.n_head / p.n_head_kv);
  let dk4 = p.head_dim_k / 4u;
  let dv4 = p.head_dim_v / 4u;
  var qv: array<vec4<f32>, MAX_D4>;
  for (var i = 0u; i < dk4; i++) { qv[i] = q[idx * dk4 + i]; }
  var acc: array<vec4<f32>, MAX_D4>;
  var m = -3.0e38;
  var l = 0.0;
  let n = step.pos_start + t + 1u;
  for (var j = 0u; j < n; j++) {
    let row = step.kv_base + j;
    let kb = (row * p.n_head_kv + hkv) * dk4;
    var s4 = vec4<f32>(0.0);
    for (var i = 0u; i < dk4; i++) { s4 += qv[i] * k_cache[kb + i]; }
    var s = (s4.x + s4.y + s4.z + s4.w) * p.scale;
    // tanh through sinh/cosh is NaN past |x| ~ 44 on some implementations; tanh(±10) is ±1 in f32.
    if (p.softcap > 0.0) { s = p.softcap * tanh(clamp(s / p.softcap, -10.0, 10.0)); }
    let vb = (row * p.n_head_kv + hkv) * dv4;
    if (s > m) {
      let corr = exp(m - s);
      m = s;
      l = l * corr + 1.0;
      for (var i = 0u; i < dv4; i++) { acc[i] = acc[i] * corr + v_cache[vb + i]; }
    } else {
      let e = exp(s - m);
      l += e;
      for (var i = 0u; i < dv4; i++) { acc[i] += e * v_cache[vb + i]; }
    }
  }
  let inv = 1.0 / l;
  for (var i = 0u; i < dv4; i++) { out[idx * dv4 + i] = acc[i] * inv; }
}

// f16_bits(x): shaders/f16_bits.wgsl, composed after this file.

fn round_f16(x: f32) -> f32 { return unpack2x16float(f16_bits(x)).x; }
fn unpack4(w: vec2<u32>) -> vec4<f32> { return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y)); }

// score of query qv against cache row `row` of kv head hkv (f16 cache), scaled and soft-capped
fn score_f16(qv: ptr<function, array<vec4<f32>, MAX_D4>>, row: u32, hkv: u32, dk4: u32) -> f32 {
  let kb = (row * p.n_head_kv + hkv) * dk4;
  var s4 = vec4<f32>(0.0);
  for (var i = 0u; i < dk4; i++) { s4 += (*qv)[i] * unpack4(k_f16[kb + i]); }
  var s = (s4.x + s4.y + s4.z + s4.w) * p.scale;
  if (p.softcap > 0.0) { s = p.softcap * tanh(clamp(s / p.softcap, -10.0, 10.0)); }
  return s;
}

@compute @workgroup_size(WG)
fn main_f16(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x + gid.y * 65535u * WG; // grids past 65535 workgroups fold into y (graph-builder grid())
  if (idx >= step.n_tokens * p.n_head) { return; }
  let t = idx / p.n_head;
  let h = idx % p.n_head;
  let hkv = h / (p.n_head / p.n_head_kv);
  let dk4 = p.head_dim_k / 4u;
  let dv4 = p.head_dim_v / 4u;
  var qv: array<vec4<f32>, MAX_D4>;
  for (var i = 0u; i < dk4; i++) {
    let x = q[idx * dk4 + i];
    qv[i] = vec4<f32>(round_f16(x.x), round_f16(x.y), round_f16(x.z), round_f16(x.w));
  }
  let n = step.pos_start + t + 1u;
  // pass 1: the maximum and the sum of exp(score - maximum)
  var m = -3.0e38;
  var l = 0.0;
  for (var j = 0u; j < n; j++) {
    let s = score_f16(&qv, step.kv_base + j, hkv, dk4);
    if (s > m) { l = l * exp(m - s) + 1.0; m = s; } else { l += exp(s - m); }
  }
  let inv = 1.0 / l;
  // pass 2: probabilities rounded to f16, times the values
  var acc: array<vec4<f32>, MAX_D4>;
  for (var j = 0u; j < n; j++) {
    let row = step.kv_base + j;
    let pj = round_f16(exp(score_f16(&qv, row, hkv, dk4) - m) * inv);
    let vb = (row * p.n_head_kv + hkv) * dv4;
    for (var i = 0u; i < dv4; i++) { acc[i] += pj * unpack4(v_f16[vb + i]); }
  }
  for (var i = 0u; i < dv4; i++) { out[idx * dv4 + i] = acc[i]; }
}
