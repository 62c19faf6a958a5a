// y[t, y_col_offset + r] = sum_c W[r, c] * f16(x[t, c])  for one row shard of an F16 matrix.
// W: [rows, cols] f16, two per u32 (cols % 8 == 0); x: [n, x_stride] f32, rounded to f16 first as
// llama.cpp's CPU backend does before F16 matmuls; accumulation in f32.
// Token rows from `mode` (see matmul_f32.wgsl). 4 rows x up to 4 tokens per invocation.

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params {
  cols: u32, rows: u32, y_stride: u32, y_col_offset: u32,
  x_stride: u32, mode: u32, gather_div: u32, list_offset: u32,
  count_index: u32, scales_offset: u32, pad0: u32, pad1: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> rowmap: array<u32>;
@group(0) @binding(6) var<storage, read> counts: array<u32>;

override WG: u32 = 64;

fn token_count() -> u32 {
  if (p.mode == 0u) { return step.n_tokens; }
  if (p.mode == 1u) { return step.n_logits; }
  return counts[p.count_index];
}
fn in_row(i: u32) -> u32 {
  if (p.mode == 0u) { return i; }
  if (p.mode == 1u) { return step.logits_start + i; }
  return rowmap[p.list_offset + i] / p.gather_div;
}
fn out_row(i: u32) -> u32 {
  if (p.mode == 2u) { return rowmap[p.list_offset + i]; }
  return i;
}
fn round_f16(v: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(unpack2x16float(pack2x16float(v.xy)), unpack2x16float(pack2x16float(v.zw)));
}
// The 8 f16 weights of `q` dotted with the 8 activations (lo, hi).
fn dot8(q: vec4<u32>, lo: vec4<f32>, hi: vec4<f32>) -> f32 {
  let a = vec4<f32>(unpack2x16float(q.x), unpack2x16float(q.y));
  let b = vec4<f32>(unpack2x16float(q.z), unpack2x16float(q.w));
  return dot(a, lo) + dot(b, hi);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = token_count();
  let r0 = gid.x * 4u;
  let t0 = gid.y * 4u;
  if (r0 >= p.rows || t0 >= n) { return; }
  let k8 = p.cols / 8u;
  let last = p.rows - 1u;
  let wb = vec4<u32>(r0, min(r0 + 1u, last), min(r0 + 2u, last), min(r0 + 3u, last)) * k8;
  let xs = p.x_stride / 4u;
  let nt = min(4u, n - t0);
  var acc: array<vec4<f32>, 4>;
  for (var t = 0u; t < nt; t++) {
    let xb = in_row(t0 + t) * xs;
    var a = vec4<f32>(0.0);
    for (var k = 0u; k < k8; k++) {
      let lo = round_f16(x[xb + 2u * k]);
      let hi = round_f16(x[xb + 2u * k + 1u]);
      a += vec4<f32>(dot8(w[wb.x + k], lo, hi), dot8(w[wb.y + k], lo, hi), dot8(w[wb.z + k], lo, hi), dot8(w[wb.w + k], lo, hi));
    }
    acc[t] = a;
  }
  let nr = min(4u, p.rows - r0);
  for (var t = 0u; t < nt; t++) {
    let yb = out_row(t0 + t) * p.y_stride + p.y_col_offset + r0;
    for (var r = 0u; r < nr; r++) { y[yb + r] = acc[t][r]; }
  }
}
