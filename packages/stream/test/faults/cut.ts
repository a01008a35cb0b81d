/**
 * Crash simulation for the stream fault suite: wrappers around a WAL file, a metadata store and
 * an object store that share one {@link Cut} switch. Once cut, every call (new or in flight)
 * never settles, as if the process had died: the store above sees no error and takes no
 * error path, it simply stops. {@link Cut.quiesce} waits until the calls that had already
 * reached the real backends have finished, so the state a restart finds is settled.
 */
import type { WalFile } from '@tributary/wal';
import type {
  KeyValue,
  LeaseId,
  MetadataStore,
  RangeOptions,
  RangePage,
  Txn,
  TxnResult,
  Watch,
  WatchOptions,
} from '../../src/metadata/types.ts';
import type {
  GetOptions,
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  ObjectStoreError,
  PutOptions,
} from '../../src/object-store/types.ts';

/** A promise that never settles. */
function never<T>(): Promise<T> {
  return new Promise<T>(() => {});
}

/** The shared "power switch" of one simulated process. */
export class Cut {
  private cutNow = false;
  private readonly inflight = new Set<Promise<unknown>>();
  /** Calls swallowed because they started or ended after the cut. */
  swallowed = 0;

  /** True once {@link cut} was called. */
  get isCut(): boolean {
    return this.cutNow;
  }

  /** Cuts every wrapped backend at once. */
  cut(): void {
    this.cutNow = true;
  }

  /** Calls that reached a real backend and have not settled yet. */
  get inflightCalls(): number {
    return this.inflight.size;
  }

  /** Resolves once every call that reached a real backend has settled. */
  async quiesce(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Runs `fn` unless cut; its result is swallowed (never settles) if the cut came meanwhile. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.cutNow) {
      this.swallowed++;
      return never<T>();
    }
    const p = fn();
    this.inflight.add(p);
    const forget = (): void => {
      this.inflight.delete(p);
    };
    p.then(forget, forget);
    let result: T;
    try {
      result = await p;
    } catch (err) {
      if (this.cutNow) {
        this.swallowed++;
        return never<T>();
      }
      throw err;
    }
    if (this.cutNow) {
      this.swallowed++;
      return never<T>();
    }
    return result;
  }
}

/** A WalFile that stops with the cut. `close` always reaches the real file (to free its fd). */
export class CutWalFile implements WalFile {
  constructor(
    readonly inner: WalFile,
    private readonly cut: Cut,
  ) {}

  get size(): number {
    return this.inner.size;
  }

  writev(buffers: readonly Uint8Array[], position: number): Promise<void> {
    return this.cut.run(() => this.inner.writev(buffers, position));
  }

  read(position: number, length: number): Promise<Buffer> {
    return this.cut.run(() => this.inner.read(position, length));
  }

  datasync(): Promise<void> {
    return this.cut.run(() => this.inner.datasync());
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** An ObjectStore that stops with the cut. */
export class CutObjectStore implements ObjectStore {
  readonly capabilities: { readonly conditionalPut: boolean };
  readonly description: string;
  /** GETs that found no object (e.g. a reader meeting an object compaction removed). */
  getNotFound = 0;

  constructor(
    readonly inner: ObjectStore,
    private readonly cut: Cut,
  ) {
    this.capabilities = inner.capabilities;
    this.description = `cut(${inner.description})`;
  }

  put(key: string, body: Buffer | readonly Buffer[], options?: PutOptions): Promise<ObjectInfo> {
    return this.cut.run(() => this.inner.put(key, body, options));
  }

  get(key: string, options?: GetOptions): Promise<Buffer> {
    return this.cut.run(() =>
      this.inner.get(key, options).catch((err: unknown) => {
        if ((err as { kind?: unknown }).kind === 'not-found') this.getNotFound++;
        throw err;
      }),
    );
  }

  head(key: string): Promise<ObjectInfo> {
    return this.cut.run(() => this.inner.head(key));
  }

  list(options?: ListOptions): Promise<ListPage> {
    return this.cut.run(() => this.inner.list(options));
  }

  delete(key: string): Promise<void> {
    return this.cut.run(() => this.inner.delete(key));
  }

  deleteMany(keys: readonly string[]): Promise<{ failed: { key: string; error: ObjectStoreError }[] }> {
    return this.cut.run(() => this.inner.deleteMany(keys));
  }

  /** Does not close the inner store (it outlives the simulated process). */
  async close(): Promise<void> {}
}

/** Where a {@link TxnHook} is called: before the txn reaches the store, or after it applied. */
export type TxnPhase = 'before' | 'after';

/** Called around every transaction; may call `cut.cut()` to crash at that point. */
export type TxnHook = (txn: Txn, phase: TxnPhase, result?: TxnResult) => void;

/** True when `txn` commits an object (puts an `objects/` record). */
export function isObjectCommit(txn: Txn): boolean {
  return (txn.success ?? []).some((op) => op.type === 'put' && op.key.startsWith('objects/'));
}

/**
 * A MetadataStore that stops with the cut, with a hook around transactions (to crash right
 * before or right after a given commit). `close` does not close the inner store.
 */
export class CutMetadata implements MetadataStore {
  readonly description: string;
  hook: TxnHook | undefined;

  constructor(
    readonly inner: MetadataStore,
    private readonly cut: Cut,
  ) {
    this.description = `cut(${inner.description})`;
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.cut.run(() => this.inner.get(key));
  }

  range(prefix: string, options?: RangeOptions): Promise<RangePage> {
    return this.cut.run(() => this.inner.range(prefix, options));
  }

  txn(txn: Txn): Promise<TxnResult> {
    this.hook?.(txn, 'before');
    return this.cut.run(async () => {
      const res = await this.inner.txn(txn);
      this.hook?.(txn, 'after', res);
      return res;
    });
  }

  put(key: string, value: Buffer, options?: { lease?: LeaseId }): Promise<{ revision: number }> {
    return this.cut.run(() => this.inner.put(key, value, options));
  }

  delete(key: string): Promise<{ revision: number; deleted: number }> {
    return this.cut.run(() => this.inner.delete(key));
  }

  grantLease(ttlMs: number): Promise<{ id: LeaseId; ttlMs: number }> {
    return this.cut.run(() => this.inner.grantLease(ttlMs));
  }

  keepAlive(id: LeaseId): Promise<{ ttlMs: number }> {
    return this.cut.run(() => this.inner.keepAlive(id));
  }

  revokeLease(id: LeaseId): Promise<void> {
    return this.cut.run(() => this.inner.revokeLease(id));
  }

  watch(prefix: string, options?: WatchOptions): Watch {
    return this.inner.watch(prefix, options);
  }

  revision(): Promise<number> {
    return this.cut.run(() => this.inner.revision());
  }

  async close(): Promise<void> {}
}
