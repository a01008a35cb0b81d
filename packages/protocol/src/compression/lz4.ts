/**
 * LZ4 frame format (https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md) as Kafka
 * uses it for compression type 3.
 *
 * Encoding matches Java's KafkaLZ4BlockOutputStream: FLG version 01 with independent blocks,
 * no block or content checksums, no content size, 64 KiB blocks, a correct header checksum;
 * incompressible blocks are stored raw. Blocks are compressed by the native `lz4-napi` module.
 *
 * Decoding is pure TypeScript: any frame version 01 (linked or independent blocks, block and
 * content checksums verified when present, content size checked, skippable frames skipped,
 * concatenated frames). The header checksum is accepted in its correct form and in the broken
 * form old Kafka clients wrote (hash over magic + descriptor, KAFKA-3160). Output is bounded by
 * `maxOutputBytes`.
 */
import { CompressionError, tooLarge } from './errors.ts';
import { Lz4OutputFull, lz4DecodeBlock } from './lz4-block.ts';
import { lz4Native, lz4NativeOrNull } from './native.ts';
import { xxhash32 } from './xxhash32.ts';

/** LZ4 frame magic number (little-endian on the wire). */
export const LZ4_FRAME_MAGIC = 0x184d2204;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const BLOCK_BYTES = 64 * 1024;
const UNCOMPRESSED_BIT = 0x80000000;

function fail(what: string): CompressionError {
  return new CompressionError('lz4', what);
}

function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Compresses `buf` into one LZ4 frame the way Kafka's Java client does. */
export function lz4Compress(buf: Uint8Array): Buffer {
  const native = lz4Native();
  const src = asBuffer(buf);
  const parts: Buffer[] = [];
  const header = Buffer.alloc(7);
  header.writeUInt32LE(LZ4_FRAME_MAGIC, 0);
  header[4] = 0x60; // version 01, block independence
  header[5] = 0x40; // 64 KiB maximum block size
  header[6] = (xxhash32(header, 0, 4, 6) >>> 8) & 0xff;
  parts.push(header);
  for (let pos = 0; pos < src.length; pos += BLOCK_BYTES) {
    const chunk = src.subarray(pos, Math.min(src.length, pos + BLOCK_BYTES));
    // lz4-napi prefixes the raw block with its uncompressed size (4 bytes, little-endian).
    const block = native.compressSync(chunk).subarray(4);
    const len = Buffer.allocUnsafe(4);
    if (block.length >= chunk.length) {
      len.writeUInt32LE((chunk.length | UNCOMPRESSED_BIT) >>> 0, 0);
      parts.push(len, chunk);
    } else {
      len.writeUInt32LE(block.length, 0);
      parts.push(len, block);
    }
  }
  parts.push(Buffer.alloc(4)); // end mark
  return Buffer.concat(parts);
}

/** Blocks smaller than this are decoded in TypeScript (native call overhead dominates). */
const NATIVE_MIN_BLOCK_BYTES = 4096;

/**
 * Decodes one independent block with lz4-napi into `out`, bounded by `limit`. Returns false
 * when the native module is unavailable or rejects the block (the TypeScript decoder then runs
 * and reports the precise error).
 */
function decodeNative(src: Buffer, pos: number, end: number, out: Output, limit: number): boolean {
  const native = lz4NativeOrNull();
  if (native === null) return false;
  const input = Buffer.allocUnsafe(4 + end - pos);
  input.writeUInt32LE(limit - out.len, 0);
  src.copy(input, 4, pos, end);
  let block: Buffer;
  try {
    block = native.uncompressSync(input);
  } catch {
    return false;
  }
  if (block.length > limit - out.len) return false;
  block.copy(out.buf, out.len);
  out.len += block.length;
  return true;
}

/** A growable output buffer that never passes its maximum. */
class Output {
  buf: Buffer;
  len = 0;
  constructor(
    initial: number,
    readonly max: number,
  ) {
    this.buf = Buffer.allocUnsafe(Math.min(initial, max));
  }
  /** Makes room for `n` more bytes where possible (capped at max). */
  reserve(n: number): void {
    const want = Math.min(this.len + n, this.max);
    if (want <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.min(this.max, Math.max(want, this.buf.length * 2)));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
}

/** Decompresses one or more LZ4 frames, producing at most `maxOutputBytes`. */
export function lz4Decompress(buf: Uint8Array, maxOutputBytes: number): Buffer {
  const src = asBuffer(buf);
  if (src.length < 4) throw fail('input too short for an LZ4 frame');
  const out = new Output(Math.max(BLOCK_BYTES, src.length * 4), maxOutputBytes);
  let pos = 0;
  let frames = 0;
  while (pos < src.length) {
    if (pos + 4 > src.length) throw fail('truncated frame magic');
    const magic = src.readUInt32LE(pos);
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (pos + 8 > src.length) throw fail('truncated skippable frame');
      const size = src.readUInt32LE(pos + 4);
      if (size > src.length - pos - 8) throw fail('truncated skippable frame');
      pos += 8 + size;
      continue;
    }
    if (magic !== LZ4_FRAME_MAGIC) throw fail(`bad frame magic 0x${magic.toString(16)}`);
    pos = decodeFrame(src, pos, out);
    frames++;
  }
  if (frames === 0) throw fail('no LZ4 frame in input');
  return out.buf.subarray(0, out.len);
}

