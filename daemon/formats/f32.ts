/** F32: 4 bytes per value, little endian. */
import { GgmlType } from '../gguf/ggml-types.js';
import type { TensorFormat } from './format.js';

export const F32: TensorFormat = {
  type: GgmlType.F32,
  name: 'F32',
  blockSize: 1,
  typeSize: 4,
  activation: 'f32',
  dequantize(src, n, dst, o) {
    const dv = new DataView(src.buffer, src.byteOffset, n * 4);
    for (let i = 0; i < n; i++) dst[o + i] = dv.getFloat32(i * 4, true);
  },
  quantize(src, dst, o) {
    const dv = new DataView(dst.buffer, dst.byteOffset + o, src.length * 4);
    for (let i = 0; i < src.length; i++) dv.setFloat32(i * 4, src[i]!, true);
  },
  wgsl: 'f32',
  cpu: 'f32',
};
