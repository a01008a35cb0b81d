/**
 * Zigzag varint / varlong codecs on raw Buffers, used by the record encoding. Decoders check
 * bounds and raise RecordBatchError(INVALID_RECORD); varlongs are returned as numbers and must
 * fit in ±2^53 (timestamps and deltas always do).
 */
import { RecordBatchError } from './errors.ts';

function bad(what: string): RecordBatchError {
  return new RecordBatchError('INVALID_RECORD', what);
}

/** A cursor over a byte range, for decoding records. */
export interface Cursor {
  buf: Buffer;
  pos: number;
  end: number;
}

/** Reads a zigzag varint (int32). */
export function readVarint(c: Cursor): number {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (c.pos >= c.end) throw bad('truncated varint');
    const b = c.buf[c.pos++];
    if (shift === 28) {
      if (b > 0x0f) throw bad('varint longer than 32 bits');
      value |= b << 28;
      break;
    }
    value |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
  }
  return (value >>> 1) ^ -(value & 1);
}

/** Reads a zigzag varlong as a number; raises if it does not fit in 53 bits. */
export function readVarlong(c: Cursor): number {
  let value = 0;
  let mul = 1;
  for (let i = 0; ; i++) {
    if (c.pos >= c.end) throw bad('truncated varlong');
    if (i >= 8) throw bad('varlong out of the supported range');
    const b = c.buf[c.pos++];
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) break;
    mul *= 128;
  }
  // value < 2^56 here; zigzag decode without losing the low bit.
  if (value > Number.MAX_SAFE_INTEGER) throw bad('varlong out of the supported range');
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

/** Bytes needed for a zigzag varint of `n` (int32). */
export function varintSize(n: number): number {
  return uvarintSize(((n << 1) ^ (n >> 31)) >>> 0);
}

/** Bytes needed for a zigzag varlong of `n` (a safe integer). */
export function varlongSize(n: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  let size = 1;
  while (z >= 128) {
    z = Math.floor(z / 128);
    size++;
  }
  return size;
}

function uvarintSize(u: number): number {
  if (u < 0x80) return 1;
  if (u < 0x4000) return 2;
  if (u < 0x200000) return 3;
  if (u < 0x10000000) return 4;
  return 5;
}

/** Writes a zigzag varint at `pos`; returns the new position. */
export function writeVarint(buf: Buffer, n: number, pos: number): number {
  let u = ((n << 1) ^ (n >> 31)) >>> 0;
  while (u >= 0x80) {
    buf[pos++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[pos++] = u;
  return pos;
}

/** Writes a zigzag varlong (a safe integer with |n| < 2^52) at `pos`; returns the new position. */
export function writeVarlong(buf: Buffer, n: number, pos: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z >= 128) {
    buf[pos++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  buf[pos++] = z;
  return pos;
}
