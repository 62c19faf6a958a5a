// y[t, y_col_offset + r] = sum_b d_w[r, b] * d_x[t, b] * sum_i q_w[r, b, i] * q_x[t, b, i]
// for one row shard of a Q8_0 matrix, with activations already quantised to Q8_0 by
// quantize_q8_0.wgsl (as llama.cpp's CPU backend does), integer dot products per block.
// W: Q8_0 matrix repacked as [rows, cols/4] u32 of int8 quants, then at scales_offset the f16 block scales [rows, cols/32], two per u32.
// xq: [n, cols / 4] packed int8; xd: [n, cols / 32] f32. Token rows from `mode` (see matmul_f32.wgsl).
// 4 rows x up to 4 tokens per invocation.

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params {
  cols: u32, rows: u32, y_stride: u32, y_col_offset: u32,
  x_stride: u32, mode: u32, gather_div: u32, list_offset: u32,
  count_index: u32, scales_offset: u32, pad0: u32, pad1: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> xq: array<u32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> rowmap: array<u32>;
@group(0) @binding(6) var<storage, read> counts: array<u32>;
@group(0) @binding(7) var<storage, read> xd: array<f32>;

override WG: u32 = 64;
const WPB: u32 = 8u; // weight words per block

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
fn scale(row: u32, b: u32, nb: u32) -> f32 {
  let idx = row * nb + b;
  return unpack2x16float(w[p.scales_offset + idx / 2u])[idx % 2u];
}
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = token_count();
  let r0 = gid.x * 4u;
  let t0 = gid.y * 4u;
  if (r0 >= p.rows || t0 >= n) { return; }
  let nb = p.cols / 32u;
  let last = p.rows - 1u;
  let rows = vec4<u32>(r0, min(r0 + 1u, last), min(r0 + 2u, last), min(r0 + 3u, last));
  let nt = min(4u, n - t0);
  // input rows of the (up to) 4 tokens; missing ones repeat the last (their results are not written)
  var xr: array<u32, 4>;
  for (var t = 0u; t < 4u; t++) { xr[t] = in_row(t0 + min(t, nt - 1u)); }
  let xw = p.x_stride / 4u; // activation words per row
  var acc: array<vec4<f32>, 4>;
  let wrow = rows * nb * WPB;
  for (var b = 0u; b < nb; b++) {
    let wb = wrow + vec4<u32>(b * WPB);
    let dw = vec4<f32>(scale(rows.x, b, nb), scale(rows.y, b, nb), scale(rows.z, b, nb), scale(rows.w, b, nb));
    if (nt == 1u) {
      let xb = xr[0] * xw + b * 8u;
      var s = vec4<i32>(0);
      for (var i = 0u; i < 8u; i++) {
        let xv = xq[xb + i];
        s += vec4<i32>(dot4I8Packed(w[wb.x + i], xv), dot4I8Packed(w[wb.y + i], xv), dot4I8Packed(w[wb.z + i], xv), dot4I8Packed(w[wb.w + i], xv));
      }
      acc[0] += vec4<f32>(s) * (dw * xd[xr[0] * nb + b]);
    } else {
      var s0 = vec4<i32>(0); var s1 = vec4<i32>(0); var s2 = vec4<i32>(0); var s3 = vec4<i32>(0);
      let xb = vec4<u32>(xr[0], xr[1], xr[2], xr[3]) * xw + b * 8u;
      for (var i = 0u; i < 8u; i++) {
        let w0 = w[wb.x + i]; let w1 = w[wb.y + i]; let w2 = w[wb.z + i]; let w3 = w[wb.w + i];
        let x0 = xq[xb.x + i]; let x1 = xq[xb.y + i]; let x2 = xq[xb.z + i]; let x3 = xq[xb.w + i];
        s0 += vec4<i32>(dot4I8Packed(w0, x0), dot4I8Packed(w1, x0), dot4I8Packed(w2, x0), dot4I8Packed(w3, x0));
        s1 += vec4<i32>(dot4I8Packed(w0, x1), dot4I8Packed(w1, x1), dot4I8Packed(w2, x1), dot4I8Packed(w3, x1));
        s2 += vec4<i32>(dot4I8Packed(w0, x2), dot4I8Packed(w1, x2), dot4I8Packed(w2, x2), dot4I8Packed(w3, x2));
        s3 += vec4<i32>(dot4I8Packed(w0, x3), dot4I8Packed(w1, x3), dot4I8Packed(w2, x3), dot4I8Packed(w3, x3));
      }
      acc[0] += vec4<f32>(s0) * (dw * xd[xr[0] * nb + b]);
      acc[1] += vec4<f32>(s1) * (dw * xd[xr[1] * nb + b]);
      acc[2] += vec4<f32>(s2) * (dw * xd[xr[2] * nb + b]);
      acc[3] += vec4<f32>(s3) * (dw * xd[xr[3] * nb + b]);
    }
  }
  let nr = min(4u, p.rows - r0);
  for (var t = 0u; t < nt; t++) {
    let yb = out_row(t0 + t) * p.y_stride + p.y_col_offset + r0;
    for (var r = 0u; r < nr; r++) { y[yb + r] = acc[t][r]; }
  }
}
