/**
 * The object storage contract every backend implements (s3://, file://, memory://, and the
 * fault-injecting wrapper used by tests and drills). Backends implement primitives only;
 * retries, metrics and throttling live in a shared layer above them.
 */

/** Metadata of a stored object. */
export interface ObjectInfo {
  key: string;
  size: number;
  /** Backend-specific entity tag (opaque; changes when the object is rewritten). */
  etag?: string;
  lastModifiedMs?: number;
}

/** One page of a listing. */
export interface ListPage {
  objects: ObjectInfo[];
  /** Pass to the next `list` call; undefined when this was the last page. */
  continuationToken?: string;
}

export interface ListOptions {
  /** Only keys starting with this prefix. */
  prefix?: string;
  /** Keys per page (backends may return fewer); default 1000. */
  maxKeys?: number;
  continuationToken?: string;
}

export interface PutOptions {
  /**
   * Conditional put: succeed only if no object exists under the key (S3 `If-None-Match: *`).
   * Backends without the capability throw ObjectStoreError('unsupported');
   * check `capabilities.conditionalPut` first.
   */
  ifNoneMatch?: '*';
  /** Abort the upload (rejects with ObjectStoreError('aborted')). */
  signal?: AbortSignal;
}

export interface GetOptions {
  /** Inclusive start byte of a ranged read. */
  start?: number;
  /** Exclusive end byte of a ranged read (clamped to the object size). */
  end?: number;
  signal?: AbortSignal;
}

export type ObjectStoreErrorKind =
  /** The key does not exist. */
  | 'not-found'
  /** A conditional put found an existing object. */
  | 'precondition-failed'
  /** Worth retrying: 5xx, SlowDown/429, timeouts, connection resets. */
  | 'retriable'
  /** The backend does not offer this capability. */
  | 'unsupported'
  /** Bad input: invalid key, range outside the object, bad URI. */
  | 'invalid'
  /** The caller aborted. */
  | 'aborted'
  /** Anything else (permissions, misconfiguration): not worth retrying. */
  | 'fatal';

export class ObjectStoreError extends Error {
  override readonly name = 'ObjectStoreError';
  readonly kind: ObjectStoreErrorKind;
  override readonly cause?: unknown;

  constructor(kind: ObjectStoreErrorKind, message: string, cause?: unknown) {
    super(message);
    this.kind = kind;
    this.cause = cause;
  }
}

/**
 * Object storage. Keys are `/`-separated strings of at most 1024 bytes. Every method either
 * resolves or rejects with an {@link ObjectStoreError}; nothing else crosses this boundary.
 *
 * - `put` is atomic: readers see the whole new object or the previous state, never a part.
 *   Large bodies (a Buffer list) may be uploaded in parts (multipart) by the backend.
 * - `get` returns the bytes of [start, end) — a ranged GET; a range past the end is clamped,
 *   a start past the end is 'invalid'.
 * - `list` is in ascending key order, paginated.
 * - `delete` of a missing key succeeds (idempotent); `deleteMany` deletes in batches
 *   (S3 DeleteObjects: 1000 keys a call) and reports keys that failed.
 */
export interface ObjectStore {
  readonly capabilities: { readonly conditionalPut: boolean };
  /** A short description for logs, e.g. `s3://bucket/prefix (endpoint http://127.0.0.1:9000)`. */
  readonly description: string;
  put(key: string, body: Buffer | readonly Buffer[], options?: PutOptions): Promise<ObjectInfo>;
  get(key: string, options?: GetOptions): Promise<Buffer>;
  head(key: string): Promise<ObjectInfo>;
  list(options?: ListOptions): Promise<ListPage>;
  delete(key: string): Promise<void>;
  deleteMany(keys: readonly string[]): Promise<{ failed: { key: string; error: ObjectStoreError }[] }>;
  close(): Promise<void>;
}
