/**
 * Encodings of the stream layer: the fixed binary `meta` of a WAL record and the JSON values
 * of the metadata keys (see packages/stream/README.md, "Streams (first cut)").
 */
import { readU64, writeU64 } from '../object-format/format.ts';

/** Version byte of the WAL record meta (1: without timestamp, still read). */
const WAL_META_VERSION = 2;
const WAL_META_V1_BYTES = 29;
/** version u8 | streamId u64 LE | baseOffset u64 LE | count u32 LE | epoch u64 LE | timestamp u64 LE. */
export const WAL_META_BYTES = 37;

/** What a WAL record of the stream layer carries in its meta. */
export interface WalBatchMeta {
  streamId: number;
  baseOffset: number;
  count: number;
  /** Epoch of the stream when the batch was appended (replay keeps only the stored epoch's). */
  epoch: number;
  /** Newest timestamp of the batch in ms (for time retention); undefined in version 1 metas. */
  timestamp?: number;
}

/** Encodes the meta of a WAL record holding one batch. */
export function encodeWalMeta(m: WalBatchMeta): Buffer {
  const buf = Buffer.alloc(WAL_META_BYTES);
  buf.writeUInt8(WAL_META_VERSION, 0);
  writeU64(buf, 1, m.streamId);
  writeU64(buf, 9, m.baseOffset);
  buf.writeUInt32LE(m.count, 17);
  writeU64(buf, 21, m.epoch);
  writeU64(buf, 29, Math.max(0, m.timestamp ?? 0));
  return buf;
}

/** Decodes a WAL record meta; throws on a malformed one. */
export function decodeWalMeta(buf: Buffer): WalBatchMeta {
  const version = buf.length > 0 ? buf.readUInt8(0) : -1;
  const ok =
    (version === 1 && buf.length === WAL_META_V1_BYTES) ||
    (version === WAL_META_VERSION && buf.length === WAL_META_BYTES);
  if (!ok) throw new Error(`bad WAL record meta (${buf.length} bytes, version ${version})`);
  const streamId = readU64(buf, 1);
  const baseOffset = readU64(buf, 9);
  const count = buf.readUInt32LE(17);
  const epoch = readU64(buf, 21);
  const timestamp = version === 1 ? 0 : readU64(buf, 29);
  if (
    streamId === undefined ||
    baseOffset === undefined ||
    epoch === undefined ||
    timestamp === undefined ||
    count < 1
  ) {
    throw new Error('bad WAL record meta fields');
  }
  return version === 1
    ? { streamId, baseOffset, count, epoch }
    : { streamId, baseOffset, count, epoch, timestamp };
}

/** Value of `streams/<id>`. */
export interface StreamRecord {
  epoch: number;
  owner: string;
  startOffset: number;
  /** Committed end (exclusive). */
  endOffset: number;
}

/** One stream's range inside an object, as committed. */
export interface ObjectStreamRecord {
  streamId: number;
  startOffset: number;
  endOffset: number;
  position: number;
  size: number;
  /** Newest batch timestamp of the range in ms (0 when unknown). */
  maxTimestamp: number;
}

/**
 * Value of `objects/<objectId>/<part>`: an object and (some of) the stream ranges it holds.
 * An upload whose streams do not fit one metadata txn commits several parts of one object;
 * compaction writes one part.
 */
export interface ObjectRecord {
  key: string;
  size: number;
  /** When the object was committed (store clock, ms). */
  createdAt: number;
  streams: ObjectStreamRecord[];
}

/** Value of `prepared/<objectId>` (an object being written) and `garbage/<objectId>` (one to delete). */
export interface PendingObjectRecord {
  key: string;
  /**
   * Store clock, ms. Prepared: when it was prepared (expires `preparedTimeoutMs` later).
   * Garbage: when it may be deleted (mark time + `garbageRetentionMs`; 0 = at once).
   */
  at: number;
  /** Prepared records: a unique token of the writer that allocated the id. */
  nonce?: string;
}

/** Metadata key of a stream. */
export function streamKey(streamId: number): string {
  return `streams/${streamId}`;
}

/** Prefix of every stream record. */
export const STREAMS_PREFIX = 'streams/';

function paddedId(objectId: number): string {
  return String(objectId).padStart(16, '0');
}

/** Metadata key of part `part` of an object record (zero-padded: key order is id order). */
export function objectRecordKey(objectId: number, part = 0): string {
  return `objects/${paddedId(objectId)}/${String(part).padStart(4, '0')}`;
}

/** The object id and part of an object record key; throws on a malformed key. */
export function parseObjectRecordKey(key: string): { objectId: number; part: number } {
  const m = /^objects\/(\d{16})\/(\d{4})$/.exec(key);
  if (m === null) throw new Error(`bad object record key ${key}`);
  return { objectId: Number(m[1]), part: Number(m[2]) };
}

/** Metadata key of a prepared (being written, not committed) object. */
export function preparedKey(objectId: number): string {
  return `prepared/${paddedId(objectId)}`;
}

/** Metadata key of an object marked for deletion. */
export function garbageKey(objectId: number): string {
  return `garbage/${paddedId(objectId)}`;
}

/** Prefix of every object record. */
export const OBJECTS_PREFIX = 'objects/';
/** Prefix of every prepared record. */
export const PREPARED_PREFIX = 'prepared/';
/** Prefix of every garbage record. */
export const GARBAGE_PREFIX = 'garbage/';
/** Counter of object ids. */
export const NEXT_OBJECT_ID_KEY = 'next-object-id';

/** Encodes a stream record with a fixed field order (the bytes are compared in txns). */
export function encodeStreamRecord(r: StreamRecord): Buffer {
  return Buffer.from(
    JSON.stringify({ epoch: r.epoch, owner: r.owner, startOffset: r.startOffset, endOffset: r.endOffset }),
  );
}

/** Decodes a stream record. */
export function decodeStreamRecord(buf: Buffer): StreamRecord {
  const v = JSON.parse(buf.toString('utf8')) as StreamRecord;
  if (
    !Number.isSafeInteger(v.epoch) ||
    typeof v.owner !== 'string' ||
    !Number.isSafeInteger(v.startOffset) ||
    !Number.isSafeInteger(v.endOffset)
  ) {
    throw new Error(`bad stream record ${buf.toString('utf8')}`);
  }
  return v;
}

/** Encodes an object record. */
export function encodeObjectRecord(r: ObjectRecord): Buffer {
  return Buffer.from(JSON.stringify(r));
}

/** Decodes an object record. */
export function decodeObjectRecord(buf: Buffer): ObjectRecord {
  const v = JSON.parse(buf.toString('utf8')) as ObjectRecord;
  if (typeof v.key !== 'string' || !Number.isSafeInteger(v.size) || !Array.isArray(v.streams)) {
    throw new Error('bad object record');
  }
  v.createdAt ??= 0;
  for (const r of v.streams) r.maxTimestamp ??= 0;
  return v;
}

/** Encodes a prepared or garbage record. */
export function encodePendingRecord(r: PendingObjectRecord): Buffer {
  return Buffer.from(
    JSON.stringify(
      r.nonce === undefined ? { key: r.key, at: r.at } : { key: r.key, at: r.at, nonce: r.nonce },
    ),
  );
}

/** Decodes a prepared or garbage record. */
export function decodePendingRecord(buf: Buffer): PendingObjectRecord {
  const v = JSON.parse(buf.toString('utf8')) as PendingObjectRecord;
  if (typeof v.key !== 'string' || !Number.isSafeInteger(v.at)) throw new Error('bad pending object record');
  return v;
}
