/**
 * Reading the records inside a RecordBatch v2:
 *
 * ```
 * length varint · attributes i8 · timestampDelta varlong · offsetDelta varint
 * keyLength varint (-1 null) · key · valueLength varint (-1 null) · value
 * headerCount varint · [headerKeyLength varint · headerKey utf8 · headerValueLength varint · value]
 * ```
 * Keys, values and header values are subarrays of the batch (or of its decompressed records
 * section) — nothing is copied.
 */
import { decompress } from '../compression/compress.ts';
import { RecordBatchError } from './errors.ts';
import { type RecordBatchHeader, readBatchHeader } from './header.ts';
import { RECORDS_OFFSET } from './layout.ts';
import { type Cursor, readVarint, readVarlong } from './varint.ts';

/** One record header. */
export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** One decoded record. */
export interface KafkaRecord {
  attributes: number;
  timestampDelta: number;
  offsetDelta: number;
  /** baseOffset + offsetDelta. */
  offset: bigint;
  /** baseTimestamp + timestampDelta, or maxTimestamp for LogAppendTime batches. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/** Options for reading records. */
export interface ReadRecordsOptions {
  /** Upper bound on the decompressed size of the records section. Default 64 MiB. */
  maxDecompressedBytes?: number;
}

/** Default bound on the decompressed records section of one batch. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;
/** Bound on headers per record, so a hostile count cannot allocate without limit. */
const MAX_HEADERS_PER_RECORD = 1 << 16;

function invalid(what: string): RecordBatchError {
  return new RecordBatchError('INVALID_RECORD', what);
}

function readNullableBytes(c: Cursor, what: string): Buffer | null {
  const len = readVarint(c);
  if (len === -1) return null;
  if (len < 0) throw invalid(`negative ${what} length ${len}`);
  if (len > c.end - c.pos) throw invalid(`${what} of ${len} bytes past the end of the record`);
  const out = c.buf.subarray(c.pos, c.pos + len);
  c.pos += len;
  return out;
}

/** Decodes one record at the cursor (advancing it). */
export function readRecord(c: Cursor, header: RecordBatchHeader): KafkaRecord {
  const length = readVarint(c);
  if (length < 0 || length > c.end - c.pos) throw invalid(`record length ${length} out of bounds`);
  const rec: Cursor = { buf: c.buf, pos: c.pos, end: c.pos + length };
  c.pos += length;
  if (rec.pos >= rec.end) throw invalid('empty record');
  const attributes = rec.buf.readInt8(rec.pos++);
  const timestampDelta = readVarlong(rec);
  const offsetDelta = readVarint(rec);
  const key = readNullableBytes(rec, 'key');
  const value = readNullableBytes(rec, 'value');
  const headerCount = readVarint(rec);
  if (headerCount < 0 || headerCount > MAX_HEADERS_PER_RECORD || headerCount > rec.end - rec.pos) {
    throw invalid(`invalid header count ${headerCount}`);
  }
  const headers: RecordHeader[] = [];
  for (let i = 0; i < headerCount; i++) {
    const keyBytes = readNullableBytes(rec, 'header key');
    if (keyBytes === null) throw invalid('null header key');
    headers.push({ key: keyBytes.toString('utf8'), value: readNullableBytes(rec, 'header value') });
  }
  if (rec.pos !== rec.end) throw invalid(`${rec.end - rec.pos} unread byte(s) at the end of a record`);
  return {
    attributes,
    timestampDelta,
    offsetDelta,
    offset: header.baseOffset + BigInt(offsetDelta),
    timestamp:
      header.timestampType === 'log-append' ? header.maxTimestamp : header.baseTimestamp + timestampDelta,
    key,
    value,
    headers,
  };
}

/**
 * The records section of `batch`, decompressed if needed (bounded by maxDecompressedBytes).
 * Uncompressed batches return a subarray of `batch`.
 */
export function recordsSection(
  batch: Buffer,
  header: RecordBatchHeader,
  options: ReadRecordsOptions = {},
): Buffer {
  const raw = batch.subarray(RECORDS_OFFSET);
  if (header.compression === 0) return raw;
  if (header.compression > 4) {
    throw new RecordBatchError(
      'UNSUPPORTED_COMPRESSION_TYPE',
      `unknown compression id ${header.compression}`,
    );
  }
  return decompress(
    header.compression as 1 | 2 | 3 | 4,
    raw,
    options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
  );
}

/**
 * Yields the records of one batch (framing checked; validate the CRC first with
 * validateBatch). Exactly recordCount records must fill the records section.
 */
export function* iterateRecords(batch: Buffer, options: ReadRecordsOptions = {}): Generator<KafkaRecord> {
  const header = readBatchHeader(batch);
  if (header.recordCount < 0) throw new RecordBatchError('CORRUPT_MESSAGE', 'negative record count');
  const section = recordsSection(batch, header, options);
  const c: Cursor = { buf: section, pos: 0, end: section.length };
  for (let i = 0; i < header.recordCount; i++) {
    if (c.pos >= c.end) throw invalid(`batch declares ${header.recordCount} records but holds ${i}`);
    yield readRecord(c, header);
  }
  if (c.pos !== c.end) throw invalid(`${c.end - c.pos} byte(s) after the last record`);
}

/** All records of one batch (see {@link iterateRecords}). */
export function readRecords(batch: Buffer, options: ReadRecordsOptions = {}): KafkaRecord[] {
  return Array.from(iterateRecords(batch, options));
}

/**
 * Checks that the records section of a batch frames exactly `recordCount` records: each
 * record's length varint stays inside the section, the records fill it exactly, and each
 * record's offset delta is its index. Compressed batches are decompressed first (bounded).
 * Allocates nothing per record (no keys, values or headers are read). Raises
 * RecordBatchError: CORRUPT_MESSAGE for undecodable compressed data, INVALID_RECORD otherwise.
 */
export function checkRecordFraming(
  batch: Buffer,
  header: RecordBatchHeader,
  options: ReadRecordsOptions = {},
): void {
  const section = recordsSection(batch, header, options);
  const c: Cursor = { buf: section, pos: 0, end: section.length };
  for (let i = 0; i < header.recordCount; i++) {
    if (c.pos >= c.end) throw invalid(`batch declares ${header.recordCount} records but holds ${i}`);
    const length = readVarint(c);
    if (length < 3 || c.pos + length > c.end) throw invalid(`record ${i} has a bad length ${length}`);
    const next = c.pos + length;
    const inner: Cursor = { buf: section, pos: c.pos + 1, end: next };
    readVarlong(inner); // timestamp delta
    if (readVarint(inner) !== i) throw invalid(`record ${i} has offset delta out of sequence`);
    c.pos = next;
  }
  if (c.pos !== c.end) throw invalid(`${c.end - c.pos} byte(s) after the last record`);
}
