// Matmul of one row shard of a weight matrix with activation rows, for every weight format:
//   y[out_row(i), y_col_offset + r] = sum_c W[r, c] * a[in_row(i), c]      r < rows, i < token_count()
// where a is the activation as ggml's CPU backend sees it for the weight's format (ggml's vec_dot_type:
// f32, f16- or bf16-rounded f32, or Q8_0 / Q8_1 / Q8_K blocks; the converted copies are written first by
// shaders/round_activations.wgsl, quantize_q8.wgsl or quantize_q8_k.wgsl, daemon/gpu/activations.ts).
// Token rows come from `mode`: 0 all step tokens, 1 the logits rows from logits_start, 2 an expert's
// gathered slot list (rowmap / counts, dispatched indirectly). Each invocation computes 4 rows x up to 4
// tokens (register tiling; no workgroup memory, no barriers).
//
// This file is the shared part; it is not a module on its own. The kernel registry (daemon/gpu/kernels.ts,
// kernelParts) compiles it followed by
//   shaders/weights.wgsl                the weight bindings w4 / wu and shared decoding helpers
//   shaders/activations/<reader>.wgsl   CHUNK (values per chunk), XChunk, x_chunk(k): the activations,
//                                       bindings 3 and 7 (reader per activation format: f32, f32x8, q8)
//   shaders/formats/<format>.wgsl       the weight format: QK (values per block), CHUNKS (= QK / CHUNK), WHead,
//                                       w_head(blk), WChunk, w_chunk(blk, c, h), chunk_dot(w, x) -> f32,
//                                       and dequant(row, i) -> f32 for get_rows.wgsl
// blk is a block's index in the shard (row * blocks per row + block); a block's dot product is the sum over
// its CHUNKS chunks c of chunk_dot(w_chunk(blk, c, w_head(blk)), x_chunk(k)), k the activation chunk's
// index in the activation buffer. Format files read the Params fields `cols`, `plane1` and `plane2` only
// (get_rows.wgsl declares them too).
// All pipelines of this composition share one explicit bind group layout (kernels.ts MATMUL_BINDINGS): the
// graph binds the same buffer at 2 and 8, and a dummy at 7 for float activations.

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params {
  cols: u32, rows: u32, y_stride: u32, y_col_offset: u32,
  x_stride: u32, mode: u32, gather_div: u32, list_offset: u32,
  // word offsets of the weight planes 1 and 2 (weight-layout.ts); plane 0 starts at word 0
  count_index: u32, plane1: u32, plane2: u32, pad0: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
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

// The chunks of a row run in one flat loop (k = b * CHUNKS + c): a loop costs a lot on software adapters,
// and for most formats a block is one chunk (CHUNKS = 1: then c is constant 0 and the head is read every
// iteration, which is free for those formats). Block heads are read when a block starts.
const CHUNK_SHIFT: u32 = countTrailingZeros(CHUNKS); // CHUNKS is a power of two

// One token: 4 rows (rb: their first block indices), each activation chunk read once for the 4 rows.
fn tile1(rb: vec4<u32>, xk: u32, nk: u32) -> vec4<f32> {
  var a = vec4<f32>(0.0);
  var h0: WHead;
  var h1: WHead;
  var h2: WHead;
  var h3: WHead;
  for (var k = 0u; k < nk; k++) {
    let b = k >> CHUNK_SHIFT;
    let c = k & (CHUNKS - 1u);
    if (c == 0u) {
      h0 = w_head(rb.x + b);
      h1 = w_head(rb.y + b);
      h2 = w_head(rb.z + b);
      h3 = w_head(rb.w + b);
    }
    let x = x_chunk(xk + k);
    a += vec4<f32>(
      chunk_dot(w_chunk(rb.x + b, c, h0), x),
      chunk_dot(w_chunk(rb.y + b, c, h1), x),
      chunk_dot(w_chunk(rb.z + b, c, h2), x),
      chunk_dot(w_chunk(rb.w + b, c, h3), x));
  }
  return a;
}

// Four tokens (xk: their first activation chunks): each weight chunk is decoded once for the 4 tokens,
// each activation chunk read once for the 4 rows. Column r of the result holds row r's 4 tokens.
fn tile4(rb: vec4<u32>, xk: vec4<u32>, nk: u32) -> mat4x4<f32> {
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  var h0: WHead;
  var h1: WHead;
  var h2: WHead;
  var h3: WHead;
  for (var k = 0u; k < nk; k++) {
    let b = k >> CHUNK_SHIFT;
    let c = k & (CHUNKS - 1u);
    if (c == 0u) {
      h0 = w_head(rb.x + b);
      h1 = w_head(rb.y + b);
      h2 = w_head(rb.z + b);
      h3 = w_head(rb.w + b);
    }
    let x0 = x_chunk(xk.x + k);
    let x1 = x_chunk(xk.y + k);
    let x2 = x_chunk(xk.z + k);
    let x3 = x_chunk(xk.w + k);
    let w0 = w_chunk(rb.x + b, c, h0);
    a0 += vec4<f32>(chunk_dot(w0, x0), chunk_dot(w0, x1), chunk_dot(w0, x2), chunk_dot(w0, x3));
    let w1 = w_chunk(rb.y + b, c, h1);
    a1 += vec4<f32>(chunk_dot(w1, x0), chunk_dot(w1, x1), chunk_dot(w1, x2), chunk_dot(w1, x3));
    let w2 = w_chunk(rb.z + b, c, h2);
    a2 += vec4<f32>(chunk_dot(w2, x0), chunk_dot(w2, x1), chunk_dot(w2, x2), chunk_dot(w2, x3));
    let w3 = w_chunk(rb.w + b, c, h3);
    a3 += vec4<f32>(chunk_dot(w3, x0), chunk_dot(w3, x1), chunk_dot(w3, x2), chunk_dot(w3, x3));
  }
  return mat4x4<f32>(a0, a1, a2, a3);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = token_count();
  let r0 = gid.x * 4u;
  let t0 = gid.y * 4u;
  if (r0 >= p.rows || t0 >= n) { return; }
  let nb = p.cols / QK;
  let last = p.rows - 1u;
  // rows past the shard's end repeat its last row (their results are not written)
  let rb = vec4<u32>(r0, min(r0 + 1u, last), min(r0 + 2u, last), min(r0 + 3u, last)) * nb;
  let nt = min(4u, n - t0);
  let xw = p.x_stride / CHUNK; // activation chunks per row
  let nk = nb * CHUNKS;
  var acc: mat4x4<f32>; // acc[r][t]: row r0 + r, token t0 + t
  if (nt == 1u) {
    let a = tile1(rb, in_row(t0) * xw, nk);
    acc = mat4x4<f32>(a.x, 0.0, 0.0, 0.0, a.y, 0.0, 0.0, 0.0, a.z, 0.0, 0.0, 0.0, a.w, 0.0, 0.0, 0.0);
  } else {
    // missing tokens repeat the last (their results are not written)
    let xk = vec4<u32>(in_row(t0), in_row(t0 + min(1u, nt - 1u)), in_row(t0 + min(2u, nt - 1u)), in_row(t0 + min(3u, nt - 1u))) * xw;
    acc = tile4(rb, xk, nk);
  }
  let nr = min(4u, p.rows - r0);
  for (var t = 0u; t < nt; t++) {
    let yb = out_row(t0 + t) * p.y_stride + p.y_col_offset + r0;
    for (var r = 0u; r < nr; r++) { y[yb + r] = acc[r][t]; }
  }
}
