// Embedding lookup: x[t, i] = scale * dequant(W[ids[t], i]) for the token ids that fall in this row shard
// [row_start, row_start + rows). W is stored as in the matmul kernels (ggml type: 0 F32, 1 F16 two per u32,
// 8 Q8_0 quants [rows, n/4] u32 then f16 scales, 2 Q4_0 nibbles [rows, n/32, 4] u32 then f16 scales).

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { n: u32, row_start: u32, rows: u32, wtype: u32, scales_offset: u32, scale: f32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> ids: array<u32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;

override WG: u32 = 64;

fn block_scale(r: u32, b: u32) -> f32 {
  let idx = r * (p.n / 32u) + b;
  return unpack2x16float(w[p.scales_offset + idx / 2u])[idx % 2u];
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x + gid.y * 65535u * WG;
  if (idx >= step.n_tokens * p.n) { return; }
  let t = idx / p.n;
  let i = idx % p.n;
  let id = ids[t];
  if (id < p.row_start || id >= p.row_start + p.rows) { return; }
  let r = id - p.row_start;
  var v = 0.0;
  switch p.wtype {
    case 0u: { v = bitcast<f32>(w[r * p.n + i]); }
    case 1u: { let e = r * p.n + i; v = unpack2x16float(w[e / 2u])[e % 2u]; }
    case 8u: {
      let e = r * p.n + i;
      let q = i32(w[e / 4u] << (24u - 8u * (e % 4u))) >> 24u;
      v = f32(q) * block_scale(r, i / 32u);
    }
    default: { // Q4_0
      let b = i / 32u;
      let j = i % 32u;
      let word = w[(r * (p.n / 32u) + b) * 4u + (j % 16u) / 4u];
      let byte = (word >> (8u * (j % 4u))) & 0xFFu;
      var nib = byte & 0xFu;
      if (j >= 16u) { nib = byte >> 4u; }
      v = (f32(nib) - 8.0) * block_scale(r, b);
    }
  }
  x[idx] = v * p.scale;
}
