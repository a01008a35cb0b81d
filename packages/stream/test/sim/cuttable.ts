/**
 * "Cuttable" delegating wrappers of the three backends a StreamStore does I/O on (WAL,
 * metadata, object store). A crash in the simulation cuts the {@link Fuse} shared by one
 * store's wrappers: from then on every call of that store — new ones, and those in flight
 * whose answer had not come back yet — rejects with {@link CrashedError} or never settles
 * (`hang`), so the dead store can neither change the shared backends nor learn what a call
 * in flight did. The backends themselves stay, as disks and remote services survive a crash.
 */
import type { WalAppendResult, WalRecord, WalState, WriteAheadLog } from '@tributary/wal';
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

/** What a cut store's calls get. */
export class CrashedError extends Error {
  override readonly name = 'CrashedError';
}

/** How calls of a cut store end. */
export type CutMode = 'reject' | 'hang';

/** Shared by the wrappers of one store incarnation. */
export class Fuse {
  private mode: CutMode | undefined;
  private armed: { at: number; mode: CutMode; afterEffect: boolean } | undefined;
  /** Calls made (for the trace). */
  calls = 0;
  /** Calls refused or swallowed after the cut. */
  refused = 0;
  /** Called once, at the cut. */
  onCut: (() => void) | undefined;
  /** Called for every call let through (`what` names it), and with its outcome. */
  onCall: ((what: string, outcome?: string) => void) | undefined;

  constructor(readonly name: string) {}

  get blown(): boolean {
    return this.mode !== undefined;
  }

  /** Cuts every later (and every unanswered) call. */
  cut(mode: CutMode): void {
    if (this.mode !== undefined) return;
    this.mode = mode;
    this.armed = undefined;
    this.onCut?.();
  }

  /**
   * Cuts when the store makes its `calls`-th call from now: before that call has any effect,
   * or with `afterEffect` right after it took effect (the answer is lost: a WAL record written
   * but not acknowledged, a transaction applied but not confirmed).
   */
  armAfter(calls: number, mode: CutMode, afterEffect = false): void {
    if (this.mode !== undefined) return;
    this.armed = { at: this.calls + Math.max(1, calls), mode, afterEffect };
  }

  /** Forgets an armed cut. */
  disarm(): void {
    this.armed = undefined;
  }

  /** Runs `fn` unless cut; hides its outcome if the cut happens before it settles. */
  guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const armed = this.armed;
    const fire = armed !== undefined && this.calls + 1 >= armed.at;
    if (fire && !armed.afterEffect) this.cut(armed.mode);
    if (this.mode !== undefined) return this.refuse(what);
    this.calls++;
    this.onCall?.(what);
    let p: Promise<T>;
    try {
      p = fn();
    } catch (err) {
      return Promise.reject(err);
    } finally {
      if (fire && armed.afterEffect) this.cut(armed.mode);
    }
    return p.then(
      (v) => {
        if (this.mode !== undefined) return this.refuse(what);
        this.onCall?.(what, 'ok');
        return v;
      },
      (e: unknown) => {
        if (this.mode !== undefined) return this.refuse(what);
        this.onCall?.(what, `failed: ${e instanceof Error ? e.message : String(e)}`);
        return Promise.reject(e);
      },
    );
  }

  /** The first calls refused after the cut (names). */
  readonly refusedCalls: string[] = [];

  private refuse<T>(what: string): Promise<T> {
    this.refused++;
    if (this.refusedCalls.length < 5) this.refusedCalls.push(what);
    if (this.mode === 'hang') return new Promise<T>(() => {});
    return Promise.reject(new CrashedError(`${this.name}: ${what} after the crash`));
  }
}

/** A WAL whose calls stop at the cut. */
export class CuttableWal implements WriteAheadLog {
  constructor(
    private readonly inner: WriteAheadLog,
    private readonly fuse: Fuse,
  ) {}

  get state(): WalState {
    return this.inner.state;
  }
  get endOffset(): number {
    return this.inner.endOffset;
  }
  get trimOffset(): number {
    return this.inner.trimOffset;
  }
  get usedBytes(): number {
    return this.inner.usedBytes;
  }
  get capacityBytes(): number {
    return this.inner.capacityBytes;
  }

  async *recover(): AsyncGenerator<WalRecord, void, undefined> {
    for await (const rec of this.inner.recover()) {
      if (this.fuse.blown) throw new CrashedError(`${this.fuse.name}: WAL recovery after the crash`);
      yield rec;
    }
  }

