/**
 * The metadata store contract: a small ordered key-value store with store-wide revisions,
 * compare-and-swap transactions, leases and watches. It is shaped after etcd v3 so that an etcd
 * backend implements it call for call (Range, Txn, LeaseGrant/KeepAlive/Revoke, Watch); the
 * embedded backend (single process, persisted in the data directory) and the in-memory backend
 * implement the same semantics. See packages/stream/METADATA.md.
 */

/** Lease identifier (an etcd int64 lease id in decimal, hence a string). */
export type LeaseId = string;

/** A stored key with its revisions. Buffers returned by the store are owned by the caller. */
export interface KeyValue {
  key: string;
  value: Buffer;
  /** Store revision of the last write to this key (etcd `mod_revision`). */
  revision: number;
  /** Store revision of the write that created this key (since its last deletion). */
  createRevision: number;
  /** Writes to this key since it was created: 1 after the first put. */
  version: number;
  /** The lease the key is attached to, if any. */
  lease?: LeaseId;
}

/**
 * One comparison of a transaction guard. A missing key has revision, createRevision and
 * version 0 and `exists` false; any `value` comparison on a missing key is false.
 * `value` comparisons order bytes lexicographically; `exists` supports only `==` and `!=`.
 */
export type Compare =
  | {
      key: string;
      target: 'revision' | 'createRevision' | 'version';
      op: '==' | '!=' | '<' | '>';
      value: number;
    }
  | { key: string; target: 'value'; op: '==' | '!=' | '<' | '>'; value: Buffer }
  | { key: string; target: 'exists'; op: '==' | '!='; value: boolean };

/** One operation of a transaction branch. */
export type TxnOp =
  /** Create or overwrite `key`; with `lease`, the key is deleted when that lease ends. */
  | { type: 'put'; key: string; value: Buffer; lease?: LeaseId }
  /** Delete `key` (no effect when missing). */
  | { type: 'delete'; key: string }
  /** Delete every key starting with `prefix` (`''` deletes everything). */
  | { type: 'deleteRange'; prefix: string }
  /** Read `key` as it was before this transaction. */
  | { type: 'get'; key: string };

/** The result of one {@link TxnOp}, in the order of the executed branch. */
export type TxnOpResult =
  | { type: 'put' }
  | { type: 'delete'; deleted: number }
  | { type: 'deleteRange'; deleted: number }
  | { type: 'get'; kv: KeyValue | undefined };

/**
 * A transaction: if every comparison holds, `success` runs, otherwise `failure` runs (both may
 * write). Rules, checked before anything runs (MetadataError('invalid') otherwise):
 * - within one branch no two writes touch the same key (a `deleteRange` covers every key with
 *   its prefix), and no `get` reads a key that the branch writes;
 * - keys are non-empty strings of at most {@link KEY_BYTES_MAX} UTF-8 bytes, values at most
 *   {@link VALUE_BYTES_MAX} bytes, and a branch has at most {@link TXN_OPS_MAX} operations.
 */
export interface Txn {
  compare?: readonly Compare[];
  success?: readonly TxnOp[];
  failure?: readonly TxnOp[];
}

/** What a transaction did. A failed comparison is not an error: `succeeded` is false. */
export interface TxnResult {
  succeeded: boolean;
  /** Store revision after the transaction (unchanged when it wrote nothing). */
  revision: number;
  results: TxnOpResult[];
}

export interface RangeOptions {
  /** Keys per page, default 1000, at most {@link RANGE_LIMIT_MAX} (larger is 'invalid'). */
  limit?: number;
  /** Exclusive start: only keys greater than this one (the last key of the previous page). */
  after?: string;
}

/** One page of keys in ascending (UTF-16 code unit) key order. */
export interface RangePage {
  kvs: KeyValue[];
  /** More keys with the prefix follow the last one returned. */
  more: boolean;
  /** Store revision at which the page was read. */
  revision: number;
}

/** A change of one key. All events of one transaction carry the same revision. */
export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  /** The new value; empty for a delete. */
  value: Buffer;
  revision: number;
  /** 0 for a delete. */
  createRevision: number;
  /** 0 for a delete. */
  version: number;
}

export interface WatchOptions {
  /**
   * First revision to report (inclusive). Absent or 0: the next revision (only new changes).
   * Revisions older than the store's retained history fail with MetadataError('compacted').
   */
  fromRevision?: number;
}

/**
 * A watch: an async iterable of events for keys with a prefix, in revision order, then in the
 * order of the operations within a transaction. Buffering is bounded: a watcher that falls
 * more than the backend's buffer behind ends with MetadataError('compacted') whose
 * `revision` is the first revision it did not receive (every event before it was delivered),
 * so the caller can watch again from there or re-read with `range`.
 * All iterators of one watch share its position (breaking out of a `for await` closes it). Ends (done) after `close()`; throws MetadataError('closed') when the store
 * closes.
 */
