import { ProtocolError, type ProtocolErrorKind } from '../primitives/errors.ts';
import type { CompressionName } from './codec.ts';

/**
 * Raised for corrupt compressed input, output over the caller's bound, an unknown codec, or a
 * codec whose native module is unavailable. `kind` is `'corrupt'` for bad input, `'invalid'`
 * for output larger than `maxOutputBytes`, `'unsupported'` for an unknown or unavailable codec.
 */
export class CompressionError extends ProtocolError {
  readonly codec: CompressionName | 'unknown';

  constructor(codec: CompressionName | 'unknown', message: string, kind: ProtocolErrorKind = 'corrupt') {
    super(`${codec}: ${message}`, kind);
    this.codec = codec;
  }
}

/** The error for decompressed output that would exceed `maxOutputBytes`. */
export function tooLarge(codec: CompressionName, maxOutputBytes: number): CompressionError {
  return new CompressionError(
    codec,
    `decompressed size exceeds the limit of ${maxOutputBytes} bytes`,
    'invalid',
  );
}

/** Wraps any error thrown by a native decoder into a CompressionError. */
export function wrapNative(codec: CompressionName, err: unknown): CompressionError {
  if (err instanceof CompressionError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new CompressionError(codec, `corrupt input (${msg})`, 'corrupt');
}
