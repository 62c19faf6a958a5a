/**
 * Typed errors for everything that reads, writes or interprets GGUF files. A message may quote the file
 * (keys, names, values): it is always bounded and free of control characters (untrusted-text.ts), even
 * where the thrower forgot to quote with untrustedText().
 */
import { boundedMessage } from './untrusted-text.js';

export type GgufErrorCode =
  | 'NOT_FOUND' // the file does not exist or cannot be opened
  | 'NOT_A_FILE' // the path is a directory, a FIFO, a device or a socket, not a regular file
  | 'NOT_GGUF' // magic bytes are not "GGUF"
  | 'BAD_VERSION' // GGUF version other than 2 or 3
  | 'TRUNCATED' // the file ends before a structure (header, tensor data) it announces
  | 'LIMIT_EXCEEDED' // a count or length is beyond a sane limit or the remaining file size
  | 'BAD_VALUE_TYPE' // unknown GGUF value type, or a metadata key holding the wrong type
  | 'BAD_STRING' // empty/duplicate key, duplicate/over-long tensor name, invalid UTF-8
  | 'BAD_ALIGNMENT' // general.alignment not a power of two, or a tensor offset not aligned
  | 'BAD_OFFSET' // a tensor data range outside the file or overlapping another
  | 'BAD_SHAPE' // bad n_dims / dims, or a shape inconsistent with the hyperparameters
  | 'UNSUPPORTED_ARCH' // general.architecture not handled by the engine
  | 'UNSUPPORTED_TYPE' // a tensor type unknown to ggml or not runnable by the engine
  | 'MISSING_KEY' // a required metadata key is absent
  | 'MISSING_TENSOR' // a tensor the architecture requires is absent
  | 'UNSUPPORTED_FEATURE' // a valid llama.cpp feature the engine does not implement (fused QKV, ...)
  | 'BAD_SPLIT' // the parts of a split model do not form one set (numbering, counts, names)
  | 'BAD_ARGUMENT'; // the writer / quantizer was called with inconsistent arguments

export class GgufError extends Error {
  readonly code: GgufErrorCode;

  constructor(code: GgufErrorCode, message: string, options?: { cause?: unknown }) {
    super(boundedMessage(message), options);
    this.name = 'GgufError';
    this.code = code;
  }
}

export function isGgufError(e: unknown, code?: GgufErrorCode): e is GgufError {
  return e instanceof GgufError && (code === undefined || e.code === code);
}
