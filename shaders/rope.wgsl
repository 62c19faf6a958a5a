// Rotary position embedding on [n_tokens, n_head, head_dim] rows; token t is at position step.pos_start + t.
// mode 0 = NORM (rotates adjacent pairs (2i, 2i+1)), 1 = NEOX (rotates (i, i + n_rot/2)).
// Dims >= n_rot are copied unchanged. cs: [n_ctx, n_rot/2] (cos, sin) table computed in float64 on the host.
// `main_inplace` rotates buf in place (q). `main_to_cache` reads src and writes the rotated rows into the
// KV cache dst at row step.kv_base + step.pos_start + t (k); `main_to_cache_f16` does the same into an f16
// cache dst_f16, two halves per u32 (low half first), each rounded to nearest even as ggml stores them.

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { n_head: u32, head_dim: u32, n_rot: u32, mode: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> cs: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;
@group(0) @binding(4) var<storage, read> src: array<f32>;
@group(0) @binding(5) var<storage, read_write> dst: array<f32>;
@group(0) @binding(6) var<storage, read_write> dst_f16: array<u32>;

override WG: u32 = 64;

// Index pair (a, b) inside a head for rotation i, and the rotation angle index.
fn pair(i: u32) -> vec2<u32> {
  if (p.mode == 0u) { return vec2<u32>(2u * i, 2u * i + 1u); }
  return vec2<u32>(i, i + p.n_rot / 2u);
}

@compute @workgroup_size(WG)
fn main_inplace(@builtin(global_invocation_id) gid: vec3<u32>) {
  let half = p.n_rot / 2u;
  let idx = gid.x + gid.y * 65535u * WG; // grids past 65535 workgroups fold into y (graph-builder grid())
  if (idx >= step.n_tokens * p.n_head * half) { return; }
  let i = idx % half;
  let th = idx / half;          // t * n_head + h
  let t = th / p.n_head;
  let base = th * p.head_dim;
  let c = cs[(step.pos_start + t) * half + i];
  let ab = pair(i);
  let x0 = buf[base + ab.x];
  let x1 = buf[base + ab.y];
  buf[base + ab.x] = x0 * c.x - x1 * c.y;
  buf[base + ab.y] = x0 * c.y + x1 * c.x;
}

// Dim d of head h of token t of src, rotated (dims >= n_rot pass through).
fn rotated(t: u32, th: u32, d: u32) -> f32 {
  let sbase = th * p.head_dim;
  if (d >= p.n_rot) { return src[sbase + d]; }
  let half = p.n_rot / 2u;
  // Which rotation this dim belongs to, and whether it is the first or second of its pair.
  var i = 0u; var first = true;
  if (p.mode == 0u) { i = d / 2u; first = (d % 2u) == 0u; } else { i = d % half; first = d < half; }
  let ab = pair(i);
  let c = cs[(step.pos_start + t) * half + i];
  let x0 = src[sbase + ab.x];
  let x1 = src[sbase + ab.y];
  if (first) { return x0 * c.x - x1 * c.y; }
  return x0 * c.y + x1 * c.x;
}

@compute @workgroup_size(WG)
fn main_to_cache(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x + gid.y * 65535u * WG; // grids past 65535 workgroups fold into y (graph-builder grid())
  let hd = p.head_dim;
  if (idx >= step.n_tokens * p.n_head * hd) { return; }
  let d = idx % hd;
  let th = idx / hd;
  let t = th / p.n_head;
  let h = th % p.n_head;
  dst[((step.kv_base + step.pos_start + t) * p.n_head + h) * hd + d] = rotated(t, th, d);
}

// f16_bits(x): shaders/f16_bits.wgsl, composed after this file.

// One invocation per pair of adjacent dims (head_dim is even): one u32 of the f16 cache.
@compute @workgroup_size(WG)
fn main_to_cache_f16(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x + gid.y * 65535u * WG; // grids past 65535 workgroups fold into y (graph-builder grid())
  let hd2 = p.head_dim / 2u;
  if (idx >= step.n_tokens * p.n_head * hd2) { return; }
  let d = (idx % hd2) * 2u;
  let th = idx / hd2;
  let t = th / p.n_head;
  let h = th % p.n_head;
  let lo = f16_bits(rotated(t, th, d));
  let hi = f16_bits(rotated(t, th, d + 1u));
  dst_f16[(((step.kv_base + step.pos_start + t) * p.n_head + h) * p.head_dim + d) / 2u] = lo | (hi << 16u);
}
