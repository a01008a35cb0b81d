/**
 * Reads a stream object: footer and index from its tail, then blocks by ranged reads. Every
 * check failure on bad input throws an {@link ObjectFormatError}; nothing else is thrown.
 */
import { crc32c, crc32cv } from '@tributary/crc32c';
import {
  BATCH_FRAME_BYTES,
  BLOCK_CRC_AT,
  BLOCK_HEADER_BYTES,
  BLOCK_MAGIC,
  DEFAULT_TAIL_BYTES_HINT,
  FOOTER_BYTES,
  FOOTER_CRC_AT,
  FOOTER_MAGIC,
  INDEX_ENTRY_BYTES,
  INDEX_HEADER_BYTES,
  INDEX_MAGIC,
  KNOWN_FLAGS,
  OBJECT_FORMAT_VERSION,
  type ObjectFooter,
  ObjectFormatError,
  type ObjectFormatPart,
  type ObjectIndexEntry,
  readU64,
} from './format.ts';
import { ObjectIndex } from './object-index.ts';

/** A byte range of an object: `start` inclusive, `end` exclusive (as in `GetOptions`). */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** One batch read back from a block; `data` is a subarray of the block buffer (no copy). */
export interface ReadBatch {
  readonly baseOffset: number;
  readonly count: number;
  readonly data: Buffer;
}

/** Result of {@link parseFooter}. */
export type ObjectFooterResult =
  /** The tail held the whole index: `index` is a subarray of the tail. */
  | { readonly complete: true; readonly footer: ObjectFooter; readonly index: Buffer }
  /**
   * The index starts before the tail: GET `missing`, then call {@link joinIndex} with the
   * fetched bytes.
   */
  | {
      readonly complete: false;
      readonly footer: ObjectFooter;
      readonly missing: ByteRange;
      readonly tail: Buffer;
    };

/** The range of the first GET of an object of `objectSize` bytes. */
export function tailRange(objectSize: number, tailBytesHint = DEFAULT_TAIL_BYTES_HINT): ByteRange {
  const bytes = Math.max(FOOTER_BYTES, tailBytesHint);
  return { start: Math.max(0, objectSize - bytes), end: objectSize };
}

function fail(kind: ObjectFormatError['kind'], part: ObjectFormatPart, message: string): never {
  throw new ObjectFormatError(kind, part, message);
}

function u64(buf: Buffer, at: number, part: ObjectFormatPart, field: string): number {
  const value = readU64(buf, at);
  if (value === undefined) fail('corrupt', part, `${field} is not below 2^53`);
  return value;
}

/**
 * Decodes the footer from `tail`, the last `tail.length` bytes of an object of `objectSize`
 * bytes, and locates the index (in the tail, or the range still to fetch).
 */
export function parseFooter(tail: Buffer, objectSize: number): ObjectFooterResult {
  if (!Number.isSafeInteger(objectSize) || objectSize < 0) {
    fail('corrupt', 'footer', `bad object size ${objectSize}`);
  }
  if (tail.length > objectSize) fail('corrupt', 'footer', 'tail longer than the object');
  if (objectSize < FOOTER_BYTES + INDEX_HEADER_BYTES) {
    fail('truncated', 'footer', `object of ${objectSize} bytes is too small`);
  }
  if (tail.length < FOOTER_BYTES) fail('truncated', 'footer', `tail of ${tail.length} bytes`);
  const f = tail.subarray(tail.length - FOOTER_BYTES);
  if (f.readUInt32LE(44) !== FOOTER_MAGIC) fail('corrupt', 'footer', 'bad magic');
  if (crc32c(f.subarray(0, FOOTER_CRC_AT)) !== f.readUInt32LE(FOOTER_CRC_AT)) {
    fail('corrupt', 'footer', 'CRC mismatch');
  }
  const version = f.readUInt32LE(36);
  if (version !== OBJECT_FORMAT_VERSION) {
    fail('unsupported-version', 'footer', `format version ${version}`);
  }
  const flags = f.readUInt32LE(20);
  if ((flags & ~KNOWN_FLAGS) !== 0) fail('unsupported-version', 'footer', `flags ${flags}`);
  const footer: ObjectFooter = {
    version,
    flags,
    indexPosition: u64(f, 0, 'footer', 'index position'),
    indexSize: f.readUInt32LE(8),
    indexCrc: f.readUInt32LE(12),
    entryCount: f.readUInt32LE(16),
    objectSize: u64(f, 24, 'footer', 'object size'),
  };
  if (footer.objectSize !== objectSize) {
    // A valid footer naming another size: the object was cut (or the caller's size is wrong).
    const kind = footer.objectSize > objectSize ? 'truncated' : 'corrupt';
    fail(kind, 'footer', `footer says ${footer.objectSize} bytes, object has ${objectSize}`);
  }
  if (
    footer.indexSize !== INDEX_HEADER_BYTES + footer.entryCount * INDEX_ENTRY_BYTES ||
    footer.indexPosition + footer.indexSize + FOOTER_BYTES !== objectSize
  ) {
    fail('corrupt', 'footer', 'index position/size do not match the object');
  }
  const tailStart = objectSize - tail.length;
  if (footer.indexPosition >= tailStart) {
    const at = footer.indexPosition - tailStart;
    return { complete: true, footer, index: tail.subarray(at, at + footer.indexSize) };
  }
  return {
    complete: false,
    footer,
    missing: { start: footer.indexPosition, end: tailStart },
    tail,
  };
}

