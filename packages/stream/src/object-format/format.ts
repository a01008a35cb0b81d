/**
 * Byte layout of a stream object (format version 1): data blocks, then an index, then a
 * fixed-size footer. All integers are little-endian; 64-bit fields hold numbers below 2^53.
 * CRCs are CRC-32C. The exact layout is documented in docs/formats.md ("Stream objects").
 *
 * This module holds the constants, the error type and the small integer helpers shared by
 * the writer and the reader; it does no I/O.
 */

/** Format version written by this code and the only one the reader accepts. */
export const OBJECT_FORMAT_VERSION = 1;

/** Last four bytes of every object: "TRSO" read as a little-endian u32. */
export const FOOTER_MAGIC = 0x4f535254;
/** First four bytes of every data block: "TRSB". */
export const BLOCK_MAGIC = 0x42535254;
/** First four bytes of the index: "TRSI". */
export const INDEX_MAGIC = 0x49535254;

/** Block header: magic, batch count, stream id, start offset, end offset, body bytes, CRC. */
export const BLOCK_HEADER_BYTES = 40;
/** Offset of the block CRC inside the block header (it covers bytes [0, 36) and the body). */
export const BLOCK_CRC_AT = 36;
/** Frame before each batch inside a block: u64 base offset, u32 count, u32 length. */
export const BATCH_FRAME_BYTES = 16;
/** Index header: magic, entry count. */
export const INDEX_HEADER_BYTES = 8;
/** One index entry: stream id, start offset, end offset, position, size, batch count. */
export const INDEX_ENTRY_BYTES = 40;
/** Fixed footer size at the end of every object. */
export const FOOTER_BYTES = 48;
/** Offset of the footer CRC inside the footer (it covers bytes [0, 40)). */
export const FOOTER_CRC_AT = 40;

/** Footer flag: the object holds more than one stream (a stream-set object). */
export const FLAG_MULTI_STREAM = 1;
/** Every flag this version understands; any other bit set is an unsupported object. */
export const KNOWN_FLAGS = FLAG_MULTI_STREAM;

/** Default target size of a data block (a bigger single batch gets a block of its own). */
export const DEFAULT_BLOCK_BYTES_TARGET = 512 * 1024;
/** Default size of the single tail GET that usually fetches footer and index together. */
export const DEFAULT_TAIL_BYTES_HINT = 64 * 1024;
/** Largest block (its sizes are u32 fields). */
export const BLOCK_BYTES_MAX = 0xffff_ffff;

/** What kind of damage a reader found. */
export type ObjectFormatErrorKind = 'corrupt' | 'truncated' | 'unsupported-version';
/** Which part of the object the damage is in. */
export type ObjectFormatPart = 'footer' | 'index' | 'block';

/**
 * The only error the reader throws on bad input: `kind` says what went wrong, `part` where.
 * Argument errors of the writer (out of order, gaps) are plain `Error`s: they are bugs of the
 * caller, not bad data.
 */
export class ObjectFormatError extends Error {
  readonly kind: ObjectFormatErrorKind;
  readonly part: ObjectFormatPart;

  constructor(kind: ObjectFormatErrorKind, part: ObjectFormatPart, message: string) {
    super(`stream object ${part} ${kind}: ${message}`);
    this.name = 'ObjectFormatError';
    this.kind = kind;
    this.part = part;
  }
}

/** One data block as listed in the index. `endOffset` is exclusive. */
export interface ObjectIndexEntry {
  readonly streamId: number;
  readonly startOffset: number;
  readonly endOffset: number;
  /** Byte position of the block in the object. */
  readonly position: number;
  /** Block size in bytes, header included. */
  readonly size: number;
  readonly batchCount: number;
}

/** A decoded footer. */
export interface ObjectFooter {
  readonly version: number;
  readonly flags: number;
  readonly indexPosition: number;
  readonly indexSize: number;
  readonly indexCrc: number;
  readonly entryCount: number;
  readonly objectSize: number;
}

const TWO_32 = 0x1_0000_0000;

/** Writes a number below 2^53 as a little-endian u64. */
export function writeU64(buf: Buffer, at: number, value: number): void {
  buf.writeUInt32LE(value % TWO_32, at);
  buf.writeUInt32LE(Math.floor(value / TWO_32), at + 4);
}

/** Reads a little-endian u64; `undefined` when it is not below 2^53. */
export function readU64(buf: Buffer, at: number): number | undefined {
  const hi = buf.readUInt32LE(at + 4);
  if (hi >= 0x20_0000) return undefined;
  return hi * TWO_32 + buf.readUInt32LE(at);
}

/** True for an integer in [0, 2^53). */
export function isOffset(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}
