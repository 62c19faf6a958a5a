// Causal grouped-query attention over the KV cache, one invocation per (token, head), online softmax.
// q: [n_tokens, n_head, head_dim_k]; k_cache: [rows, n_head_kv, head_dim_k]; v_cache: [rows, n_head_kv, head_dim_v]
// with cache row = step.kv_base + position. Token t (position step.pos_start + t) attends to positions
// 0 ..= pos_start + t. score = scale * q.k, then softcap * tanh(score / softcap) when softcap > 0.
// out: [n_tokens, n_head, head_dim_v]. Head dims are multiples of 4, at most 256.

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { n_head: u32, n_head_kv: u32, head_dim_k: u32, head_dim_v: u32, scale: f32, softcap: f32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> k_cache: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> v_cache: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>;

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
