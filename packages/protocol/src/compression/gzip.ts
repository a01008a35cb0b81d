/**
 * gzip via Node's zlib. Decompression is bounded with zlib's `maxOutputLength`.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { CompressionError, tooLarge, wrapNative } from './errors.ts';

/** gzip-compresses `buf` (one member, zlib's default level, as Java's GZIPOutputStream does). */
export function gzipCompress(buf: Uint8Array): Buffer {
  return gzipSync(buf);
}

/** Decompresses one or more concatenated gzip members, producing at most `maxOutputBytes`. */
export function gzipDecompress(buf: Uint8Array, maxOutputBytes: number): Buffer {
  if (buf.length < 18) throw new CompressionError('gzip', `input of ${buf.length} bytes is too short`);
  let out: Buffer;
  try {
    // zlib needs maxOutputLength >= 1; one byte of slack lets an output of exactly the limit pass.
    out = gunzipSync(buf, { maxOutputLength: Math.min(maxOutputBytes + 1, 2 ** 31 - 1) });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge('gzip', maxOutputBytes);
    throw wrapNative('gzip', err);
  }
  if (out.length > maxOutputBytes) throw tooLarge('gzip', maxOutputBytes);
  return out;
}
