/**
 * The write-ahead log contract shared by every implementation (FileWal, MemoryWal, and later
 * an object-storage WAL). It knows nothing of Kafka: a record is opaque bytes plus a small
 * opaque `meta` the caller uses to route the record on recovery.
 */

/** Logical WAL offsets are byte positions in an ever-growing address space (never reused). */
export type WalOffset = number;

/** What `append` resolves with. */
export interface WalAppendResult {
  /** Logical offset of the record's first byte; strictly increasing across appends. */
  offset: WalOffset;
  /** Logical offset just past the record (the next record starts at or after it). */
  nextOffset: WalOffset;
}

/** A record read back by `recover()`. */
export interface WalRecord {
  offset: WalOffset;
  nextOffset: WalOffset;
  /** The `meta` given to append (a copy owned by the caller). */
  meta: Buffer;
  /** The record body (owned by the caller). */
  data: Buffer;
}

/** Why a WAL refuses work; crosses package boundaries with a stable kind. */
export type WalErrorKind =
  /** An I/O or fsync error happened; the WAL is failed for good (no retried fsync). */
  | 'failed'
  /** The WAL was closed. */
  | 'closed'
  /** The record can never fit (larger than the WAL's capacity or the record size maximum). */
  | 'too-large'
  /** The WAL is full and the caller asked not to wait (`full: 'reject'`). */
  | 'full'
  /** The on-disk state is not a WAL this code can read (bad superblock, wrong format version). */
  | 'corrupt'
  /** Misuse: append before recover(), trim beyond the end, and the like. */
  | 'invalid';

export class WalError extends Error {
  override readonly name = 'WalError';
  readonly kind: WalErrorKind;
  override readonly cause?: unknown;

  constructor(kind: WalErrorKind, message: string, cause?: unknown) {
    super(message);
    this.kind = kind;
    this.cause = cause;
  }
}

export type WalState = 'recovering' | 'open' | 'failed' | 'closed';

/**
 * A durable, append-only log with group commit.
 *
 * Lifecycle: construct/open → `recover()` (must be iterated to completion before the first
 * append; a fresh WAL yields nothing) → `append`/`trim` → `close()`.
 *
 * Ordering: `append` promises resolve in offset order, each only once its record and every
 * record before it are durable (written and fdatasync'ed for FileWal). Records appended
 * concurrently are gathered into one group: one write and one fdatasync per group.
 *
 * Buffer ownership: `append` may keep references to `data` and `meta` until its promise
 * settles; the caller must not modify them before then. Records returned by `recover()`
 * belong to the caller.
 *
 * Capacity: a full WAL never overwrites live (untrimmed) data. By default `append` waits
 * (backpressure) until `trim` frees enough space, in FIFO order; with `full: 'reject'` it
 * fails with WalError('full'). A record that can never fit fails with WalError('too-large').
 *
 * Failure: after any I/O or fsync error the WAL enters state 'failed': pending and future
 * appends reject with WalError('failed') whose `cause` is the original error; fsync is never
 * retried (after a failed fsync the kernel may have dropped the dirty pages).
 */
export interface WriteAheadLog {
  readonly state: WalState;

  /**
   * Yields every record above the durable trim offset, in offset order, stopping at the
   * first invalid record (torn write, stale data from an earlier lap or incarnation). After
   * it completes, the WAL is 'open' and appends continue after the last valid record.
   */
  recover(): AsyncIterable<WalRecord>;

  /** Appends one record; resolves once it is durable. `meta` is at most {@link WAL_META_MAX_BYTES}. */
  append(data: Buffer | readonly Buffer[], meta?: Buffer): Promise<WalAppendResult>;

  /**
   * Declares every record with offset < `offset` reusable (`offset` is usually a record's
   * `nextOffset`). Resolves once the new trim point is durable; only then may its space be
   * reused. Trimming backwards is a no-op; trimming beyond the end offset is WalError('invalid').
   */
  trim(offset: WalOffset): Promise<void>;

  /** Logical offset where the next record will start (once recovered). */
  readonly endOffset: WalOffset;
  /** Durable trim offset: records below it are gone. */
  readonly trimOffset: WalOffset;
  /** Bytes of live records (endOffset - trimOffset, including framing). */
  readonly usedBytes: number;
  /** Total bytes the ring can hold. */
  readonly capacityBytes: number;

  /** Waits for in-flight groups, then releases resources. Pending waiters reject with 'closed'. */
  close(): Promise<void>;
}

/** Largest `meta` an append may carry. */
export const WAL_META_MAX_BYTES = 256;
