import { ProtocolError } from './errors.ts';

/** Byte fields at least this long are referenced as their own chunk instead of copied. */
export const ZERO_COPY_THRESHOLD = 512;
const MAX_SCRATCH_BYTES = 1 << 20;
const TWO_POW_32 = 2 ** 32;

/**
 * An append-only encoder that produces a list of Buffers.
 *
 * Small fields are written into scratch buffers; byte fields of {@link ZERO_COPY_THRESHOLD}
 * bytes or more (record batches above all) are appended by reference, so the caller must not
 * modify them until the output has been written out. Scratch buffers are never copied when
 * they fill up: the filled part becomes a chunk and a new scratch buffer is started.
 */
export class Writer {
  private buf: Buffer;
  private pos = 0;
  private chunkStart = 0;
  private readonly chunks: Buffer[] = [];
  private readonly chunkOffsets: number[] = [];
  private flushed = 0;

  constructor(initialSize = 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(64, initialSize));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.flushed + (this.pos - this.chunkStart);
  }

  private flushChunk(): void {
    if (this.pos > this.chunkStart) {
      this.chunks.push(this.buf.subarray(this.chunkStart, this.pos));
      this.chunkOffsets.push(this.flushed);
      this.flushed += this.pos - this.chunkStart;
      this.chunkStart = this.pos;
    }
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flushChunk();
    const size = Math.max(n, Math.min(this.buf.length * 2, MAX_SCRATCH_BYTES));
    this.buf = Buffer.allocUnsafe(size);
    this.pos = 0;
    this.chunkStart = 0;
  }

  writeInt8(v: number): void {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
  }

  writeUint8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
  }

  writeInt16(v: number): void {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
  }

  writeUint16(v: number): void {
    this.ensure(2);
    this.buf.writeUint16BE(v, this.pos);
    this.pos += 2;
  }

  writeInt32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  writeUint32(v: number): void {
    this.ensure(4);
    this.buf.writeUint32BE(v, this.pos);
    this.pos += 4;
  }

  writeInt64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
  }

  /** int64 from a JS number (must be an integer with |v| <= 2^53). */
  writeInt64Number(v: number): void {
    this.ensure(8);
    const hi = Math.floor(v / TWO_POW_32);
    this.buf.writeInt32BE(hi, this.pos);
    this.buf.writeUint32BE(v - hi * TWO_POW_32, this.pos + 4);
    this.pos += 8;
  }

  writeFloat64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  writeBoolean(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  writeUnsignedVarint(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v >= TWO_POW_32) {
      throw new ProtocolError(`unsigned varint out of range: ${v}`, 'unencodable');
    }
    this.ensure(5);
    const buf = this.buf;
    let x = v;
    while (x >= 0x80) {
      buf[this.pos++] = (x & 0x7f) | 0x80;
      x = Math.floor(x / 128);
    }
    buf[this.pos++] = x;
  }

  /** Zigzag signed 32-bit varint. */
  writeVarint(v: number): void {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
      throw new ProtocolError(`varint out of int32 range: ${v}`, 'unencodable');
    }
    this.writeUnsignedVarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  /** Zigzag signed 64-bit varint. */
  writeVarlong(v: bigint): void {
    if (v < -(1n << 63n) || v >= 1n << 63n)
      throw new ProtocolError(`varlong out of range: ${v}`, 'unencodable');
    let x = v >= 0n ? v << 1n : (-v << 1n) - 1n;
    this.ensure(10);
    const buf = this.buf;
    while (x >= 0x80n) {
      buf[this.pos++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    buf[this.pos++] = Number(x);
  }

  /** A UUID in Kafka's base64url text form (22 characters). */
  writeUuid(s: string): void {
    const bytes = Buffer.from(s, 'base64url');
    if (bytes.length !== 16 || s.length !== 22) throw new ProtocolError(`invalid uuid "${s}"`, 'unencodable');
    this.ensure(16);
    bytes.copy(this.buf, this.pos);
    this.pos += 16;
  }

  private writeUtf8(s: string, len: number): void {
    this.ensure(len);
    this.buf.write(s, this.pos, len, 'utf8');
    this.pos += len;
  }

  writeNullableString(s: string | null): void {
    if (s === null) {
      this.writeInt16(-1);
      return;
    }
    const len = Buffer.byteLength(s, 'utf8');
    if (len > 0x7fff) throw new ProtocolError(`string of ${len} bytes exceeds 32767`, 'unencodable');
    this.writeInt16(len);
    this.writeUtf8(s, len);
  }

  writeString(s: string): void {
    if (s === null || s === undefined) throw new ProtocolError('non-nullable string is null', 'unencodable');
    this.writeNullableString(s);
  }

  writeCompactNullableString(s: string | null): void {
    if (s === null) {
      this.writeUnsignedVarint(0);
      return;
    }
    const len = Buffer.byteLength(s, 'utf8');
    if (len > 0x7fff) throw new ProtocolError(`string of ${len} bytes exceeds 32767`, 'unencodable');
    this.writeUnsignedVarint(len + 1);
    this.writeUtf8(s, len);
  }

  writeCompactString(s: string): void {
    if (s === null || s === undefined) throw new ProtocolError('non-nullable string is null', 'unencodable');
    this.writeCompactNullableString(s);
  }

  /** Appends raw bytes; long ones by reference (see class docs). */
  writeRaw(b: Uint8Array): void {
    const n = b.length;
    if (n >= ZERO_COPY_THRESHOLD) {
      this.flushChunk();
      const chunk = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, n);
      this.chunks.push(chunk);
      this.chunkOffsets.push(this.flushed);
      this.flushed += n;
      return;
    }
    this.ensure(n);
    this.buf.set(b, this.pos);
    this.pos += n;
  }

  writeNullableBytes(b: Uint8Array | null): void {
    if (b === null) {
      this.writeInt32(-1);
      return;
    }
    this.writeInt32(b.length);
    this.writeRaw(b);
  }

  writeBytes(b: Uint8Array): void {
    if (b === null || b === undefined) throw new ProtocolError('non-nullable bytes is null', 'unencodable');
    this.writeNullableBytes(b);
  }

  writeCompactNullableBytes(b: Uint8Array | null): void {
    if (b === null) {
      this.writeUnsignedVarint(0);
      return;
    }
    this.writeUnsignedVarint(b.length + 1);
    this.writeRaw(b);
  }

  writeCompactBytes(b: Uint8Array): void {
    if (b === null || b === undefined) throw new ProtocolError('non-nullable bytes is null', 'unencodable');
    this.writeCompactNullableBytes(b);
  }

  writeArrayLength(n: number): void {
    this.writeInt32(n);
  }

  /** Compact array length: n + 1, or 0 for a null array (n = -1). */
  writeCompactArrayLength(n: number): void {
    this.writeUnsignedVarint(n + 1);
  }

  /** Writes an empty tagged-field section. */
  writeEmptyTaggedFields(): void {
    this.ensure(1);
    this.buf[this.pos++] = 0;
  }

  /** Reserves 4 bytes for an int32 written later with {@link patchInt32}; returns its position. */
  reserveInt32(): number {
    this.ensure(4);
    const at = this.length;
    this.pos += 4;
    return at;
  }

  /** Writes `value` at a position returned by {@link reserveInt32}. */
  patchInt32(at: number, value: number): void {
    if (at >= this.flushed) {
      this.buf.writeInt32BE(value, this.chunkStart + (at - this.flushed));
      return;
    }
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const start = this.chunkOffsets[i];
      if (at >= start) {
        this.chunks[i].writeInt32BE(value, at - start);
        return;
      }
    }
    throw new ProtocolError(`patch position ${at} not found`, 'unencodable');
  }

  /** The encoded bytes as a list of chunks (no copy). The writer may be used further. */
  toBuffers(): Buffer[] {
    this.flushChunk();
    return this.chunks.slice();
  }

  /** The encoded bytes as one Buffer (copies once). */
  toBuffer(): Buffer {
    const chunks = this.toBuffers();
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.length);
  }
}