export interface Watch extends AsyncIterable<WatchEvent> {
  close(): void;
}

/** Kinds of {@link MetadataError}. */
export type MetadataErrorKind =
  /** A lease (keepAlive, revoke, put with lease) does not exist or has expired. */
  | 'not-found'
  /** The backend cannot serve now (I/O failure, lost connection, deadline); retry later. */
  | 'unavailable'
  /** Bad input: a key, value, option or transaction shape breaks the rules. */
  | 'invalid'
  /** The store was closed (or failed and closed itself). */
  | 'closed'
  /** A watch asked for (or fell behind to) a revision no longer retained. */
  | 'compacted';

export class MetadataError extends Error {
  override readonly name = 'MetadataError';
  readonly kind: MetadataErrorKind;
  /** For 'compacted': the first revision the watcher did not receive. */
  readonly revision?: number;
  override readonly cause?: unknown;

  constructor(
    kind: MetadataErrorKind,
    message: string,
    options: { cause?: unknown; revision?: number } = {},
  ) {
    super(message);
    this.kind = kind;
    this.cause = options.cause;
    if (options.revision !== undefined) this.revision = options.revision;
  }
}

/** Keys longer than this (UTF-8 bytes) are 'invalid' (etcd's default request limit is far above). */
export const KEY_BYTES_MAX = 4096;
/** Values larger than this are 'invalid' (etcd's default request size limit is 1.5 MiB). */
export const VALUE_BYTES_MAX = 1024 * 1024;
/** Operations per transaction branch (etcd's default `--max-txn-ops` is 128). */
export const TXN_OPS_MAX = 128;
/** Largest `range` page. */
export const RANGE_LIMIT_MAX = 10_000;

/** Time source for lease expiry; tests pass a manual clock. */
export interface MetadataClock {
  /** Milliseconds, monotonic non-decreasing. */
  now(): number;
}

/**
 * The metadata store. Every method resolves or rejects with a {@link MetadataError}.
 *
 * Revisions: the store revision starts at 0 and increases by exactly one for every write
 * transaction that changes at least one key (a put, or a delete of an existing key); every
 * change of that transaction carries the new revision. Transactions that change nothing
 * (reads, failed guards without writes, deletes of missing keys) leave it unchanged. Lease
 * grants and keepAlives do not change it; the end of a lease that has keys deletes them in one
 * write at one new revision.
 *
 * Durability: a write has been made durable by the backend when its promise resolves (the
 * embedded backend fdatasyncs its log first). Transactions are linearizable: each one sees all
 * transactions that resolved before it was called.
 *
 * Leases: `grantLease(ttlMs)` creates a lease that ends `ttlMs` after the last grant or
 * keepAlive (by the store's clock). When a lease ends (expiry or `revokeLease`), every key
 * attached to it is deleted atomically, with delete events. Expiry is applied by the store in
 * the background and at the latest before the next operation that follows the deadline.
 * A put without `lease` detaches the key from any lease.
 */
export interface MetadataStore {
  /** A short description for logs, e.g. `embedded:/data/meta`. */
  readonly description: string;
  /** Read one key. */
  get(key: string): Promise<KeyValue | undefined>;
  /** Read a bounded page of keys starting with `prefix`, in key order. */
  range(prefix: string, options?: RangeOptions): Promise<RangePage>;
  /** Run a transaction atomically. */
  txn(txn: Txn): Promise<TxnResult>;
  /** Unconditional put (a one-op transaction); resolves to the new store revision. */
  put(key: string, value: Buffer, options?: { lease?: LeaseId }): Promise<{ revision: number }>;
  /** Unconditional delete (a one-op transaction). */
  delete(key: string): Promise<{ revision: number; deleted: number }>;
  /** Create a lease of `ttlMs` milliseconds (backends may round up, etcd to seconds). */
  grantLease(ttlMs: number): Promise<{ id: LeaseId; ttlMs: number }>;
  /** Restart a lease's TTL; MetadataError('not-found') once it has ended. */
  keepAlive(id: LeaseId): Promise<{ ttlMs: number }>;
  /** End a lease now, deleting its keys; MetadataError('not-found') when it does not exist. */
  revokeLease(id: LeaseId): Promise<void>;
  /** Watch keys starting with `prefix`. */
  watch(prefix: string, options?: WatchOptions): Watch;
  /** Current store revision. */
  revision(): Promise<number>;
  /**
   * Close the store: pending writes finish first, then every later call rejects with
   * MetadataError('closed') and watches end with that error. Idempotent.
   */
  close(): Promise<void>;
}
