import { ProtocolError, truncated } from './errors.ts';

const TWO_POW_32 = 2 ** 32;
const UUID_BYTES = 16;
/** Largest number of unknown tagged fields a single struct may carry before we give up. */
export const MAX_TAGGED_FIELDS = 4096;

/**
 * A bounds-checked cursor over an untrusted Buffer.
 *
 * Contract: every read either returns a value and advances `offset`, or throws a
 * {@link ProtocolError} and leaves the reader in an unspecified position. Lengths read from
 * the input are checked against the bytes that remain before anything is allocated, so a
 * hostile length can never make the reader allocate more than the input's own size. Byte
 * fields are returned as zero-copy subarrays of the input: they share memory with it and
 * stay valid as long as the caller keeps the input alive and unmodified.
 */
export class Reader {
  readonly buf: Buffer;
  offset: number;
  readonly end: number;

  constructor(buf: Buffer, offset = 0, end = buf.length) {
    if (offset < 0 || end > buf.length || offset > end) {
      throw new ProtocolError(`reader window [${offset}, ${end}) outside a buffer of ${buf.length} bytes`);
    }
    this.buf = buf;
    this.offset = offset;
    this.end = end;
  }

  remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number, what: string): number {
    const at = this.offset;
    if (at + n > this.end) throw truncated(what, n, at, this.end);
    this.offset = at + n;
    return at;
  }

  readInt8(): number {
    return this.buf.readInt8(this.need(1, 'int8'));
  }

  readUint8(): number {
    return this.buf[this.need(1, 'uint8')];
  }

  readInt16(): number {
    return this.buf.readInt16BE(this.need(2, 'int16'));
  }

  readUint16(): number {
    return this.buf.readUint16BE(this.need(2, 'uint16'));
  }

  readInt32(): number {
    return this.buf.readInt32BE(this.need(4, 'int32'));
  }

  readUint32(): number {
    return this.buf.readUint32BE(this.need(4, 'uint32'));
  }

  readInt64(): bigint {
    return this.buf.readBigInt64BE(this.need(8, 'int64'));
  }

  /** int64 as a JS number; exact for |v| <= 2^53 (offsets, timestamps), rounded beyond. */
  readInt64Number(): number {
    const at = this.need(8, 'int64');
    return this.buf.readInt32BE(at) * TWO_POW_32 + this.buf.readUint32BE(at + 4);
  }

  readFloat64(): number {
    return this.buf.readDoubleBE(this.need(8, 'float64'));
  }

  readBoolean(): boolean {
    return this.buf[this.need(1, 'boolean')] !== 0;
  }

  /** Unsigned LEB128 of at most 5 bytes (a Kafka "unsigned varint", 32 bits). */
  readUnsignedVarint(): number {
    const buf = this.buf;
    let at = this.offset;
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (at >= this.end) throw truncated('varint', 1, at, this.end);
      const b = buf[at++];
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (value >= TWO_POW_32) throw new ProtocolError(`unsigned varint ${value} exceeds 32 bits`);
        this.offset = at;
        return value;
      }
    }
    throw new ProtocolError(`varint at offset ${this.offset} is longer than 5 bytes`);
  }

  /** Zigzag-encoded signed 32-bit varint. */
  readVarint(): number {
    const raw = this.readUnsignedVarint();
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }

  /** Zigzag-encoded signed 64-bit varint (at most 10 bytes). */
  readVarlong(): bigint {
    const buf = this.buf;
    let at = this.offset;
    let lo = 0;
    // Accumulate the first 49 bits in a double (exact), the rest with bigint.
    let shift = 0;
    for (; shift < 49; shift += 7) {
      if (at >= this.end) throw truncated('varlong', 1, at, this.end);
      const b = buf[at++];
      lo += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        this.offset = at;
        return lo % 2 === 0 ? BigInt(lo / 2) : -BigInt((lo + 1) / 2);
      }
    }
    let value = BigInt(lo);
    for (; shift < 70; shift += 7) {
      if (at >= this.end) throw truncated('varlong', 1, at, this.end);
      const b = buf[at++];
      value |= BigInt(b & 0x7f) << BigInt(shift);
      if ((b & 0x80) === 0) {
        if (value >= 1n << 64n) throw new ProtocolError('varlong exceeds 64 bits');
        this.offset = at;
        return (value >> 1n) ^ -(value & 1n);
      }
    }
    throw new ProtocolError(`varlong at offset ${this.offset} is longer than 10 bytes`);
  }

  /** A 16-byte UUID, returned in Kafka's base64url text form (22 characters, no padding). */
  readUuid(): string {
    const at = this.need(UUID_BYTES, 'uuid');
    return this.buf.toString('base64url', at, at + UUID_BYTES);
  }

  /** `n` raw bytes as a zero-copy subarray. */
  readRaw(n: number, what = 'bytes'): Buffer {
    if (!Number.isInteger(n) || n < 0) throw new ProtocolError(`invalid ${what} length ${n}`);
    const at = this.need(n, what);
    return this.buf.subarray(at, at + n);
  }

  private readUtf8(n: number): string {
    const at = this.need(n, 'string');
    return this.buf.toString('utf8', at, at + n);
  }

  readNullableString(): string | null {
    const n = this.readInt16();
    if (n === -1) return null;
    if (n < 0) throw new ProtocolError(`invalid string length ${n}`);
    return this.readUtf8(n);
  }

  readString(): string {
    const s = this.readNullableString();
    if (s === null) throw new ProtocolError('non-nullable string field is null');
    return s;
  }

  readCompactNullableString(): string | null {
    const n = this.readUnsignedVarint() - 1;
    if (n === -1) return null;
    if (n > 0x7fff) throw new ProtocolError(`compact string length ${n} exceeds 32767`);
    return this.readUtf8(n);
  }

  readCompactString(): string {
    const s = this.readCompactNullableString();
    if (s === null) throw new ProtocolError('non-nullable compact string field is null');
    return s;
  }

  readNullableBytes(): Buffer | null {
    const n = this.readInt32();
    if (n === -1) return null;
    if (n < 0) throw new ProtocolError(`invalid bytes length ${n}`);
    return this.readRaw(n);
  }

  readBytes(): Buffer {
    const b = this.readNullableBytes();
    if (b === null) throw new ProtocolError('non-nullable bytes field is null');
    return b;
  }

  readCompactNullableBytes(): Buffer | null {
    const n = this.readUnsignedVarint() - 1;
    if (n === -1) return null;
    return this.readRaw(n);
  }

  readCompactBytes(): Buffer {
    const b = this.readCompactNullableBytes();
    if (b === null) throw new ProtocolError('non-nullable compact bytes field is null');
    return b;
  }

  /**
   * An int32 array length: -1 for a null array, else a count that is at most the number of
   * bytes left (each element takes at least one byte), so callers may preallocate.
   */
  readArrayLength(): number {
    const n = this.readInt32();
    return this.checkCount(n);
  }

  /** A compact (unsigned varint, +1) array length; -1 for null. Bounded like readArrayLength. */
  readCompactArrayLength(): number {
    const n = this.readUnsignedVarint() - 1;
    return this.checkCount(n);
  }

  private checkCount(n: number): number {
    if (n === -1) return -1;
    if (n < -1) throw new ProtocolError(`invalid array length ${n}`);
    if (n > this.end - this.offset) {
      throw new ProtocolError(
        `array of ${n} elements cannot fit in ${this.end - this.offset} bytes`,
        'truncated',
      );
    }
    return n;
  }

  /**
   * Reads a tagged-field section. For each field, `onTag` (if given) is called with the
   * reader positioned at the field's data and a `size`; it returns true when it consumed the
   * field. Unknown fields (onTag absent or returning false) are skipped. Tags must be
   * strictly increasing, as Kafka requires. A handler that reads past its field's size
   * raises ProtocolError.
   */
  readTaggedFields(onTag?: (tag: number, size: number, reader: Reader) => boolean): void {
    const count = this.readUnsignedVarint();
    if (count > MAX_TAGGED_FIELDS || count > this.end - this.offset) {
      throw new ProtocolError(`implausible tagged field count ${count}`);
    }
    let last = -1;
    for (let i = 0; i < count; i++) {
      const tag = this.readUnsignedVarint();
      if (tag <= last) throw new ProtocolError(`tagged fields out of order: ${tag} after ${last}`);
      last = tag;
      const size = this.readUnsignedVarint();
      const start = this.offset;
      if (start + size > this.end) throw truncated('tagged field', size, start, this.end);
      if (onTag?.(tag, size, this)) {
        if (this.offset !== start + size) {
          throw new ProtocolError(`tagged field ${tag}: declared ${size} bytes, read ${this.offset - start}`);
        }
      } else {
        this.offset = start + size;
      }
    }
  }
}