  append(data: Buffer | readonly Buffer[], meta?: Buffer): Promise<WalAppendResult> {
    return this.fuse.guard('wal.append', () => this.inner.append(data, meta));
  }

  trim(offset: number): Promise<void> {
    return this.fuse.guard('wal.trim', () => this.inner.trim(offset));
  }

  close(): Promise<void> {
    return this.fuse.guard('wal.close', () => this.inner.close());
  }
}

/** A metadata store whose calls stop at the cut. */
export class CuttableMetadata implements MetadataStore {
  readonly description: string;

  constructor(
    private readonly inner: MetadataStore,
    private readonly fuse: Fuse,
  ) {
    this.description = `cuttable(${inner.description})`;
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.fuse.guard('metadata.get', () => this.inner.get(key));
  }
  range(prefix: string, options?: RangeOptions): Promise<RangePage> {
    return this.fuse.guard('metadata.range', () => this.inner.range(prefix, options));
  }
  txn(txn: Txn): Promise<TxnResult> {
    const keys = [...(txn.success ?? [])].map(
      (op) => `${op.type} ${'key' in op ? op.key : 'prefix' in op ? op.prefix : ''}`,
    );
    return this.fuse.guard(`metadata.txn [${keys.join(', ')}]`, () => this.inner.txn(txn));
  }
  put(key: string, value: Buffer, options?: { lease?: LeaseId }): Promise<{ revision: number }> {
    return this.fuse.guard('metadata.put', () => this.inner.put(key, value, options));
  }
  delete(key: string): Promise<{ revision: number; deleted: number }> {
    return this.fuse.guard('metadata.delete', () => this.inner.delete(key));
  }
  grantLease(ttlMs: number): Promise<{ id: LeaseId; ttlMs: number }> {
    return this.fuse.guard('metadata.grantLease', () => this.inner.grantLease(ttlMs));
  }
  keepAlive(id: LeaseId): Promise<{ ttlMs: number }> {
    return this.fuse.guard('metadata.keepAlive', () => this.inner.keepAlive(id));
  }
  revokeLease(id: LeaseId): Promise<void> {
    return this.fuse.guard('metadata.revokeLease', () => this.inner.revokeLease(id));
  }
  watch(prefix: string, options?: WatchOptions): Watch {
    return this.inner.watch(prefix, options);
  }
  revision(): Promise<number> {
    return this.fuse.guard('metadata.revision', () => this.inner.revision());
  }
  /** Never closes the shared store (later incarnations use it). */
  close(): Promise<void> {
    return this.fuse.guard('metadata.close', () => Promise.resolve());
  }
}

/** Checks a delete before it reaches the store (the simulation's "may this go?" test). */
export type DeleteCheck = (key: string) => Promise<void>;

/** An object store whose calls stop at the cut. */
export class CuttableObjectStore implements ObjectStore {
  readonly description: string;

  constructor(
    private readonly inner: ObjectStore,
    private readonly fuse: Fuse,
    private readonly checkDelete?: DeleteCheck,
  ) {
    this.description = `cuttable(${inner.description})`;
  }

  get capabilities(): { readonly conditionalPut: boolean } {
    return this.inner.capabilities;
  }
  put(key: string, body: Buffer | readonly Buffer[], options?: PutOptions): Promise<ObjectInfo> {
    return this.fuse.guard(`object.put ${key}`, () => this.inner.put(key, body, options));
  }
  get(key: string, options?: GetOptions): Promise<Buffer> {
    return this.fuse.guard(`object.get ${key}`, () => this.inner.get(key, options));
  }
  head(key: string): Promise<ObjectInfo> {
    return this.fuse.guard(`object.head ${key}`, () => this.inner.head(key));
  }
  list(options?: ListOptions): Promise<ListPage> {
    return this.fuse.guard('object.list', () => this.inner.list(options));
  }
  delete(key: string): Promise<void> {
    return this.fuse.guard(`object.delete ${key}`, async () => {
      await this.checkDelete?.(key);
      return this.inner.delete(key);
    });
  }
  deleteMany(keys: readonly string[]): Promise<{ failed: { key: string; error: ObjectStoreError }[] }> {
    return this.fuse.guard(`object.deleteMany (${keys.length})`, async () => {
      for (const key of keys) await this.checkDelete?.(key);
      return this.inner.deleteMany(keys);
    });
  }
  /** Never closes the shared store. */
  close(): Promise<void> {
    return this.fuse.guard('object.close', () => Promise.resolve());
  }
}
