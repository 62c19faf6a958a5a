/**
 * CPU reference of shaders/moe_group.wgsl: the slots (t · k + j) of the routed tokens grouped by expert,
 * in slot order (what ggml_mul_mat_id's CPU path builds as its per-expert row mapping); ids >= n_expert
 * (the expert executor's NO_SLOT: computed on the CPU) belong to no group. With two indirect
 * dispatch argument triples per expert for the matmul kernels:
 *   args[e · 6 + 3s ..] = (counts[e] ? groups_x[s] : 0, ceil(counts[e] / 4), 1)   s = 0 up/gate, 1 down
 */
export interface MoeGroupRef {
  counts: Uint32Array; // [n_expert]
  /** [n_expert, list_stride]; entries past counts[e] are left as `initialLists` had them. */
  lists: Uint32Array;
  args: Uint32Array; // [n_expert, 6]
}

export function moeGroupRef(
  ids: ArrayLike<number>,
  n_tokens: number,
  k: number,
  n_expert: number,
  list_stride: number,
  groups_x0: number,
  groups_x1: number,
  initialLists: ArrayLike<number> = new Uint32Array(n_expert * list_stride),
): MoeGroupRef {
  const counts = new Uint32Array(n_expert);
  const lists = Uint32Array.from(initialLists as ArrayLike<number>);
  for (let s = 0; s < n_tokens * k; s++) {
    const e = ids[s]!;
    if (e >= n_expert) continue;
    if (counts[e]! >= list_stride) throw new Error(`moeGroupRef: expert ${e} has more than ${list_stride} slots`);
    lists[e * list_stride + counts[e]!] = s;
    counts[e]!++;
  }
  const args = new Uint32Array(n_expert * 6);
  for (let e = 0; e < n_expert; e++) {
    const gy = Math.ceil(counts[e]! / 4);
    args.set([gy ? groups_x0 : 0, gy, 1, gy ? groups_x1 : 0, gy, 1], e * 6);
  }
  return { counts, lists, args };
}
