/**
 * Snappy, in both forms Kafka clients use:
 * - raw Snappy blocks (librdkafka writes these),
 * - the xerial "snappy-java" stream that the Java client writes: an 8-byte magic
 *   (0x82 'SNAPPY' 0x00), int32 version and int32 compatible-version (big-endian), then chunks
 *   of [int32 big-endian length][raw Snappy block].
 *
 * Decoding detects the form by the magic (as snappy-java and librdkafka do). Encoding writes the
 * xerial form, like the Java producer: Java consumers read it natively and fall back to raw for
 * unframed input, and librdkafka detects and reads both.
 */
import { CompressionError, tooLarge, wrapNative } from './errors.ts';
import { snappyNative } from './native.ts';

/** The 8-byte xerial magic: 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00. */
export const XERIAL_MAGIC: Buffer = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
/** snappy-java's default uncompressed chunk size. */
const XERIAL_CHUNK_BYTES = 32 * 1024;

/** True when `buf` starts with the xerial stream magic. */
export function isXerialFramed(buf: Uint8Array): boolean {
  if (buf.length < XERIAL_HEADER_BYTES) return false;
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (buf[i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

/** Reads the uncompressed-length preamble (uvarint, ≤ 32 bits) of a raw Snappy block. */
export function snappyUncompressedLength(block: Uint8Array): number {
  let result = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= block.length) throw new CompressionError('snappy', 'truncated length preamble');
    const b = block[i];
    result += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) {
      if (result > 0xffffffff) break;
      return result;
    }
  }
  throw new CompressionError('snappy', 'invalid length preamble');
}

function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Decompresses one raw Snappy block whose declared length must fit in `budget` bytes. */
function rawBlock(block: Uint8Array, budget: number, maxOutputBytes: number): Buffer {
  const declared = snappyUncompressedLength(block);
  if (declared > budget) throw tooLarge('snappy', maxOutputBytes);
  if (declared === 0) {
    if (block.length === 1) return Buffer.alloc(0);
    throw new CompressionError('snappy', 'corrupt input (data after an empty block)');
  }
  const native = snappyNative();
  let out: Buffer;
  try {
    out = native.uncompressSync(asBuffer(block), { asBuffer: true });
  } catch (err) {
    throw wrapNative('snappy', err);
  }
  if (out.length !== declared) throw new CompressionError('snappy', 'corrupt input (length mismatch)');
  return out;
}

/** Compresses `buf` as a xerial snappy-java stream (32 KiB chunks). */
export function snappyCompress(buf: Uint8Array): Buffer {
  const native = snappyNative();
  const src = asBuffer(buf);
  const parts: Buffer[] = [];
  const header = Buffer.alloc(XERIAL_HEADER_BYTES);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(1, 8);
  header.writeInt32BE(1, 12);
  parts.push(header);
  for (let pos = 0; pos < src.length; pos += XERIAL_CHUNK_BYTES) {
    const block = native.compressSync(src.subarray(pos, Math.min(src.length, pos + XERIAL_CHUNK_BYTES)));
    const len = Buffer.allocUnsafe(4);
    len.writeInt32BE(block.length, 0);
    parts.push(len, block);
  }
  return Buffer.concat(parts);
}

/** Compresses `buf` as one raw Snappy block (the form librdkafka writes). */
export function snappyCompressRaw(buf: Uint8Array): Buffer {
  return snappyNative().compressSync(asBuffer(buf));
}

/** Decompresses xerial-framed or raw Snappy, producing at most `maxOutputBytes`. */
export function snappyDecompress(buf: Uint8Array, maxOutputBytes: number): Buffer {
  if (buf.length === 0) throw new CompressionError('snappy', 'empty input');
  if (!isXerialFramed(buf)) return rawBlock(buf, maxOutputBytes, maxOutputBytes);
  const view = asBuffer(buf);
  const chunks: Buffer[] = [];
  let total = 0;
  let pos = XERIAL_HEADER_BYTES;
  while (pos < view.length) {
    if (pos + 4 > view.length) throw new CompressionError('snappy', 'truncated xerial chunk length');
    const len = view.readInt32BE(pos);
    pos += 4;
    if (len < 0 || len > view.length - pos) {
      throw new CompressionError('snappy', `xerial chunk length ${len} exceeds the remaining input`);
    }
    if (len === 0) continue;
    const out = rawBlock(view.subarray(pos, pos + len), maxOutputBytes - total, maxOutputBytes);
    pos += len;
    total += out.length;
    chunks.push(out);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}
