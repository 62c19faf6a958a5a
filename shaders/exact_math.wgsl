// f32 arithmetic that WGSL does not promise to round exactly, done exactly (the activation converters
// must reproduce llama.cpp's bytes): division rounded to nearest even (WGSL allows 2.5 ULP, and compilers
// take shortcuts: with plain `/`, SwiftShader's Q8_K scale 1 / (-127 / max) came out one ULP off for some
// blocks), and f32 -> f16 rounding to nearest even with overflow to infinity (pack2x16float leaves
// out-of-range values undefined and need not round to nearest). Composed after the converter kernels by
// daemon/gpu/kernels.ts (kernelParts); not a module on its own.

// a / b rounded to nearest even, for finite non-zero normal a and b; a quotient beyond the f32 range
// gives ±inf, one below the normal range ±0 (ggml would keep a subnormal: only f32-subnormal blocks get there).
fn div_rn(a: f32, b: f32) -> f32 {
  let ua = bitcast<u32>(a);
  let ub = bitcast<u32>(b);
  let sign = (ua ^ ub) & 0x80000000u;
  var e = i32((ua >> 23u) & 0xFFu) - i32((ub >> 23u) & 0xFFu) + 127;
  var ma = (ua & 0x7FFFFFu) | 0x800000u;
  let mb = (ub & 0x7FFFFFu) | 0x800000u;
  if (ma < mb) { ma = ma << 1u; e -= 1; } // ma / mb in [1, 2)
  // long division: 24 quotient bits, then the remainder decides the rounding
  var q = 0u;
  var r = ma;
  for (var i = 0u; i < 24u; i++) {
    q = q << 1u;
    if (r >= mb) { r -= mb; q |= 1u; }
    r = r << 1u;
  }
  if (r > mb || (r == mb && (q & 1u) == 1u)) { q += 1u; }
  if (q == 0x1000000u) { q = q >> 1u; e += 1; }
  if (e >= 255) { return bitcast<f32>(sign | 0x7F800000u); }
  if (e <= 0) { return bitcast<f32>(sign); }
  return bitcast<f32>(sign | (u32(e) << 23u) | (q & 0x7FFFFFu));
}

// v rounded to the nearest f16 (ties to even; ±inf past 65504, subnormal f16 values kept), as an f32.
fn round_f16_rn(v: f32) -> f32 {
  let x = bitcast<u32>(v);
  let sign = x & 0x80000000u;
  let a = x & 0x7FFFFFFFu;
  if (a >= 0x7F800000u) { return v; }
  if (a >= 0x477FF000u) { return bitcast<f32>(sign | 0x7F800000u); } // >= 65520: rounds to 65536 = inf
  if (a < 0x38800000u) {
    // below 2^-14: multiples of 2^-24 (exact scalings by powers of two; round() ties to even)
    return bitcast<f32>(sign | bitcast<u32>(round(bitcast<f32>(a) * 16777216.0) * 5.9604644775390625e-8));
  }
  return bitcast<f32>(sign | ((a + 0xFFFu + ((a >> 13u) & 1u)) & 0xFFFFE000u));
}
