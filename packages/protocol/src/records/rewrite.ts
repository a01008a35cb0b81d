/**
 * In-place rewrites a broker makes when appending a batch. baseOffset and partitionLeaderEpoch
 * lie outside the CRC, so assigning them needs no checksum work; maxTimestamp and the attributes
 * lie inside, so LogAppendTime recomputes the CRC.
 */
import { crc32c } from '../crc32c.ts';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  CRC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  TIMESTAMP_TYPE_BIT,
  writeInt64Number,
} from './layout.ts';

/** Writes baseOffset into `batch` in place. The CRC stays valid. */
export function setBaseOffset(batch: Buffer, baseOffset: bigint): void {
  batch.writeBigInt64BE(baseOffset, BASE_OFFSET_OFFSET);
}

/** Writes partitionLeaderEpoch into `batch` in place. The CRC stays valid. */
export function setPartitionLeaderEpoch(batch: Buffer, epoch: number): void {
  batch.writeInt32BE(epoch, PARTITION_LEADER_EPOCH_OFFSET);
}

/** Recomputes and stores the CRC-32C of `batch` (over attributes..end); returns it. */
export function updateBatchCrc(batch: Buffer): number {
  const crc = crc32c(batch.subarray(ATTRIBUTES_OFFSET));
  batch.writeUInt32BE(crc, CRC_OFFSET);
  return crc;
}

/** Writes maxTimestamp in place and recomputes the CRC. */
export function setMaxTimestamp(batch: Buffer, maxTimestamp: number): void {
  writeInt64Number(batch, maxTimestamp, MAX_TIMESTAMP_OFFSET);
  updateBatchCrc(batch);
}

/**
 * Stamps a batch with LogAppendTime: sets the timestamp-type attribute bit, writes
 * maxTimestamp = `appendTimeMs`, and recomputes the CRC (consumers then use maxTimestamp as
 * every record's timestamp).
 */
export function setLogAppendTime(batch: Buffer, appendTimeMs: number): void {
  batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_OFFSET) | TIMESTAMP_TYPE_BIT, ATTRIBUTES_OFFSET);
  setMaxTimestamp(batch, appendTimeMs);
}
