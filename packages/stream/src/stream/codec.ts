/**
 * Encodings of the stream layer: the fixed binary `meta` of a WAL record and the JSON values
 * of the metadata keys (see packages/stream/README.md, "Streams (first cut)").
 */
import { readU64, writeU64 } from '../object-format/format.ts';

/** Version byte of the WAL record meta. */
const WAL_META_VERSION = 1;
/** version u8 | streamId u64 LE | baseOffset u64 LE | count u32 LE | epoch u64 LE. */
export const WAL_META_BYTES = 29;

/** What a WAL record of the stream layer carries in its meta. */
export interface WalBatchMeta {
  streamId: number;
  baseOffset: number;
  count: number;
  /** Epoch of the stream when the batch was appended (replay keeps only the stored epoch's). */
  epoch: number;
}

/** Encodes the meta of a WAL record holding one batch. */
export function encodeWalMeta(m: WalBatchMeta): Buffer {
  const buf = Buffer.alloc(WAL_META_BYTES);
  buf.writeUInt8(WAL_META_VERSION, 0);
  writeU64(buf, 1, m.streamId);
  writeU64(buf, 9, m.baseOffset);
  buf.writeUInt32LE(m.count, 17);
  writeU64(buf, 21, m.epoch);
  return buf;
}

/** Decodes a WAL record meta; throws on a malformed one. */
export function decodeWalMeta(buf: Buffer): WalBatchMeta {
  if (buf.length !== WAL_META_BYTES || buf.readUInt8(0) !== WAL_META_VERSION) {
    throw new Error(`bad WAL record meta (${buf.length} bytes)`);
  }
  const streamId = readU64(buf, 1);
  const baseOffset = readU64(buf, 9);
  const count = buf.readUInt32LE(17);
  const epoch = readU64(buf, 21);
  if (streamId === undefined || baseOffset === undefined || epoch === undefined || count < 1) {
    throw new Error('bad WAL record meta fields');
  }
  return { streamId, baseOffset, count, epoch };
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
}

/** Value of `objects/<objectId>`. */
export interface ObjectRecord {
  key: string;
  size: number;
  streams: ObjectStreamRecord[];
}

/** Metadata key of a stream. */
export function streamKey(streamId: number): string {
  return `streams/${streamId}`;
}

/** Metadata key of an object (zero-padded so that key order is id order). */
export function objectRecordKey(objectId: number): string {
  return `objects/${String(objectId).padStart(16, '0')}`;
}

/** Prefix of every object record. */
export const OBJECTS_PREFIX = 'objects/';
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
  return v;
}
