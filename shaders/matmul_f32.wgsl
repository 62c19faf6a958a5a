// y[t, y_col_offset + r] = sum_c W[r, c] * x[t, c]  for one row shard of an F32 matrix.
// W: [rows, cols] f32 (ggml ne0 = cols innermost); x: [n, x_stride] f32; y: [n, y_stride] f32.
// Token rows come from `mode`: 0 all step tokens, 1 the logits rows, 2 an expert's gathered slot list.
// Each invocation computes 4 rows x up to 4 tokens (register tiling; no workgroup memory).

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params {
  cols: u32, rows: u32, y_stride: u32, y_col_offset: u32,
  x_stride: u32, mode: u32, gather_div: u32, list_offset: u32,
  count_index: u32, scales_offset: u32, pad0: u32, pad1: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
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

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = token_count();
  let r0 = gid.x * 4u;
  let t0 = gid.y * 4u;
  if (r0 >= p.rows || t0 >= n) { return; }
  let k4 = p.cols / 4u;
  let last = p.rows - 1u;
  let wb = vec4<u32>(r0, min(r0 + 1u, last), min(r0 + 2u, last), min(r0 + 3u, last)) * k4;
  let xs = p.x_stride / 4u;
  let nt = min(4u, n - t0);
  var acc: array<vec4<f32>, 4>;
  if (nt == 1u) {
    let xb = in_row(t0) * xs;
    var a = vec4<f32>(0.0);
    for (var k = 0u; k < k4; k++) {
      let xv = x[xb + k];
      a += vec4<f32>(dot(w[wb.x + k], xv), dot(w[wb.y + k], xv), dot(w[wb.z + k], xv), dot(w[wb.w + k], xv));
    }
    acc[0] = a;
  } else {
    let xb = vec4<u32>(in_row(t0), in_row(t0 + min(1u, nt - 1u)), in_row(t0 + min(2u, nt - 1u)), in_row(t0 + min(3u, nt - 1u))) * xs;
    var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
    for (var k = 0u; k < k4; k++) {
      let w0 = w[wb.x + k]; let w1 = w[wb.y + k]; let w2 = w[wb.z + k]; let w3 = w[wb.w + k];
      let x0 = x[xb.x + k]; let x1 = x[xb.y + k]; let x2 = x[xb.z + k]; let x3 = x[xb.w + k];
      a0 += vec4<f32>(dot(w0, x0), dot(w1, x0), dot(w2, x0), dot(w3, x0));
      a1 += vec4<f32>(dot(w0, x1), dot(w1, x1), dot(w2, x1), dot(w3, x1));
      a2 += vec4<f32>(dot(w0, x2), dot(w1, x2), dot(w2, x2), dot(w3, x2));
      a3 += vec4<f32>(dot(w0, x3), dot(w1, x3), dot(w2, x3), dot(w3, x3));
    }
    acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
  }
  let nr = min(4u, p.rows - r0);
  for (var t = 0u; t < nt; t++) {
    let yb = out_row(t0 + t) * p.y_stride + p.y_col_offset + r0;
    for (var r = 0u; r < nr; r++) { y[yb + r] = acc[t][r]; }
  }
}
