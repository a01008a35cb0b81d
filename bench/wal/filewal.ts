/**
 * Opens the WAL under test: a FileWal whose file I/O goes through the default Node opener,
 * wrapped to count group writes and fdatasyncs (bench/wal/cells.ts).
 */
import type { WriteAheadLog } from '../../packages/wal/src/index.ts';
import type { IoCounters } from './cells.ts';

/** Opens a fresh WAL of `sizeBytes` at `path`, counting its I/O into `io`. */
export type WalFactory = (path: string, sizeBytes: number, io: IoCounters) => Promise<WriteAheadLog>;

export const openFileWal: WalFactory = async () => {
  throw new Error('FileWal not available yet');
};
