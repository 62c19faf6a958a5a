// IEEE binary16 bits of x rounded to nearest, ties to even (ggml's F16C conversion; WGSL leaves
// pack2x16float's rounding to the implementation): NaN stays NaN, 65520 and beyond round to infinity,
// f16 subnormals are kept. Composed after the kernels that write or round to f16 (attention, copy_rows,
// glu, rope) by daemon/gpu/kernels.ts (kernelParts); not a module on its own.
// test/kernels/copy-rows.test.ts checks it bit for bit against daemon/formats/half.ts.
fn f16_bits(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let sign = (b >> 16u) & 0x8000u;
  let a = b & 0x7fffffffu;
  if (a > 0x7f800000u) { return sign | 0x7e00u; } // NaN
  if (a >= 0x477ff000u) { return sign | 0x7c00u; } // 65520 and beyond round to infinity
  if (a >= 0x38800000u) { // normal in f16 (>= 2^-14): rebias the exponent, round the mantissa at bit 13
    let r = a - 0x38000000u;
    return sign | ((r + 0xfffu + ((r >> 13u) & 1u)) >> 13u);
  }
  // subnormal in f16: a multiple of 2^-24 (scaling by 2^24 is exact)
  let m = bitcast<f32>(a) * 16777216.0;
  let q = floor(m);
  let frac = m - q;
  var n = u32(q);
  if (frac > 0.5 || (frac == 0.5 && (n & 1u) == 1u)) { n += 1u; }
  return sign | n;
}
