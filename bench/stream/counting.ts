/**
 * Counting wrappers for the stream benchmarks: an ObjectStore that counts every request
 * (and the bytes moved), a MetadataStore that counts every call, and a discarding
 * ObjectStore that keeps only object sizes (so a GiB-scale ingest does not hold a GiB in
 * memory when only the request counts matter).
 */
import {
  type GetOptions,
  type KeyValue,
  type LeaseId,
  type ListOptions,
  type ListPage,
  type MetadataStore,
  type ObjectInfo,
  type ObjectStore,
  ObjectStoreError,
  type PutOptions,
  type RangeOptions,
  type RangePage,
  type Txn,
  type TxnResult,
  type Watch,
  type WatchOptions,
} from '../../packages/stream/src/index.ts';

/** Object-store requests seen by {@link CountingObjectStore}. */
export interface ObjectStoreCounts {
  put: number;
  get: number;
  head: number;
  list: number;
  delete: number;
  /** Calls of deleteMany (each one request per 1000 keys on S3; counted as calls here). */
  deleteMany: number;
  putBytes: number;
  getBytes: number;
  /** Wall time spent inside get calls, summed (overlapping calls count twice), in seconds. */
  getSeconds: number;
  /** Wall time with at least one get outstanding, in seconds. */
  getBusySeconds: number;
  /** Most gets outstanding at once. */
  getsInFlightMax: number;
}

export function newObjectStoreCounts(): ObjectStoreCounts {
  return {
    put: 0,
    get: 0,
    head: 0,
    list: 0,
    delete: 0,
    deleteMany: 0,
    putBytes: 0,
    getBytes: 0,
    getSeconds: 0,
    getBusySeconds: 0,
    getsInFlightMax: 0,
  };
}

/** Total requests of a count (every kind). */
export function totalRequests(c: ObjectStoreCounts): number {
  return c.put + c.get + c.head + c.list + c.delete + c.deleteMany;
}

/** Wraps an ObjectStore and counts its calls into `counts` (which the caller may reset). */
export class CountingObjectStore implements ObjectStore {
  counts: ObjectStoreCounts = newObjectStoreCounts();
  /** Sizes of the objects put through this wrapper, by key (last put wins). */
  readonly putSizes = new Map<string, number>();
  private inFlight = 0;
  private busySince = 0n;

  constructor(readonly inner: ObjectStore) {}

  get capabilities() {
    return this.inner.capabilities;
  }

  get description(): string {
    return `counting(${this.inner.description})`;
  }

  /** Returns the counts so far and starts new ones. */
  reset(): ObjectStoreCounts {
    const c = this.counts;
    this.counts = newObjectStoreCounts();
    return c;
  }

  async put(key: string, body: Buffer | readonly Buffer[], options?: PutOptions): Promise<ObjectInfo> {
    this.counts.put++;
    const size = Buffer.isBuffer(body) ? body.length : body.reduce((n, b) => n + b.length, 0);
    this.counts.putBytes += size;
    const info = await this.inner.put(key, body, options);
    this.putSizes.set(key, size);
    return info;
  }

  async get(key: string, options?: GetOptions): Promise<Buffer> {
    const c = this.counts;
    c.get++;
    const t0 = process.hrtime.bigint();
    if (this.inFlight++ === 0) this.busySince = t0;
    c.getsInFlightMax = Math.max(c.getsInFlightMax, this.inFlight);
    try {
      const buf = await this.inner.get(key, options);
      c.getBytes += buf.length;
      return buf;
    } finally {
      const t1 = process.hrtime.bigint();
      c.getSeconds += Number(t1 - t0) / 1e9;
      if (--this.inFlight === 0) c.getBusySeconds += Number(t1 - this.busySince) / 1e9;
    }
  }

  head(key: string): Promise<ObjectInfo> {
    this.counts.head++;
    return this.inner.head(key);
  }

  list(options?: ListOptions): Promise<ListPage> {
    this.counts.list++;
    return this.inner.list(options);
  }

  delete(key: string): Promise<void> {
    this.counts.delete++;
    return this.inner.delete(key);
  }

