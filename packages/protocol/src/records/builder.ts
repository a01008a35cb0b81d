/**
 * Building RecordBatch v2 buffers (for producers, tests, benchmarks and control markers).
 */
import type { CompressionCodec } from '../compression/codec.ts';
import { compress } from '../compression/compress.ts';
import { ProtocolError } from '../primitives/errors.ts';
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_LENGTH_OFFSET,
  COMPRESSION_MASK,
  CONTROL_BIT,
  CURRENT_MAGIC,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  NO_PARTITION_LEADER_EPOCH,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  NO_TIMESTAMP,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_BIT,
  TRANSACTIONAL_BIT,
  writeInt64Number,
} from './layout.ts';
import { updateBatchCrc } from './rewrite.ts';
import { varintSize, varlongSize, writeVarint, writeVarlong } from './varint.ts';

/** A record to put in a batch. */
export interface RecordInput {
  key?: Uint8Array | null;
  value?: Uint8Array | null;
  headers?: ReadonlyArray<{ key: string; value: Uint8Array | null }>;
  /** Milliseconds; defaults to the batch's `timestamp` option. */
  timestamp?: number;
  /** Defaults to the record's index in the batch. */
  offsetDelta?: number;
}

/** Batch-level fields; everything is optional. */
export interface BatchOptions {
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
  compression?: CompressionCodec;
  timestampType?: 'create' | 'log-append';
  transactional?: boolean;
  control?: boolean;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  /** Timestamp for records without one (default Date.now()). */
  timestamp?: number;
  /** Overrides lastOffsetDelta (default: the largest offsetDelta, or -1 when empty). */
  lastOffsetDelta?: number;
}

const MAX_DELTA = 2 ** 52;

interface Sized {
  body: number;
  keys: Buffer[];
}

function recordBodySize(r: RecordInput, tsDelta: number, offsetDelta: number, keys: Buffer[]): number {
  let n = 1 + varlongSize(tsDelta) + varintSize(offsetDelta);
  n += r.key == null ? 1 : varintSize(r.key.length) + r.key.length;
  n += r.value == null ? 1 : varintSize(r.value.length) + r.value.length;
  const headers = r.headers ?? [];
  n += varintSize(headers.length);
  for (const h of headers) {
    const k = Buffer.from(h.key, 'utf8');
    keys.push(k);
    n += varintSize(k.length) + k.length;
    n += h.value == null ? 1 : varintSize(h.value.length) + h.value.length;
  }
  return n;
}

function writeBytes(buf: Buffer, b: Uint8Array | null | undefined, pos: number): number {
  if (b == null) return writeVarint(buf, -1, pos);
  pos = writeVarint(buf, b.length, pos);
  buf.set(b, pos);
  return pos + b.length;
}

/** Encodes the records section (uncompressed). */
export function encodeRecords(
  records: ReadonlyArray<RecordInput>,
  baseTimestamp: number,
  now: number,
): Buffer {
  const sized: Sized[] = [];
  let total = 0;
  records.forEach((r, i) => {
    const tsDelta = (r.timestamp ?? now) - baseTimestamp;
    if (!Number.isSafeInteger(tsDelta) || Math.abs(tsDelta) >= MAX_DELTA) {
      throw new ProtocolError(`record ${i}: timestamp delta ${tsDelta} out of range`, 'unencodable');
    }
    const keys: Buffer[] = [];
    const body = recordBodySize(r, tsDelta, r.offsetDelta ?? i, keys);
    sized.push({ body, keys });
    total += varintSize(body) + body;
  });
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  records.forEach((r, i) => {
    const { body, keys } = sized[i];
    pos = writeVarint(buf, body, pos);
    buf[pos++] = 0; // record attributes (unused)
    pos = writeVarlong(buf, (r.timestamp ?? now) - baseTimestamp, pos);
    pos = writeVarint(buf, r.offsetDelta ?? i, pos);
    pos = writeBytes(buf, r.key, pos);
    pos = writeBytes(buf, r.value, pos);
    const headers = r.headers ?? [];
    pos = writeVarint(buf, headers.length, pos);
    headers.forEach((h, j) => {
      pos = writeBytes(buf, keys[j], pos);
      pos = writeBytes(buf, h.value, pos);
    });
  });
  return buf;
}

/**
 * Builds one RecordBatch v2 with a valid CRC. baseTimestamp is the first record's timestamp and
 * maxTimestamp the largest (as Kafka's producer does); records are compressed with
 * `options.compression` (default none).
 */
export function buildRecordBatch(records: ReadonlyArray<RecordInput>, options: BatchOptions = {}): Buffer {
  const now = options.timestamp ?? Date.now();
  let baseTimestamp = NO_TIMESTAMP;
  let maxTimestamp = NO_TIMESTAMP;
  let lastOffsetDelta = -1;
  records.forEach((r, i) => {
    const ts = r.timestamp ?? now;
    if (i === 0) baseTimestamp = ts;
    if (i === 0 || ts > maxTimestamp) maxTimestamp = ts;
    lastOffsetDelta = Math.max(lastOffsetDelta, r.offsetDelta ?? i);
  });
  const compression = options.compression ?? 0;
  const plain = encodeRecords(records, baseTimestamp, now);
  const body = compression === 0 ? plain : compress(compression, plain);
  const batch = Buffer.allocUnsafe(RECORDS_OFFSET + body.length);
  body.copy(batch, RECORDS_OFFSET);

  let attributes = compression & COMPRESSION_MASK;
  if (options.timestampType === 'log-append') attributes |= TIMESTAMP_TYPE_BIT;
  if (options.transactional) attributes |= TRANSACTIONAL_BIT;
  if (options.control) attributes |= CONTROL_BIT;

  batch.writeBigInt64BE(options.baseOffset ?? 0n, 0);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  batch.writeInt32BE(
    options.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH,
    PARTITION_LEADER_EPOCH_OFFSET,
  );
  batch.writeInt8(CURRENT_MAGIC, MAGIC_OFFSET);
  batch.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  batch.writeInt32BE(options.lastOffsetDelta ?? lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET);
  writeInt64Number(batch, baseTimestamp, BASE_TIMESTAMP_OFFSET);
  writeInt64Number(batch, maxTimestamp, MAX_TIMESTAMP_OFFSET);
  batch.writeBigInt64BE(options.producerId ?? NO_PRODUCER_ID, PRODUCER_ID_OFFSET);
  batch.writeInt16BE(options.producerEpoch ?? NO_PRODUCER_EPOCH, PRODUCER_EPOCH_OFFSET);
  batch.writeInt32BE(options.baseSequence ?? NO_SEQUENCE, BASE_SEQUENCE_OFFSET);
  batch.writeInt32BE(records.length, RECORD_COUNT_OFFSET);
  updateBatchCrc(batch);
  return batch;
}
