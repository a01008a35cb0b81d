/**
 * RecordBatch v2 byte layout (all integers big-endian):
 *
 * ```
 *  0 baseOffset i64        21 attributes i16        43 producerId i64
 *  8 batchLength i32       23 lastOffsetDelta i32   51 producerEpoch i16
 * 12 partitionLeaderEpoch  27 baseTimestamp i64     53 baseSequence i32
 * 16 magic i8 (= 2)        35 maxTimestamp i64      57 recordCount i32
 * 17 crc u32 (CRC-32C of bytes 21..end)             61 records
 * ```
 * batchLength counts the bytes after the batchLength field (total size - 12).
 */
export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORD_COUNT_OFFSET = 57;
/** Size of the batch header; the records start here. */
export const RECORDS_OFFSET = 61;
/** Bytes before (and excluded from) batchLength: baseOffset and batchLength. */
export const LOG_OVERHEAD = 12;
/** Smallest legal batchLength (a header with no records). */
export const MIN_BATCH_LENGTH = RECORDS_OFFSET - LOG_OVERHEAD;
export const CURRENT_MAGIC = 2;

/** Attribute bits. */
export const COMPRESSION_MASK = 0x07;
export const TIMESTAMP_TYPE_BIT = 0x08;
export const TRANSACTIONAL_BIT = 0x10;
export const CONTROL_BIT = 0x20;
export const DELETE_HORIZON_BIT = 0x40;

/** Producer id, epoch and sequence for batches from non-idempotent producers. */
export const NO_PRODUCER_ID = -1n;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;
export const NO_TIMESTAMP = -1;

/** Reads a big-endian i64 as a number (exact for |v| < 2^53, as every real timestamp is). */
export function readInt64Number(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * 4294967296 + buf.readUInt32BE(at + 4);
}

/** Writes `v` (an integer, |v| < 2^53) as a big-endian i64. */
export function writeInt64Number(buf: Buffer, v: number, at: number): void {
  const hi = Math.floor(v / 4294967296);
  buf.writeInt32BE(hi, at);
  buf.writeUInt32BE(v - hi * 4294967296, at + 4);
}
