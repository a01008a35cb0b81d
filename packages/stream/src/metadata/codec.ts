/**
 * Byte formats of the embedded metadata store (docs/formats.md, "Embedded metadata store"):
 * log entries `[u32 length][u32 crc32c(payload)][payload]` and the snapshot file
 * `[magic "TMDS"][u32 version][u32 length][u32 crc32c(payload)][payload]`. Little-endian.
 */
import { crc32c } from '@tributary/crc32c';
import type { CommitRecord, ModelState } from './model.ts';

/** Bytes before a log entry's payload. */
export const ENTRY_HEADER_BYTES = 8;
/** Largest payload accepted when reading (a bigger length field is treated as corruption). */
export const ENTRY_PAYLOAD_BYTES_MAX = 256 * 1024 * 1024;
const ENTRY_TYPE_RECORD = 1;
const SNAPSHOT_MAGIC = 0x53444d54; // "TMDS" read as a little-endian u32
const SNAPSHOT_VERSION = 1;
const SNAPSHOT_HEADER_BYTES = 16;

/** Thrown by decoders on malformed bytes. */
export class CorruptError extends Error {
  override readonly name = 'CorruptError';
}

class Writer {
  private parts: Buffer[] = [];
  length = 0;

  private push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  u8(v: number): void {
    this.push(Buffer.from([v]));
  }
  u32(v: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  u64(v: number): void {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  bytes(v: Buffer): void {
    this.u32(v.length);
    this.push(v);
  }
  str(v: string): void {
    this.bytes(Buffer.from(v, 'utf8'));
  }
  finish(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new CorruptError(`truncated at ${this.pos} (+${n})`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptError('u64 beyond 2^53');
    return Number(v);
  }
  bytes(): Buffer {
    const n = this.u32();
    this.need(n);
    const v = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return v;
  }
  str(): string {
    return this.bytes().toString('utf8');
  }
  /** Count field for `itemBytesMin`-byte items: rejects counts the remaining bytes cannot hold. */
  count(itemBytesMin: number): number {
    const n = this.u32();
    if (n * itemBytesMin > this.buf.length - this.pos) throw new CorruptError(`count ${n} too large`);
    return n;
  }
  end(): void {
    if (this.pos !== this.buf.length) throw new CorruptError(`${this.buf.length - this.pos} trailing bytes`);
  }
}

/** Encode one log entry (header + payload). */
export function encodeEntry(record: CommitRecord): Buffer {
  const w = new Writer();
  w.u8(ENTRY_TYPE_RECORD);
  w.u64(record.seq);
  w.u64(record.revision);
  w.u32(record.puts.length);
  for (const p of record.puts) {
    w.str(p.key);
    w.bytes(p.value);
    w.str(p.lease ?? '');
  }
  w.u32(record.deletes.length);
  for (const k of record.deletes) w.str(k);
  w.u32(record.leaseGrants.length);
  for (const g of record.leaseGrants) {
    w.str(g.id);
    w.u64(g.ttlMs);
  }
  w.u32(record.leaseRevokes.length);
  for (const id of record.leaseRevokes) w.str(id);
  const payload = w.finish();
  const header = Buffer.allocUnsafe(ENTRY_HEADER_BYTES);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(crc32c(payload), 4);
  return Buffer.concat([header, payload]);
}

function decodeRecord(payload: Buffer): CommitRecord {
  const r = new Reader(payload);
  const type = r.u8();
  if (type !== ENTRY_TYPE_RECORD) throw new CorruptError(`unknown entry type ${type}`);
  const seq = r.u64();
  const revision = r.u64();
  const puts: CommitRecord['puts'] = [];
  for (let n = r.count(12); n > 0; n--) {
    const key = r.str();
    const value = r.bytes();
    const lease = r.str();
    puts.push({ key, value, ...(lease !== '' && { lease }) });
  }
  const deletes: string[] = [];
  for (let n = r.count(4); n > 0; n--) deletes.push(r.str());
  const leaseGrants: CommitRecord['leaseGrants'] = [];
  for (let n = r.count(12); n > 0; n--) leaseGrants.push({ id: r.str(), ttlMs: r.u64() });
  const leaseRevokes: string[] = [];
  for (let n = r.count(4); n > 0; n--) leaseRevokes.push(r.str());
  r.end();
  return { seq, revision, puts, deletes, leaseGrants, leaseRevokes };
}

/**
 * Decode the valid prefix of a log: entries until the end or the first torn or invalid one.
 * `end` is the byte after each entry; `validBytes` is where the prefix ends.
 */
export function decodeLog(buf: Buffer): {
  records: { record: CommitRecord; end: number }[];
  validBytes: number;
} {
  const records: { record: CommitRecord; end: number }[] = [];
  let pos = 0;
  while (pos + ENTRY_HEADER_BYTES <= buf.length) {
    const length = buf.readUInt32LE(pos);
    if (length > ENTRY_PAYLOAD_BYTES_MAX || pos + ENTRY_HEADER_BYTES + length > buf.length) break;
    const payload = buf.subarray(pos + ENTRY_HEADER_BYTES, pos + ENTRY_HEADER_BYTES + length);
    if (crc32c(payload) !== buf.readUInt32LE(pos + 4)) break;
    let record: CommitRecord;
    try {
      record = decodeRecord(payload);
    } catch (e) {
      if (e instanceof CorruptError) break;
      throw e;
    }
    pos += ENTRY_HEADER_BYTES + length;
    records.push({ record, end: pos });
  }
  return { records, validBytes: pos };
}

/** Encode a snapshot file. */
export function encodeSnapshot(state: ModelState): Buffer {
  const w = new Writer();
  w.u64(state.seq);
  w.u64(state.revision);
  w.u64(state.nextLeaseId);
  w.u32(state.leases.length);
  for (const l of state.leases) {
    w.str(l.id);
    w.u64(l.ttlMs);
  }
  w.u32(state.kvs.length);
  for (const kv of state.kvs) {
    w.str(kv.key);
    w.bytes(kv.value);
    w.u64(kv.createRevision);
    w.u64(kv.revision);
    w.u64(kv.version);
    w.str(kv.lease ?? '');
  }
  const payload = w.finish();
  const header = Buffer.allocUnsafe(SNAPSHOT_HEADER_BYTES);
  header.writeUInt32LE(SNAPSHOT_MAGIC, 0);
  header.writeUInt32LE(SNAPSHOT_VERSION, 4);
  header.writeUInt32LE(payload.length, 8);
  header.writeUInt32LE(crc32c(payload), 12);
  return Buffer.concat([header, payload]);
}

/** Decode a snapshot file; throws CorruptError when it is not a whole, valid snapshot. */
export function decodeSnapshot(buf: Buffer): ModelState {
  if (buf.length < SNAPSHOT_HEADER_BYTES) throw new CorruptError('snapshot shorter than its header');
  if (buf.readUInt32LE(0) !== SNAPSHOT_MAGIC) throw new CorruptError('not a metadata snapshot (bad magic)');
  const version = buf.readUInt32LE(4);
  if (version !== SNAPSHOT_VERSION) throw new CorruptError(`unsupported snapshot version ${version}`);
  const payload = buf.subarray(SNAPSHOT_HEADER_BYTES);
  if (payload.length !== buf.readUInt32LE(8)) throw new CorruptError('snapshot length mismatch');
  if (crc32c(payload) !== buf.readUInt32LE(12)) throw new CorruptError('snapshot CRC mismatch');
  const r = new Reader(payload);
  const seq = r.u64();
  const revision = r.u64();
  const nextLeaseId = r.u64();
  const leases: ModelState['leases'] = [];
  for (let n = r.count(12); n > 0; n--) leases.push({ id: r.str(), ttlMs: r.u64() });
  const kvs: ModelState['kvs'] = [];
  for (let n = r.count(36); n > 0; n--) {
    const key = r.str();
    const value = r.bytes();
    const createRevision = r.u64();
    const rev = r.u64();
    const version = r.u64();
    const lease = r.str();
    kvs.push({ key, value, createRevision, revision: rev, version, ...(lease !== '' && { lease }) });
  }
  r.end();
  return { seq, revision, nextLeaseId, leases, kvs };
}
