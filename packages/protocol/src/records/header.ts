/**
 * RecordBatch v2 header parsing and validation.
 */
import { type CompressionCodec, isCompressionCodec } from '../compression/codec.ts';
import { crc32c } from '../crc32c.ts';
import { RecordBatchError } from './errors.ts';
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_LENGTH_OFFSET,
  COMPRESSION_MASK,
  CONTROL_BIT,
  CRC_OFFSET,
  CURRENT_MAGIC,
  DELETE_HORIZON_BIT,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  MIN_BATCH_LENGTH,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  readInt64Number,
  TIMESTAMP_TYPE_BIT,
  TRANSACTIONAL_BIT,
} from './layout.ts';

/** The decoded fixed header of a RecordBatch v2. */
export interface RecordBatchHeader {
  baseOffset: bigint;
  /** Bytes after the batchLength field; the whole batch is batchLength + 12 bytes. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  /** Unsigned CRC-32C as stored. */
  crc: number;
  attributes: number;
  compression: number;
  /** 'create' (CreateTime) or 'log-append' (LogAppendTime), attribute bit 3. */
  timestampType: 'create' | 'log-append';
  isTransactional: boolean;
  isControl: boolean;
  hasDeleteHorizon: boolean;
  lastOffsetDelta: number;
  /** Milliseconds; exact for every realistic timestamp (|t| < 2^53). */
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

/** Size in bytes of the batch starting at `offset`, from its batchLength, or -1 if unreadable. */
export function batchSizeAt(buf: Buffer, offset = 0): number {
  if (buf.length - offset < LOG_OVERHEAD) return -1;
  return buf.readInt32BE(offset + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD;
}

/**
 * Checks magic and batchLength of `batch` (exactly one batch) without touching the CRC.
 * Magic 0/1 raise UNSUPPORTED_FOR_MESSAGE_FORMAT, any other magic or a bad length
 * CORRUPT_MESSAGE.
 */
export function checkBatchFraming(batch: Buffer): void {
  if (batch.length < MAGIC_OFFSET + 1) {
    throw new RecordBatchError('CORRUPT_MESSAGE', `record batch of ${batch.length} bytes is truncated`);
  }
  const magic = batch.readInt8(MAGIC_OFFSET);
  if (magic !== CURRENT_MAGIC) {
    if (magic === 0 || magic === 1) {
      throw new RecordBatchError(
        'UNSUPPORTED_FOR_MESSAGE_FORMAT',
        `message format v${magic} is not supported; only RecordBatch v2 (magic 2)`,
      );
    }
    throw new RecordBatchError('CORRUPT_MESSAGE', `unknown record batch magic ${magic}`);
  }
  const batchLength = batch.readInt32BE(BATCH_LENGTH_OFFSET);
  if (batchLength < MIN_BATCH_LENGTH) {
    throw new RecordBatchError(
      'CORRUPT_MESSAGE',
      `batchLength ${batchLength} is below the minimum ${MIN_BATCH_LENGTH}`,
    );
  }
  if (batchLength + LOG_OVERHEAD !== batch.length) {
    throw new RecordBatchError(
      'CORRUPT_MESSAGE',
      `batchLength ${batchLength} does not match the ${batch.length - LOG_OVERHEAD} bytes available`,
    );
  }
}

/** Reads the header of `batch` (one whole batch; framing is checked, the CRC is not). */
export function readBatchHeader(batch: Buffer): RecordBatchHeader {
  checkBatchFraming(batch);
  const attributes = batch.readInt16BE(ATTRIBUTES_OFFSET);
  return {
    baseOffset: batch.readBigInt64BE(0),
    batchLength: batch.readInt32BE(BATCH_LENGTH_OFFSET),
    partitionLeaderEpoch: batch.readInt32BE(PARTITION_LEADER_EPOCH_OFFSET),
    magic: batch.readInt8(MAGIC_OFFSET),
    crc: batch.readUInt32BE(CRC_OFFSET),
    attributes,
    compression: attributes & COMPRESSION_MASK,
    timestampType: attributes & TIMESTAMP_TYPE_BIT ? 'log-append' : 'create',
    isTransactional: (attributes & TRANSACTIONAL_BIT) !== 0,
    isControl: (attributes & CONTROL_BIT) !== 0,
    hasDeleteHorizon: (attributes & DELETE_HORIZON_BIT) !== 0,
    lastOffsetDelta: batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET),
    baseTimestamp: readInt64Number(batch, BASE_TIMESTAMP_OFFSET),
    maxTimestamp: readInt64Number(batch, MAX_TIMESTAMP_OFFSET),
    producerId: batch.readBigInt64BE(PRODUCER_ID_OFFSET),
    producerEpoch: batch.readInt16BE(PRODUCER_EPOCH_OFFSET),
    baseSequence: batch.readInt32BE(BASE_SEQUENCE_OFFSET),
    recordCount: batch.readInt32BE(RECORD_COUNT_OFFSET),
  };
}

/** CRC-32C of bytes attributes..end of `batch`, as it should be stored. */
export function computeBatchCrc(batch: Buffer): number {
  return crc32c(batch.subarray(ATTRIBUTES_OFFSET));
}

/** True when the stored CRC matches the content (framing must already be valid). */
export function isBatchCrcValid(batch: Buffer): boolean {
  return batch.readUInt32BE(CRC_OFFSET) === computeBatchCrc(batch);
}

/** Options for {@link validateBatch}. */
export interface ValidateBatchOptions {
  /**
   * Require recordCount == lastOffsetDelta + 1 and recordCount >= 1, as a producer's batches
   * must (compacted batches on disk may break this). Default true.
   */
  strictCount?: boolean;
  /** Accept control batches (a broker rejects them from clients). Default true. */
  allowControl?: boolean;
  /** Maximum batch size in bytes (max.message.bytes). Default: no limit. */
  maxBatchBytes?: number;
}

/**
 * Validates one batch: framing, CRC-32C, compression id, record count; returns its header.
 * Does no per-record work (records, compressed or not, are not read).
 */
export function validateBatch(batch: Buffer, options: ValidateBatchOptions = {}): RecordBatchHeader {
  const header = readBatchHeader(batch);
  if (options.maxBatchBytes !== undefined && batch.length > options.maxBatchBytes) {
    // Kafka answers MESSAGE_TOO_LARGE; the caller checks sizes first, this is a backstop.
    throw new RecordBatchError(
      'INVALID_RECORD',
      `record batch of ${batch.length} bytes exceeds max ${options.maxBatchBytes}`,
    );
  }
  const actual = computeBatchCrc(batch);
  if (actual !== header.crc) {
    throw new RecordBatchError(
      'CORRUPT_MESSAGE',
      `record batch CRC mismatch: stored 0x${header.crc.toString(16)}, computed 0x${actual.toString(16)}`,
    );
  }
  if (!isCompressionCodec(header.compression)) {
    throw new RecordBatchError(
      'UNSUPPORTED_COMPRESSION_TYPE',
      `unknown compression id ${header.compression}`,
    );
  }
  if (header.recordCount < 0) {
    throw new RecordBatchError('CORRUPT_MESSAGE', `negative record count ${header.recordCount}`);
  }
  // Each record takes at least 7 bytes, uncompressed.
  if (header.compression === 0 && header.recordCount > (batch.length - RECORDS_OFFSET) / 7) {
    throw new RecordBatchError(
      'CORRUPT_MESSAGE',
      `record count ${header.recordCount} cannot fit in the batch`,
    );
  }
  if (options.strictCount !== false) {
    if (header.recordCount === 0) throw new RecordBatchError('INVALID_RECORD', 'record batch has no records');
    if (header.lastOffsetDelta !== header.recordCount - 1) {
      throw new RecordBatchError(
        'INVALID_RECORD',
        `record count ${header.recordCount} does not match lastOffsetDelta ${header.lastOffsetDelta}`,
      );
    }
  }
  if (options.allowControl === false && header.isControl) {
    throw new RecordBatchError('INVALID_RECORD', 'control batches may not be produced by clients');
  }
  return header;
}

/** The compression codec id of a batch (attributes bits 0–2), unchecked. */
export function batchCompression(batch: Buffer): CompressionCodec {
  return (batch.readInt16BE(ATTRIBUTES_OFFSET) & COMPRESSION_MASK) as CompressionCodec;
}
