// Token sampling on the GPU from the last logits row, so a decode step reads back 4 bytes, not the logits.
// One workgroup of 256 invocations. Order as llama.cpp's default chain: top-k -> top-p -> temperature -> draw.
//   temperature <= 0 or top_k == 1: greedy (argmax, lowest id wins ties).
//   top_k == 0 and top_p >= 1: exact draw from the whole softmax(logits / temperature).
//   otherwise: the top_k (at most 256; 0 means 256) most likely tokens, then the smallest prefix of them whose
//   probability (at temperature 1) reaches top_p, then a draw from softmax(logit / temperature) over that set.
// The uniform draw is a PCG hash of (step.seed, step.sample_index): seeded and reproducible.
// With p.use_mask != 0 only tokens whose bit is set in `mask` (bit i & 31 of word i >> 5) can be drawn, in
// every mode: the others count as logit -infinity (left out of the maximum, the sums, top-k and top-p).
// The host guarantees at least one allowed token. With use_mask == 0 the mask is never read.
// A NaN or infinite logit anywhere in the row (a broken forward pass: corrupt weights, an overflow) makes no
// draw: out[0] = NON_FINITE_LOGITS, which the host turns into an error that names the problem.
// logits: [n_logits, n_vocab] (row step.n_logits - 1 is used); mask: [ceil(n_vocab / 32)]; out[0] = token id.

