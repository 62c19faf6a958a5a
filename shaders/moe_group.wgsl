// Groups expert slots by expert (one invocation: n_tokens * k <= a few thousand entries).
// ids: [n_tokens, k] expert per slot (slot = t * k + j); an id >= n_expert belongs to no group (the expert
// executor's NO_SLOT: that choice is computed on the CPU). Writes counts[e], lists[e * list_stride + i] = slot,
// and for each expert two indirect dispatch argument triples (x, y, z):
//   args[(e * 2 + s) * 3 ..] = (groups_x[s], ceil(counts[e] / 4), 1)   s = 0: up/gate shape, 1: down shape
// where 4 is the tokens per invocation of the matmul kernels.

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { n_expert: u32, k: u32, list_stride: u32, groups_x0: u32, groups_x1: u32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> counts: array<u32>;
@group(0) @binding(4) var<storage, read_write> lists: array<u32>;
@group(0) @binding(5) var<storage, read_write> args: array<u32>;

@compute @workgroup_size(1)
fn main() {
  for (var e = 0u; e < p.n_expert; e++) { counts[e] = 0u; }
  let n = step.n_tokens * p.k;
  for (var s = 0u; s < n; s++) {
    let e = ids[s];
    if (e >= p.n_expert) { continue; }
    lists[e * p.list_stride + counts[e]] = s;
    counts[e] = counts[e] + 1u;
  }
  for (var e = 0u; e < p.n_expert; e++) {
    let gy = (counts[e] + 3u) / 4u;
    var gx0 = p.groups_x0; var gx1 = p.groups_x1;
    if (gy == 0u) { gx0 = 0u; gx1 = 0u; }
    args[e * 6u + 0u] = gx0; args[e * 6u + 1u] = gy; args[e * 6u + 2u] = 1u;
    args[e * 6u + 3u] = gx1; args[e * 6u + 4u] = gy; args[e * 6u + 5u] = 1u;
  }
}
