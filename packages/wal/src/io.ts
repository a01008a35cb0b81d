/**
 * The file layer under FileWal, so tests can swap in a fault-injecting implementation that
 * tears writes and drops what was not fdatasync'ed. Positions are absolute byte positions in
 * the file (or block device).
 */
export interface WalFile {
  /** Size in bytes of the file or device (fixed after preallocation). */
  readonly size: number;
  /** Writes all of `buffers` contiguously starting at `position` (one pwritev when possible). */
  writev(buffers: readonly Uint8Array[], position: number): Promise<void>;
  /** Reads exactly `length` bytes at `position` into a new Buffer (short reads are an error). */
  read(position: number, length: number): Promise<Buffer>;
  /** Makes every completed write durable (fdatasync). */
  datasync(): Promise<void>;
  close(): Promise<void>;
}

/** Opens (creating and preallocating to `sizeBytes` when missing) the WAL file at `path`. */
export type WalFileOpener = (path: string, sizeBytes: number) => Promise<WalFile>;