/** Index bytes from an incomplete {@link ObjectFooterResult} and the fetched `missing` range. */
export function joinIndex(result: ObjectFooterResult, fetched: Buffer): Buffer {
  if (result.complete) return result.index;
  const { footer, missing, tail } = result;
  if (fetched.length !== missing.end - missing.start) {
    fail('truncated', 'index', `fetched ${fetched.length} of ${missing.end - missing.start} bytes`);
  }
  const inTail = footer.indexSize - fetched.length;
  return Buffer.concat([fetched, tail.subarray(0, inTail)], footer.indexSize);
}

/** Decodes and checks the index (`buf` exactly `footer.indexSize` bytes). */
export function parseIndex(buf: Buffer, footer: ObjectFooter): ObjectIndex {
  if (buf.length < footer.indexSize) fail('truncated', 'index', `${buf.length} bytes`);
  if (buf.length > footer.indexSize) fail('corrupt', 'index', `${buf.length} bytes`);
  if (crc32c(buf) !== footer.indexCrc) fail('corrupt', 'index', 'CRC mismatch');
  if (buf.length < INDEX_HEADER_BYTES) fail('corrupt', 'index', `${buf.length} bytes`);
  if (buf.readUInt32LE(0) !== INDEX_MAGIC) fail('corrupt', 'index', 'bad magic');
  const count = buf.readUInt32LE(4);
  if (count !== footer.entryCount || buf.length !== INDEX_HEADER_BYTES + count * INDEX_ENTRY_BYTES) {
    fail('corrupt', 'index', 'entry count does not match the index size');
  }
  const entries: ObjectIndexEntry[] = [];
  let position = 0;
  let prev: ObjectIndexEntry | undefined;
  for (let i = 0, at = INDEX_HEADER_BYTES; i < count; i++, at += INDEX_ENTRY_BYTES) {
    const e: ObjectIndexEntry = {
      streamId: u64(buf, at, 'index', 'stream id'),
      startOffset: u64(buf, at + 8, 'index', 'start offset'),
      endOffset: u64(buf, at + 16, 'index', 'end offset'),
      position: u64(buf, at + 24, 'index', 'position'),
      size: buf.readUInt32LE(at + 32),
      batchCount: buf.readUInt32LE(at + 36),
    };
    if (e.position !== position || e.size < BLOCK_HEADER_BYTES || e.batchCount < 1) {
      fail('corrupt', 'index', `entry ${i} has a bad position, size or batch count`);
    }
    if (e.endOffset - e.startOffset < e.batchCount) {
      fail('corrupt', 'index', `entry ${i} has a bad offset range`);
    }
    if (
      prev !== undefined &&
      (e.streamId < prev.streamId || (e.streamId === prev.streamId && e.startOffset < prev.endOffset))
    ) {
      fail('corrupt', 'index', `entry ${i} is out of order`);
    }
    position += e.size;
    entries.push(e);
    prev = e;
  }
  if (position !== footer.indexPosition) fail('corrupt', 'index', 'blocks do not end at the index');
  return new ObjectIndex(entries, footer);
}

/**
 * Checks the block of `entry` and returns its batches. `buf` holds object bytes starting at
 * object position `bufPosition` (default: the block's own position), so a single GET of
 * several adjacent blocks can be passed for each of them.
 */
export function readBlock(
  buf: Buffer,
  entry: ObjectIndexEntry,
  bufPosition = entry.position,
): { batches: ReadBatch[] } {
  const at = entry.position - bufPosition;
  if (at < 0) fail('corrupt', 'block', 'buffer starts after the block');
  if (entry.size < BLOCK_HEADER_BYTES) fail('corrupt', 'block', `entry size ${entry.size}`);
  if (buf.length < at + entry.size) {
    fail('truncated', 'block', `need ${entry.size} bytes at ${at}, buffer has ${buf.length}`);
  }
  const block = buf.subarray(at, at + entry.size);
  const body = block.subarray(BLOCK_HEADER_BYTES);
  const crc = crc32cv([block.subarray(0, BLOCK_CRC_AT), body]);
  if (crc !== block.readUInt32LE(BLOCK_CRC_AT)) fail('corrupt', 'block', 'CRC mismatch');
  if (
    block.readUInt32LE(0) !== BLOCK_MAGIC ||
    block.readUInt32LE(4) !== entry.batchCount ||
    readU64(block, 8) !== entry.streamId ||
    readU64(block, 16) !== entry.startOffset ||
    readU64(block, 24) !== entry.endOffset ||
    block.readUInt32LE(32) !== body.length
  ) {
    fail('corrupt', 'block', 'header does not match the index entry');
  }
  const batches: ReadBatch[] = [];
  let pos = 0;
  let offset = entry.startOffset;
  while (pos < body.length) {
    if (pos + BATCH_FRAME_BYTES > body.length) fail('corrupt', 'block', 'cut batch frame');
    const baseOffset = readU64(body, pos);
    const count = body.readUInt32LE(pos + 8);
    const length = body.readUInt32LE(pos + 12);
    const start = pos + BATCH_FRAME_BYTES;
    if (baseOffset !== offset || count < 1 || start + length > body.length) {
      fail('corrupt', 'block', `bad batch frame at ${pos}`);
    }
    batches.push({ baseOffset, count, data: body.subarray(start, start + length) });
    offset += count;
    pos = start + length;
  }
  if (offset !== entry.endOffset || batches.length !== entry.batchCount) {
    fail('corrupt', 'block', 'batches do not cover the block range');
  }
  return { batches };
}

/** The batches that hold offsets in [startOffset, endOffset). */
export function selectBatches(
  batches: readonly ReadBatch[],
  startOffset: number,
  endOffset = Number.MAX_SAFE_INTEGER,
): ReadBatch[] {
  return batches.filter((b) => b.baseOffset + b.count > startOffset && b.baseOffset < endOffset);
}