struct Step { n_tokens: u32, pos_start: u32, n_kv: u32, logits_start: u32, n_logits: u32, kv_base: u32, seed: u32, sample_index: u32 }
struct Params { n_vocab: u32, top_k: u32, top_p: f32, temperature: f32, use_mask: u32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
@group(0) @binding(4) var<storage, read> mask: array<u32>;

const N: u32 = 256u;
const CAP: u32 = 512u;
// Not a token id: the row held a NaN or an infinity (daemon/gpu/sample-result.ts).
const NON_FINITE_LOGITS: u32 = 0xFFFFFFFEu;
var<workgroup> red_v: array<f32, N>;
var<workgroup> red_i: array<u32, N>;
var<workgroup> cand_v: array<f32, CAP>;
var<workgroup> cand_i: array<u32, CAP>;
var<workgroup> sorted_v: array<f32, CAP>;
var<workgroup> sorted_i: array<u32, CAP>;
var<workgroup> n_cand: atomic<u32>;
var<workgroup> cnt: atomic<u32>;
var<workgroup> shared_tau: f32;
var<workgroup> non_finite: atomic<u32>;
var<workgroup> non_finite_seen: u32;

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
fn uniform01() -> f32 {
  let h = pcg(pcg(step.seed ^ 0x9E3779B9u) + step.sample_index);
  return f32(h >> 8u) / 16777216.0; // [0, 1)
}
fn better(v: f32, i: u32, bv: f32, bi: u32) -> bool { return v > bv || (v == bv && i < bi); }
fn allowed(i: u32) -> bool { return p.use_mask == 0u || ((mask[i >> 5u] >> (i & 31u)) & 1u) != 0u; }
// By the bits (exponent all ones), not by comparisons, which a compiler may assume never see a NaN.
fn is_finite(v: f32) -> bool { return (bitcast<u32>(v) & 0x7F800000u) != 0x7F800000u; }

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  let base = (step.n_logits - 1u) * p.n_vocab;
  // 1. argmax and max.
  var bv = -3.4e38; var bi = 0xFFFFFFFFu;
  var finite = true;
  for (var i = lid; i < p.n_vocab; i += N) {
    let v = logits[base + i];
    finite = finite && is_finite(v);
    if (allowed(i) && better(v, i, bv, bi)) { bv = v; bi = i; }
  }
  if (!finite) { atomicStore(&non_finite, 1u); }
  red_v[lid] = bv; red_i[lid] = bi;
  workgroupBarrier();
  for (var s = N / 2u; s > 0u; s >>= 1u) {
    if (lid < s && better(red_v[lid + s], red_i[lid + s], red_v[lid], red_i[lid])) {
      red_v[lid] = red_v[lid + s]; red_i[lid] = red_i[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) { non_finite_seen = atomicLoad(&non_finite); }
  if (workgroupUniformLoad(&non_finite_seen) != 0u) {
    if (lid == 0u) { out[0] = NON_FINITE_LOGITS; }
    return;
  }
  let mx = red_v[0];
  let amax = red_i[0];
  workgroupBarrier();
  if (p.temperature <= 0.0 || p.top_k == 1u) {
    if (lid == 0u) { out[0] = amax; }
    return;
  }
  let u = uniform01();
  if (p.top_k == 0u && p.top_p >= 1.0) {
    // 2a. Exact draw over the whole vocabulary: contiguous chunk per invocation, prefix sums of chunk masses.
    let chunk = (p.n_vocab + N - 1u) / N;
    let lo = min(lid * chunk, p.n_vocab);
    let hi = min(lo + chunk, p.n_vocab);
    var sum = 0.0;
    for (var i = lo; i < hi; i++) {
      if (allowed(i)) { sum += exp((logits[base + i] - mx) / p.temperature); }
    }
    red_v[lid] = sum;
    workgroupBarrier();
    if (lid == 0u) {
      var total = 0.0;
      for (var j = 0u; j < N; j++) { total += red_v[j]; }
      var r = u * total;
      var pick = amax;
      for (var j = 0u; j < N; j++) {
        if (r < red_v[j]) {
          let clo = min(j * chunk, p.n_vocab);
          let chi = min(clo + chunk, p.n_vocab);
          pick = chi - 1u; // overwritten below: the chunk's last allowed token if rounding leaves r >= 0
          for (var i = clo; i < chi; i++) {
            if (!allowed(i)) { continue; }
            pick = i;
            r -= exp((logits[base + i] - mx) / p.temperature);
            if (r < 0.0) { break; }
          }
          break;
        }
        r -= red_v[j];
      }
      out[0] = pick;
    }
    return;
  }
  // 2b. Top-k threshold by bisection on the logit value: smallest tau with count(logit >= tau) >= k, allowed
  // tokens only (fewer than k allowed: tau goes down to the floor and all of them are candidates).
  var k = p.top_k;
  if (k == 0u || k > N) { k = N; }
  k = min(k, p.n_vocab);
  var lo_t = mx - 1.0e4;
  var hi_t = mx;
  for (var it = 0u; it < 40u; it++) {
    let tau = 0.5 * (lo_t + hi_t);
    if (lid == 0u) { atomicStore(&cnt, 0u); }
    workgroupBarrier();
    var c = 0u;
    for (var i = lid; i < p.n_vocab; i += N) { if (logits[base + i] >= tau && allowed(i)) { c++; } }
    atomicAdd(&cnt, c);
    workgroupBarrier();
    let total = atomicLoad(&cnt);
    workgroupBarrier();
    if (total >= k) { lo_t = tau; } else { hi_t = tau; }
  }
  // 3. Gather candidates >= lo_t (at least k; ties may add a few, at most CAP kept).
  if (lid == 0u) { atomicStore(&n_cand, 0u); }
  workgroupBarrier();
  for (var i = lid; i < p.n_vocab; i += N) {
    let v = logits[base + i];
    if (v >= lo_t && allowed(i)) {
      let slot = atomicAdd(&n_cand, 1u);
      if (slot < CAP) { cand_v[slot] = v; cand_i[slot] = i; }
    }
  }
  workgroupBarrier();
  let nc = min(atomicLoad(&n_cand), CAP);
  // 4. Sort descending by rank counting (value, then lower id first).
  for (var a = lid; a < nc; a += N) {
    var rank = 0u;
    for (var b = 0u; b < nc; b++) {
      if (better(cand_v[b], cand_i[b], cand_v[a], cand_i[a])) { rank++; }
    }
    sorted_v[rank] = cand_v[a]; sorted_i[rank] = cand_i[a];
  }
  workgroupBarrier();
  if (lid != 0u) { return; }
  let kk = min(k, nc);
  // 5. Top-p on probabilities at temperature 1, within the top-k set.
  var z = 0.0;
  for (var j = 0u; j < kk; j++) { z += exp(sorted_v[j] - mx); }
  var keep = kk;
  if (p.top_p < 1.0) {
    var cum = 0.0;
    for (var j = 0u; j < kk; j++) {
      cum += exp(sorted_v[j] - mx) / z;
      if (cum >= p.top_p) { keep = j + 1u; break; }
    }
  }
  // 6. Temperature and the draw.
  var zt = 0.0;
  for (var j = 0u; j < keep; j++) { zt += exp((sorted_v[j] - mx) / p.temperature); }
  var r = u * zt;
  var pick = sorted_i[keep - 1u];
  for (var j = 0u; j < keep; j++) {
    r -= exp((sorted_v[j] - mx) / p.temperature);
    if (r < 0.0) { pick = sorted_i[j]; break; }
  }
  out[0] = pick;
}
