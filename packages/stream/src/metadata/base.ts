/**
 * The store logic shared by the memory and embedded backends: a write queue (one write at a
 * time, so each transaction sees every earlier one), lease expiry, watches. Backends provide
 * `persist` (make a record durable before it is applied) and `closeResources`.
 */
import { systemMetadataClock } from './clock.ts';
import { type CommitRecord, MetadataModel, type PlannedRecord } from './model.ts';
import {
  type KeyValue,
  type LeaseId,
  type MetadataClock,
  MetadataError,
  type MetadataStore,
  type RangeOptions,
  type RangePage,
  type Txn,
  type TxnResult,
  type Watch,
  type WatchOptions,
} from './types.ts';
import { checkKey, checkPrefix, checkTxn, rangeLimit } from './validate.ts';
import { BufferedWatch } from './watch.ts';

/** Options shared by the memory and embedded backends. */
export interface LocalStoreOptions {
  /** Time source for lease expiry (default: the monotonic process clock). */
  clock?: MetadataClock;
  /** How often due leases are looked for in the background; 0 disables the timer (default 100). */
  leaseCheckIntervalMs?: number;
  /** Events a watcher may have unread before it is cut off with 'compacted' (default 4096). */
  watchBufferEventsMax?: number;
  /** Events kept for watches that start at an older revision (default 10000). */
  historyEventsMax?: number;
  /** Watches open at once (default 1024); more is 'unavailable'. */
  watchersMax?: number;
  /** Writes waiting for the write queue (default 10000); more is 'unavailable'. */
  pendingWritesMax?: number;
  /** Bytes of event values kept for watch history (default 16 MiB). */
  historyBytesMax?: number;
}

/** Longest lease TTL accepted (a day). */
export const LEASE_TTL_MS_MAX = 86_400_000;

export abstract class LocalMetadataStore implements MetadataStore {
  abstract readonly description: string;
  protected readonly clock: MetadataClock;
  private queue: Promise<unknown> = Promise.resolve();
  private closing = false;
  private closedPromise: Promise<void> | undefined;
  private failure: MetadataError | undefined;
  private readonly watchers = new Set<BufferedWatch>();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly watchBufferEventsMax: number;
  private readonly watchersMax: number;
  private readonly pendingWritesMax: number;
  private pendingWrites = 0;

  protected constructor(
    protected readonly model: MetadataModel,
    options: LocalStoreOptions,
  ) {
    this.clock = options.clock ?? systemMetadataClock;
    this.watchBufferEventsMax = options.watchBufferEventsMax ?? 4096;
    this.watchersMax = options.watchersMax ?? 1024;
    this.pendingWritesMax = options.pendingWritesMax ?? 10_000;
    const interval = options.leaseCheckIntervalMs ?? 100;
    if (interval > 0) {
      this.timer = setInterval(() => {
        if (this.leaseDue()) this.write(() => undefined).catch(() => {});
      }, interval);
      this.timer.unref();
    }
  }

  /** A model configured from the options (for subclasses' factories). */
  static newModel(options: LocalStoreOptions): MetadataModel {
    return new MetadataModel(options.historyEventsMax ?? 10_000, options.historyBytesMax ?? 16 * 1024 * 1024);
  }

