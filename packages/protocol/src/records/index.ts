export {
  type IterateBatchesOptions,
  iterateBatches,
  type RecordsSummary,
  splitBatches,
  validateRecords,
} from './batches.ts';
export { type BatchOptions, buildRecordBatch, encodeRecords, type RecordInput } from './builder.ts';
export {
  buildControlBatch,
  type ControlMarker,
  type ControlRecord,
  ControlType,
  parseControlRecord,
} from './control.ts';
export { RecordBatchError, type RecordErrorCode, recordErrorCode } from './errors.ts';
export {
  batchCompression,
  batchSizeAt,
  checkBatchFraming,
  computeBatchCrc,
  isBatchCrcValid,
  type RecordBatchHeader,
  readBatchHeader,
  type ValidateBatchOptions,
  validateBatch,
} from './header.ts';
export * as RecordBatchLayout from './layout.ts';
export {
  checkRecordFraming,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  iterateRecords,
  type KafkaRecord,
  type ReadRecordsOptions,
  type RecordHeader,
  readRecord,
  readRecords,
  recordsSection,
} from './record.ts';
export {
  setBaseOffset,
  setLogAppendTime,
  setMaxTimestamp,
  setPartitionLeaderEpoch,
  updateBatchCrc,
} from './rewrite.ts';
