/**
 * The type of each weight matrix in a generated model: the uniform `weightType`, or llama.cpp's
 * quantization mix for a recipe (llama_tensor_get_type in src/llama-quant.cpp, v0.4.0), then per-tensor
 * overrides (`tensorTypes`, like llama-quantize's --tensor-type), then — for recipe choices only — llama.cpp's
 * fallback for rows that are not a whole number of blocks (tensor_type_fallback).
 *
 * Q4_K_M (base type Q4_K), for the tensors these models have:
 *   output.weight (token_embd.weight when the output is tied)  Q6_K; Q8_0 when ne[0] % 256 ≠ 0
 *   token_embd.weight (untied)                                 Q4_K
 *   blk.N.attn_v.weight     Q6_K on "more bits" layers, else Q4_K; Q8_0 for any layer with exactly 8 experts
 *   blk.N.attn_k.weight     Q8_0 with exactly 8 experts, else Q4_K
 *   blk.N.attn_output.weight  Q5_K with exactly 8 experts, else Q4_K
 *   blk.N.ffn_down*.weight  Q6_K on "more bits" layers, else Q4_K (experts and shared expert alike)
 *   everything else quantized (attn_q, ffn_gate*, ffn_up*)     Q4_K
 *   never quantized: 1-D tensors (norms, ffn_gate_inp_shexp) and the router ffn_gate_inp (routerType here)
 * "More bits" layers (use_more_bits): il < n/8, il ≥ 7n/8, or (il − n/8) % 3 == 2 (integer division).
 * Fallbacks: Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, Q2_K/Q3_K → Q4_0, IQ4_XS → IQ4_NL; F16 if even that
 * does not fit.
 */
import type { ModelSpec, RecipeName, WeightTypeName } from './model-spec.js';
import { blockSizeOf } from './model-spec.js';

/** llama.cpp's use_more_bits(i_layer, n_layers). */
export function useMoreBits(il: number, nLayer: number): boolean {
  const e = Math.trunc(nLayer / 8);
  return il < e || il >= Math.trunc((7 * nLayer) / 8) || (il - e) % 3 === 2;
}

function layerOf(name: string): number {
  const m = /^blk\.(\d+)\./.exec(name);
  if (!m) throw new Error(`tensor ${name}: no layer number`);
  return Number(m[1]);
}

function q4KM(s: ModelSpec, name: string, ne0: number): WeightTypeName {
  const tiedEmbd = s.tied_output && name === 'token_embd.weight';
  if (name === 'output.weight' || tiedEmbd) return ne0 % 256 !== 0 ? 'Q8_0' : 'Q6_K';
  if (name === 'token_embd.weight') return 'Q4_K';
  const eight = s.n_expert === 8;
  if (name.endsWith('.attn_v.weight')) return eight ? 'Q8_0' : useMoreBits(layerOf(name), s.n_layer) ? 'Q6_K' : 'Q4_K';
  if (name.endsWith('.attn_k.weight')) return eight ? 'Q8_0' : 'Q4_K';
  if (name.endsWith('.attn_output.weight')) return eight ? 'Q5_K' : 'Q4_K';
  if (name.includes('ffn_down')) return useMoreBits(layerOf(name), s.n_layer) ? 'Q6_K' : 'Q4_K';
  return 'Q4_K';
}

const RECIPE_RULES: Record<RecipeName, (s: ModelSpec, name: string, ne0: number) => WeightTypeName> = { Q4_K_M: q4KM };

/** llama.cpp's tensor_type_fallback: a type whose blocks fit rows of ne0 values. */
export function fallbackType(t: WeightTypeName, ne0: number): WeightTypeName {
  if (ne0 % blockSizeOf(t) === 0) return t;
  const next: Partial<Record<WeightTypeName, WeightTypeName>> = { Q2_K: 'Q4_0', Q3_K: 'Q4_0', Q4_K: 'Q5_0', Q5_K: 'Q5_1', Q6_K: 'Q8_0', IQ4_XS: 'IQ4_NL' };
  const r = next[t] ?? t;
  return ne0 % blockSizeOf(r) === 0 ? r : 'F16';
}

function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** The first tensorTypes pattern matching `name`, if any. */
function overrideFor(s: ModelSpec, name: string): WeightTypeName | undefined {
  for (const [pattern, t] of Object.entries(s.tensorTypes ?? {})) if (globToRegExp(pattern).test(name)) return t;
  return undefined;
}

/**
 * The type of matrix `name` (ne[0] = ne0). `isRouter`: the MoE router ffn_gate_inp, which keeps routerType
 * (llama-quantize never quantizes it) unless an override names it. Throws when an explicit type does not fit.
 */
export function matrixType(s: ModelSpec, name: string, ne0: number, isRouter: boolean): WeightTypeName {
  const manual = overrideFor(s, name);
  let t: WeightTypeName;
  if (manual) t = manual;
  else if (isRouter) t = s.routerType;
  else if (s.recipe) t = fallbackType(RECIPE_RULES[s.recipe](s, name, ne0), ne0);
  else t = s.weightType;
  if (ne0 % blockSizeOf(t) !== 0) throw new Error(`invalid model spec (${s.arch}): tensor ${name} has rows of ${ne0} values, not a whole number of ${t} blocks of ${blockSizeOf(t)}`);
  return t;
}