  /** Make `record` durable before it is applied. Throwing fails (and closes) the store. */
  protected abstract persist(record: CommitRecord): Promise<void>;
  /** Called in the write queue after each applied record (e.g. to take a snapshot). */
  protected async afterCommit(): Promise<void> {}
  /** Release files, locks and the like; called once by `close`. */
  protected abstract closeResources(): Promise<void>;

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.closing) throw new MetadataError('closed', `${this.description} is closed`);
  }

  private leaseDue(): boolean {
    const now = this.clock.now();
    for (const lease of this.model.leases.values()) if (lease.deadlineMs <= now) return true;
    return false;
  }

  /** Run `fn` in the write queue, after ending every due lease. */
  protected write<T>(fn: () => T | Promise<T>): Promise<T> {
    this.check();
    if (this.pendingWrites >= this.pendingWritesMax) {
      return Promise.reject(
        new MetadataError('unavailable', `${this.description}: ${this.pendingWrites} writes queued`),
      );
    }
    this.pendingWrites++;
    const run = async (): Promise<T> => {
      try {
        if (this.failure !== undefined) throw this.failure;
        await this.expireDue();
        return await fn();
      } finally {
        this.pendingWrites--;
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  private async expireDue(): Promise<void> {
    const now = this.clock.now();
    const due = [...this.model.leases].filter(([, l]) => l.deadlineMs <= now).map(([id]) => id);
    for (const id of due) await this.apply(this.model.planLeaseEnd(id));
  }

  /** Persist then apply a planned record, and feed its events to the watches. */
  private async apply(planned: PlannedRecord): Promise<void> {
    const record: CommitRecord = { seq: this.model.seq + 1, ...planned };
    try {
      await this.persist(record);
    } catch (cause) {
      this.failure = new MetadataError('closed', `${this.description} failed to persist a write and closed`, {
        cause,
      });
      this.closeNow().catch(() => {});
      throw new MetadataError('unavailable', `${this.description}: write failed: ${String(cause)}`, {
        cause,
      });
    }
    const events = this.model.commit(record, this.clock.now());
    if (events.length > 0) for (const w of this.watchers) w.offer(events);
    try {
      await this.afterCommit();
    } catch (cause) {
      // The record is durable and applied; the store cannot keep its files in order any more.
      this.failure = new MetadataError('closed', `${this.description} failed after a write and closed`, {
        cause,
      });
      this.closeNow().catch(() => {});
    }
  }

  /** Reads wait for the queue only when a lease is due (its keys must be gone first). */
  private async beforeRead(): Promise<void> {
    this.check();
    if (this.leaseDue()) await this.write(() => undefined);
  }

  async get(key: string): Promise<KeyValue | undefined> {
    checkKey(key);
    await this.beforeRead();
    return this.model.get(key);
  }

  async range(prefix: string, options?: RangeOptions): Promise<RangePage> {
    checkPrefix(prefix);
    const limit = rangeLimit(options);
    await this.beforeRead();
    return { ...this.model.range(prefix, limit, options?.after), revision: this.model.revision };
  }

  async revision(): Promise<number> {
    await this.beforeRead();
    return this.model.revision;
  }

  async txn(txn: Txn): Promise<TxnResult> {
    checkTxn(txn);
    return this.write(async () => {
      const { result, record } = this.model.plan(txn);
      if (record !== undefined) await this.apply(record);
      return result;
    });
  }

  async put(key: string, value: Buffer, options?: { lease?: LeaseId }): Promise<{ revision: number }> {
    const lease = options?.lease;
    const r = await this.txn({
      success: [{ type: 'put', key, value, ...(lease !== undefined && { lease }) }],
    });
    return { revision: r.revision };
  }

  async delete(key: string): Promise<{ revision: number; deleted: number }> {
    const r = await this.txn({ success: [{ type: 'delete', key }] });
    const first = r.results[0];
    return { revision: r.revision, deleted: first?.type === 'delete' ? first.deleted : 0 };
  }

  async grantLease(ttlMs: number): Promise<{ id: LeaseId; ttlMs: number }> {
    if (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > LEASE_TTL_MS_MAX) {
      throw new MetadataError(
        'invalid',
        `lease TTL must be an integer in [1, ${LEASE_TTL_MS_MAX}] ms, got ${ttlMs}`,
      );
    }
    return this.write(async () => {
      const record = this.model.planLeaseGrant(ttlMs);
      await this.apply(record);
      return { id: record.leaseGrants[0]!.id, ttlMs };
    });
  }

  async keepAlive(id: LeaseId): Promise<{ ttlMs: number }> {
    return this.write(() => {
      const lease = this.model.leases.get(id);
      if (lease === undefined)
        throw new MetadataError('not-found', `lease ${id} does not exist or has expired`);
      lease.deadlineMs = this.clock.now() + lease.ttlMs;
      return { ttlMs: lease.ttlMs };
    });
  }

  async revokeLease(id: LeaseId): Promise<void> {
    await this.write(() => this.apply(this.model.planLeaseEnd(id)));
  }

  watch(prefix: string, options?: WatchOptions): Watch {
    checkPrefix(prefix);
    this.check();
    if (this.watchers.size >= this.watchersMax) {
      throw new MetadataError('unavailable', `${this.description}: more than ${this.watchersMax} watches`);
    }
    const from = options?.fromRevision;
    if (from !== undefined && (!Number.isInteger(from) || from < 0)) {
      throw new MetadataError('invalid', `watch fromRevision must be a non-negative integer, got ${from}`);
    }
    const start = from === undefined || from === 0 ? this.model.revision + 1 : from;
    const w = new BufferedWatch(prefix, this.watchBufferEventsMax, (x) => this.watchers.delete(x), start);
    this.watchers.add(w);
    if (start <= this.model.revision) {
      if (start < this.model.historyStart) {
        const oldest = this.model.historyStart;
        w.fail(
          new MetadataError(
            'compacted',
            `revision ${start} is older than the retained history (from ${oldest})`,
            {
              revision: start,
            },
          ),
        );
      } else {
        // Offer history one revision at a time, as live events are.
        const events = this.model.eventsSince(start);
        let i = 0;
        while (i < events.length) {
          let j = i;
          while (j < events.length && events[j]!.revision === events[i]!.revision) j++;
          w.offer(events.slice(i, j));
          i = j;
        }
      }
    }
    return w;
  }

  private closeNow(): Promise<void> {
    if (this.closedPromise === undefined) {
      this.closing = true;
      if (this.timer !== undefined) clearInterval(this.timer);
      this.closedPromise = (async () => {
        await this.queue;
        const err = new MetadataError('closed', `${this.description} is closed`);
        for (const w of [...this.watchers]) w.fail(err);
        await this.closeResources();
      })();
    }
    return this.closedPromise;
  }

  close(): Promise<void> {
    return this.closeNow();
  }
}