/** Decodes the frame at `start` (its magic already checked) into `out`; returns the end. */
function decodeFrame(src: Buffer, start: number, out: Output): number {
  let pos = start + 4;
  if (pos + 3 > src.length) throw fail('truncated frame descriptor');
  const flg = src[pos];
  const bd = src[pos + 1];
  if (flg >>> 6 !== 1) throw fail(`unsupported frame version ${flg >>> 6}`);
  if (flg & 0x02) throw fail('reserved FLG bit set');
  if (flg & 0x01)
    throw new CompressionError('lz4', 'frames with a dictionary id are not supported', 'unsupported');
  if ((bd & 0x8f) !== 0) throw fail('reserved BD bits set');
  const sizeCode = (bd >>> 4) & 7;
  if (sizeCode < 4) throw fail(`invalid block maximum size code ${sizeCode}`);
  const blockMax = 1 << (2 * sizeCode + 8);
  const independent = (flg & 0x20) !== 0;
  const blockChecksum = (flg & 0x10) !== 0;
  const hasContentSize = (flg & 0x08) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  const descEnd = pos + 2 + (hasContentSize ? 8 : 0);
  if (descEnd + 1 > src.length) throw fail('truncated frame descriptor');
  const hc = src[descEnd];
  if (
    ((xxhash32(src, 0, pos, descEnd) >>> 8) & 0xff) !== hc &&
    ((xxhash32(src, 0, start, descEnd) >>> 8) & 0xff) !== hc
  ) {
    throw fail('frame header checksum mismatch');
  }
  let contentSize = -1;
  if (hasContentSize) {
    const size = src.readBigUInt64LE(pos + 2);
    if (size > BigInt(out.max - out.len)) throw tooLarge('lz4', out.max);
    contentSize = Number(size);
    out.reserve(contentSize);
  }
  pos = descEnd + 1;
  const frameStart = out.len;
  for (;;) {
    if (pos + 4 > src.length) throw fail('truncated block size');
    const word = src.readUInt32LE(pos);
    pos += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    if (size > blockMax) throw fail(`block size ${size} exceeds the frame maximum ${blockMax}`);
    const end = pos + size;
    if (end + (blockChecksum ? 4 : 0) > src.length) throw fail('truncated block');
    if (blockChecksum && xxhash32(src, 0, pos, end) !== src.readUInt32LE(end)) {
      throw fail('block checksum mismatch');
    }
    if (word & UNCOMPRESSED_BIT) {
      if (size > out.max - out.len) throw tooLarge('lz4', out.max);
      out.reserve(size);
      src.copy(out.buf, out.len, pos, end);
      out.len += size;
    } else {
      out.reserve(blockMax);
      const limit = Math.min(out.buf.length, out.len + blockMax);
      if (independent && size >= NATIVE_MIN_BLOCK_BYTES && decodeNative(src, pos, end, out, limit)) {
        pos = end + (blockChecksum ? 4 : 0);
        continue;
      }
      try {
        out.len = lz4DecodeBlock(src, pos, end, out.buf, out.len, limit, independent ? out.len : frameStart);
      } catch (err) {
        if (!(err instanceof Lz4OutputFull)) throw err;
        if (limit < out.len + blockMax && limit >= out.max) throw tooLarge('lz4', out.max);
        throw fail('block decodes to more than the block maximum size');
      }
    }
    pos = end + (blockChecksum ? 4 : 0);
  }
  if (contentChecksum) {
    if (pos + 4 > src.length) throw fail('truncated content checksum');
    if (xxhash32(out.buf, 0, frameStart, out.len) !== src.readUInt32LE(pos)) {
      throw fail('content checksum mismatch');
    }
    pos += 4;
  }
  if (contentSize >= 0 && out.len - frameStart !== contentSize) throw fail('content size mismatch');
  return pos;
}
