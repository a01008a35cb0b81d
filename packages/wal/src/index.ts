export { crc32c, crc32cImplementation, crc32cPure } from './crc32c.ts';
export { FileWal, type FileWalOptions } from './file-wal.ts';
export type { WalFile, WalFileOpener } from './io.ts';
export { createMemoryWalStore, MemoryWal, type MemoryWalOptions, type MemoryWalStore } from './memory-wal.ts';
export { type NodeWalFileOptions, openNodeWalFile, openNodeWalFileWith } from './node-file.ts';
export {
  WAL_META_MAX_BYTES,
  type WalAppendResult,
  WalError,
  type WalErrorKind,
  type WalOffset,
  type WalRecord,
  type WalState,
  type WriteAheadLog,
} from './types.ts';
