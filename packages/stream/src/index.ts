export {
  BlockCache,
  type BlockCacheOptions,
  type BlockCacheStats,
  type BlockKey,
} from './cache/block-cache.ts';
export { ByteBudget, type ByteBudgetOptions } from './cache/byte-budget.ts';
export {
  type CachedBatch,
  LogCache,
  type LogCacheOptions,
  LogCacheOrderError,
  type LogCacheStats,
  type SealedBlock,
} from './cache/log-cache.ts';
export {
  ReadAhead,
  type ReadAheadAdvice,
  type ReadAheadOptions,
  ReadAheadTracker,
  type ReadAheadTrackerOptions,
} from './cache/readahead.ts';
export { LocalMetadataStore, type LocalStoreOptions } from './metadata/base.ts';
export { ManualMetadataClock, systemMetadataClock } from './metadata/clock.ts';
export {
  EmbeddedMetadataStore,
  type EmbeddedMetadataStoreOptions,
  type EmbeddedOpenInfo,
} from './metadata/embedded.ts';
export { MemoryMetadataStore, type MemoryMetadataStoreOptions } from './metadata/memory.ts';
export * from './metadata/types.ts';
export * from './object-format/format.ts';
export { OBJECT_ID_DIGITS, objectKey, objectKeyHash, parseObjectKey } from './object-format/keys.ts';
export { blocksRange, ObjectIndex } from './object-format/object-index.ts';
export {
  type ByteRange,
  joinIndex,
  type ObjectFooterResult,
  parseFooter,
  parseIndex,
  type ReadBatch,
  readBlock,
  selectBatches,
  tailRange,
} from './object-format/reader.ts';
export {
  type ObjectWriteResult,
  ObjectWriter,
  type ObjectWriterOptions,
  type StreamRange,
} from './object-format/writer.ts';
export { FileObjectStore } from './object-store/file.ts';
export {
  type MemoryObject,
  MemoryObjectStore,
  type MemoryObjectStoreOptions,
} from './object-store/memory.ts';
export { backoffDelayMs, type RetryOptions, withRetries } from './object-store/retry.ts';
export { DELETE_BATCH_KEYS_MAX, S3ObjectStore, type S3ObjectStoreOptions } from './object-store/s3.ts';
export {
  type GetOptions,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  type ObjectStore,
  ObjectStoreError,
  type ObjectStoreErrorKind,
  type PutOptions,
} from './object-store/types.ts';
export { openBackend, openObjectStore } from './object-store/uri.ts';
export { FencedError, StreamStoreError } from './stream/errors.ts';
export type { GarbageStats } from './stream/garbage.ts';
export type { CompactionOptions, CompactionStats } from './stream/maintenance.ts';
export type { CommittedRange, ObjectReaderStats } from './stream/object-reads.ts';
export {
  type RecoveryStats,
  StreamStore,
  type StreamStoreOptions,
  type StreamStoreStats,
} from './stream/store.ts';
export {
  type CommittedRangeInfo,
  type FetchedBatch,
  type FetchOptions,
  type RetentionPolicy,
  Stream,
} from './stream/stream.ts';
export { COMMIT_STREAMS_MAX, type UploaderStats } from './stream/uploader.ts';
