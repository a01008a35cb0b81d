/**
 * Opens the WAL under test: a FileWal on the default node:fs WalFile (`openNodeWalFile`),
 * wrapped to count group writes and fdatasyncs (bench/wal/cells.ts).
 */
import {
  FileWal,
  type FileWalOptions,
  openNodeWalFile,
  type WriteAheadLog,
} from '../../packages/wal/src/index.ts';
import { countingOpener, type IoCounters } from './cells.ts';

/** Opens a fresh WAL of `sizeBytes` at `path`, counting its I/O into `io`. */
export type WalFactory = (path: string, sizeBytes: number, io: IoCounters) => Promise<WriteAheadLog>;

/** FileWal options the benchmark may vary (group size experiments). */
export type FileWalTuning = Pick<FileWalOptions, 'alignBytes' | 'groupBytesMax'>;

/** A factory for FileWal with the given tuning (defaults: FileWal's own). */
export function fileWalFactory(tuning: FileWalTuning = {}): WalFactory {
  const align = tuning.alignBytes ?? 4096;
  return (path, sizeBytes, io) =>
    FileWal.open({
      path,
      sizeBytes,
      ...tuning,
      // the two superblock slots take the first 2 × alignBytes of the file
      opener: countingOpener(openNodeWalFile, io, 2 * align),
    });
}

/** FileWal with its default options. */
export const openFileWal: WalFactory = fileWalFactory();