  deleteMany(keys: readonly string[]): Promise<{ failed: { key: string; error: ObjectStoreError }[] }> {
    this.counts.deleteMany++;
    return this.inner.deleteMany(keys);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A simulated PUT cost: a fixed latency plus the body at a given bandwidth. */
export interface PutThrottle {
  latencyMs: number;
  mbPerSec: number;
}

/**
 * An ObjectStore that drops object bodies and keeps only their sizes: puts, heads, lists and
 * deletes behave, gets of data fail (`unsupported`). For write-path benchmarks only. With a
 * `throttle`, each put takes `latencyMs + size / mbPerSec` (a slow object store).
 */
export class DiscardingObjectStore implements ObjectStore {
  readonly capabilities = { conditionalPut: true } as const;
  readonly description = 'discard://';
  private readonly sizes = new Map<string, number>();

  constructor(private readonly throttle?: PutThrottle) {}

  async put(key: string, body: Buffer | readonly Buffer[], options: PutOptions = {}): Promise<ObjectInfo> {
    if (options.ifNoneMatch === '*' && this.sizes.has(key)) {
      throw new ObjectStoreError('precondition-failed', `${key} exists`);
    }
    const size = Buffer.isBuffer(body) ? body.length : body.reduce((n, b) => n + b.length, 0);
    if (this.throttle !== undefined) {
      const ms = this.throttle.latencyMs + size / (this.throttle.mbPerSec * 1e3);
      await new Promise((r) => setTimeout(r, ms));
    }
    this.sizes.set(key, size);
    return { key, size };
  }

  async get(key: string): Promise<Buffer> {
    if (!this.sizes.has(key)) throw new ObjectStoreError('not-found', `${key} not found`);
    throw new ObjectStoreError('unsupported', 'the discarding store keeps no data');
  }

  async head(key: string): Promise<ObjectInfo> {
    const size = this.sizes.get(key);
    if (size === undefined) throw new ObjectStoreError('not-found', `${key} not found`);
    return { key, size };
  }

  async list(options: ListOptions = {}): Promise<ListPage> {
    const prefix = options.prefix ?? '';
    const keys = [...this.sizes.keys()].filter((k) => k.startsWith(prefix)).sort();
    const from = options.continuationToken === undefined ? 0 : Number(options.continuationToken);
    const max = options.maxKeys ?? 1000;
    const page = keys.slice(from, from + max);
    const next = from + page.length;
    return {
      objects: page.map((key) => ({ key, size: this.sizes.get(key)! })),
      ...(next < keys.length ? { continuationToken: String(next) } : {}),
    };
  }

  async delete(key: string): Promise<void> {
    this.sizes.delete(key);
  }

  async deleteMany(keys: readonly string[]): Promise<{ failed: { key: string; error: ObjectStoreError }[] }> {
    for (const k of keys) this.sizes.delete(k);
    return { failed: [] };
  }

  async close(): Promise<void> {}
}

/** Metadata-store calls seen by {@link CountingMetadataStore}. */
export interface MetadataCounts {
  txn: number;
  /** Transactions whose compare failed. */
  txnFailed: number;
  /** Write operations (put/delete/deleteRange) in all transactions. */
  txnWriteOps: number;
  get: number;
  range: number;
  put: number;
  delete: number;
}

export function newMetadataCounts(): MetadataCounts {
  return { txn: 0, txnFailed: 0, txnWriteOps: 0, get: 0, range: 0, put: 0, delete: 0 };
}

/** Wraps a MetadataStore and counts its calls (`put`/`delete` count as one transaction each too). */
export class CountingMetadataStore implements MetadataStore {
  counts: MetadataCounts = newMetadataCounts();

  constructor(readonly inner: MetadataStore) {}

  get description(): string {
    return `counting(${this.inner.description})`;
  }

  reset(): MetadataCounts {
    const c = this.counts;
    this.counts = newMetadataCounts();
    return c;
  }

  get(key: string): Promise<KeyValue | undefined> {
    this.counts.get++;
    return this.inner.get(key);
  }

  range(prefix: string, options?: RangeOptions): Promise<RangePage> {
    this.counts.range++;
    return this.inner.range(prefix, options);
  }

  async txn(txn: Txn): Promise<TxnResult> {
    this.counts.txn++;
    const res = await this.inner.txn(txn);
    const ops = res.succeeded ? txn.success : txn.failure;
    this.counts.txnWriteOps += (ops ?? []).filter((o) => o.type !== 'get').length;
    if (!res.succeeded) this.counts.txnFailed++;
    return res;
  }

  put(key: string, value: Buffer, options?: { lease?: LeaseId }): Promise<{ revision: number }> {
    this.counts.put++;
    this.counts.txn++;
    this.counts.txnWriteOps++;
    return this.inner.put(key, value, options);
  }

  delete(key: string): Promise<{ revision: number; deleted: number }> {
    this.counts.delete++;
    this.counts.txn++;
    this.counts.txnWriteOps++;
    return this.inner.delete(key);
  }

  grantLease(ttlMs: number): Promise<{ id: LeaseId; ttlMs: number }> {
    return this.inner.grantLease(ttlMs);
  }

  keepAlive(id: LeaseId): Promise<{ ttlMs: number }> {
    return this.inner.keepAlive(id);
  }

  revokeLease(id: LeaseId): Promise<void> {
    return this.inner.revokeLease(id);
  }

  watch(prefix: string, options?: WatchOptions): Watch {
    return this.inner.watch(prefix, options);
  }

  revision(): Promise<number> {
    return this.inner.revision();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
