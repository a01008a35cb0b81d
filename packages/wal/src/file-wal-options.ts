import type { WalFile, WalFileOpener } from './io.ts';

/** Options of {@link FileWal.open}. */
export interface FileWalOptions {
  /** File or block device path (used by `opener`; informative when `file` is given). */
  path: string;
  /** Size of a file created by the opener (default 1 GiB); ring = size - 2 × alignBytes. */
  sizeBytes?: number;
  /** An already opened WalFile (tests inject fault layers); otherwise `opener` opens `path`. */
  file?: WalFile;
  /** Opens `path`; default: node:fs, creating and preallocating with zero blocks. */
  opener?: WalFileOpener;
  /** Group alignment and superblock slot size for a new WAL (default 4096); an existing WAL keeps its own. */
  alignBytes?: number;
  /** Bytes per group write before a new group starts (default 8 MiB; one larger record is its own group). */
  groupBytesMax?: number;
  /** Largest meta + data of one record (default 16 MiB). */
  recordBytesMax?: number;
  /** When the ring is full: wait for a trim (FIFO, default) or reject with WalError('full'). */
  full?: 'wait' | 'reject';
}
