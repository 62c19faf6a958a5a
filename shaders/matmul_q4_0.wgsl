// y[t, y_col_offset + r] = sum_b d_w[r, b] * d_x[t, b] * sum_i q_w[r, b, i] * q_x[t, b, i]
// for one row shard of a Q4_0 matrix, with activations already quantised to Q8_0 by
// quantize_q8_0.wgsl (as llama.cpp's CPU backend does), integer dot products per block.
// W: Q4_0 matrix repacked as [rows, cols/32, 4] u32 of ggml's nibble layout (byte j: element j low, j+16 high), then at scales_offset the f16 block scales [rows, cols/32], two per u32.
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
const WPB: u32 = 4u; // weight words per block

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
// Integer dot of one Q4_0 weight word (8 nibbles: elements 4i..4i+3 low, 16+4i.. high) with the matching
// activation words, nibble offset 8 included: sum (q - 8) * x = sum q * x - 8 * sum x.
fn word_dot(wv: u32, xa: u32, xh: u32) -> i32 {
  let lo = wv & 0x0F0F0F0Fu;
  let hi = (wv >> 4u) & 0x0F0F0F0Fu;
  return dot4I8Packed(lo, xa) + dot4I8Packed(hi, xh) - 8 * (dot4I8Packed(0x01010101u, xa) + dot4I8Packed(0x01010101u, xh));
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
  var xr: array<u32, 4>;
  for (var t = 0u; t < nt; t++) { xr[t] = in_row(t0 + t); }
  let xw = p.x_stride / 4u; // activation words per row
  var acc: array<vec4<f32>, 4>;
  let wrow = rows * nb * WPB;
  for (var b = 0u; b < nb; b++) {
    let wb = wrow + vec4<u32>(b * WPB);
    let dw = vec4<f32>(scale(rows.x, b, nb), scale(rows.y, b, nb), scale(rows.z, b, nb), scale(rows.w, b, nb));
    for (var t = 0u; t < nt; t++) {
      let xb = xr[t] * xw + b * 8u;
      var s = vec4<i32>(0);
      for (var i = 0u; i < 4u; i++) {
        let xa = xq[xb + i];
        let xh = xq[xb + 4u + i];
        s += vec4<i32>(word_dot(w[wb.x + i], xa, xh), word_dot(w[wb.y + i], xa, xh), word_dot(w[wb.z + i], xa, xh), word_dot(w[wb.w + i], xa, xh));
      }
      acc[t] += vec4<f32>(s) * (dw * xd[xr[t] * nb + b]);
    }
  }
  let nr = min(4u, p.rows - r0);
  for (var t = 0u; t < nt; t++) {
    let yb = out_row(t0 + t) * p.y_stride + p.y_col_offset + r0;
    for (var r = 0u; r < nr; r++) { y[yb + r] = acc[t][r]; }
  }
}
