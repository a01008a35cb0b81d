/**
 * One entry point for every Kafka compression codec.
 */
import { type CompressionCodec, compressionName } from './codec.ts';
import { CompressionError } from './errors.ts';
import { gzipCompress, gzipDecompress } from './gzip.ts';
import { lz4Compress, lz4Decompress } from './lz4.ts';
import { snappyCompress, snappyDecompress } from './snappy.ts';
import { zstdCompress, zstdDecompress } from './zstd.ts';

function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

function unknown(codec: number): CompressionError {
  return new CompressionError('unknown', `unknown compression codec id ${codec}`, 'unsupported');
}

/**
 * Compresses `buf` with `codec` in the wire form Kafka's Java client writes (gzip member,
 * xerial snappy, LZ4 frame, zstd frame). `none` returns `buf` itself (no copy).
 * Throws CompressionError (kind 'unsupported') when the codec's native module is missing.
 */
export function compress(codec: CompressionCodec, buf: Uint8Array): Buffer {
  switch (codec) {
    case 0:
      return asBuffer(buf);
    case 1:
      return gzipCompress(buf);
    case 2:
      return snappyCompress(buf);
    case 3:
      return lz4Compress(buf);
    case 4:
      return zstdCompress(buf);
    default:
      throw unknown(codec);
  }
}

/**
 * Decompresses `buf` (compressed with `codec`) producing at most `maxOutputBytes` bytes.
 * Corrupt or truncated input, output past the bound, an unknown codec or a missing native module
 * raise CompressionError (a ProtocolError); memory use stays bounded by `maxOutputBytes`.
 * `none` returns `buf` itself when it fits the bound.
 */
export function decompress(codec: CompressionCodec, buf: Uint8Array, maxOutputBytes: number): Buffer {
  if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0) {
    throw new RangeError(`maxOutputBytes must be a non-negative integer, got ${maxOutputBytes}`);
  }
  switch (codec) {
    case 0:
      if (buf.length > maxOutputBytes) {
        throw new CompressionError('none', `size exceeds the limit of ${maxOutputBytes} bytes`, 'invalid');
      }
      return asBuffer(buf);
    case 1:
      return gzipDecompress(buf, maxOutputBytes);
    case 2:
      return snappyDecompress(buf, maxOutputBytes);
    case 3:
      return lz4Decompress(buf, maxOutputBytes);
    case 4:
      return zstdDecompress(buf, maxOutputBytes);
    default:
      throw unknown(codec);
  }
}

/** Name of a codec id for messages, e.g. 'lz4'; 'codec-7' for an unknown id. */
export function describeCodec(codec: number): string {
  return compressionName(codec) ?? `codec-${codec}`;
}
