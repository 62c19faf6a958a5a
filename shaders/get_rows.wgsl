// Embedding lookup: x[t, i] = scale * dequant(W[ids[t], i]) for the token ids that fall in this row shard
// [row_start, row_start + rows), for every weight format.
// This file is the shared part; the kernel registry (daemon/gpu/kernels.ts, composeGetRows) compiles it
// followed by shaders/weights.wgsl, the format's activation reader and shaders/formats/<format>.wgsl, whose
// dequant(row, i) gives ggml's dequantised value (the reader only completes the format file's types;
// nothing here reads activations). W is stored in the format's GPU planes (weight-layout.ts); the format
// file reads p.cols, p.plane1, p.plane2 and the weight bindings 2 / 8 (the same buffer twice).
// Bindings 3 and 7 belong to the matmul's activations and are unused here.

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { cols: u32, row_start: u32, rows: u32, plane1: u32, plane2: u32, scale: f32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;
@group(0) @binding(5) var<storage, read> ids: array<u32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x + gid.y * 65535u * WG;
  if (idx >= step.n_tokens * p.cols) { return; }
  let t = idx / p.cols;
  let i = idx % p.cols;
  let id = ids[t];
  if (id < p.row_start || id >= p.row_start + p.rows) { return; }
  x[idx] = dequant(id - p.row_start, i) * p.scale;
}
