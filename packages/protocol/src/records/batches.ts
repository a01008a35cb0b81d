/**
 * Walking the batches of a `records` field (a concatenation of RecordBatch v2) without copying.
 */
import { RecordBatchError } from './errors.ts';
import { type RecordBatchHeader, type ValidateBatchOptions, validateBatch } from './header.ts';
import { BATCH_LENGTH_OFFSET, LOG_OVERHEAD, MAGIC_OFFSET, MIN_BATCH_LENGTH } from './layout.ts';

/** Options for {@link iterateBatches}. */
export interface IterateBatchesOptions {
  /**
   * Stop silently at an incomplete last batch, as a Fetch response may end with one (the
   * consumer re-fetches). Default false: an incomplete batch raises CORRUPT_MESSAGE.
   */
  allowPartialTail?: boolean;
}

/**
 * Yields each batch of `records` as a subarray (no copy). Only the framing used to split is
 * checked (lengths; magic 0/1 rejected); call {@link validateBatch} for CRC and content rules.
 */
export function* iterateBatches(records: Buffer, options: IterateBatchesOptions = {}): Generator<Buffer> {
  let pos = 0;
  const end = records.length;
  while (pos < end) {
    const size = nextBatchSize(records, pos, options.allowPartialTail === true);
    if (size < 0) return;
    yield records.subarray(pos, pos + size);
    pos += size;
  }
}

/** Splits `records` into batch subarrays (see {@link iterateBatches}). */
export function splitBatches(records: Buffer, options: IterateBatchesOptions = {}): Buffer[] {
  const out: Buffer[] = [];
  for (const b of iterateBatches(records, options)) out.push(b);
  return out;
}

/** Size of the batch at `pos`, or -1 for a tolerated partial tail. */
function nextBatchSize(records: Buffer, pos: number, allowPartialTail: boolean): number {
  const left = records.length - pos;
  if (left < LOG_OVERHEAD) {
    if (allowPartialTail) return -1;
    throw new RecordBatchError('CORRUPT_MESSAGE', `${left} trailing byte(s) are not a record batch`);
  }
  const batchLength = records.readInt32BE(pos + BATCH_LENGTH_OFFSET);
  if (left > MAGIC_OFFSET) {
    const magic = records.readInt8(pos + MAGIC_OFFSET);
    if (magic === 0 || magic === 1) {
      throw new RecordBatchError(
        'UNSUPPORTED_FOR_MESSAGE_FORMAT',
        `message format v${magic} is not supported; only RecordBatch v2 (magic 2)`,
      );
    }
  }
  if (batchLength < MIN_BATCH_LENGTH) {
    throw new RecordBatchError(
      'CORRUPT_MESSAGE',
      `batchLength ${batchLength} is below the minimum ${MIN_BATCH_LENGTH}`,
    );
  }
  const size = batchLength + LOG_OVERHEAD;
  if (size > left) {
    if (allowPartialTail) return -1;
    throw new RecordBatchError('CORRUPT_MESSAGE', `record batch of ${size} bytes truncated to ${left}`);
  }
  return size;
}

/** Summary of a validated `records` field. */
export interface RecordsSummary {
  batchCount: number;
  recordCount: number;
  /** Largest maxTimestamp over the batches (-1 when none). */
  maxTimestamp: number;
  /** Headers of each batch, in order. */
  headers: RecordBatchHeader[];
}

/**
 * Validates every batch of a produced `records` field (framing, CRC, count rules; see
 * {@link validateBatch}) and summarizes it. Raises RecordBatchError on the first bad batch.
 */
export function validateRecords(records: Buffer, options: ValidateBatchOptions = {}): RecordsSummary {
  const headers: RecordBatchHeader[] = [];
  let recordCount = 0;
  let maxTimestamp = -1;
  for (const batch of iterateBatches(records)) {
    const h = validateBatch(batch, options);
    headers.push(h);
    recordCount += h.recordCount;
    if (h.maxTimestamp > maxTimestamp) maxTimestamp = h.maxTimestamp;
  }
  if (headers.length === 0) throw new RecordBatchError('INVALID_RECORD', 'records field holds no batches');
  return { batchCount: headers.length, recordCount, maxTimestamp, headers };
}
