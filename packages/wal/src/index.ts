export type { WalFile, WalFileOpener } from './io.ts';
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
