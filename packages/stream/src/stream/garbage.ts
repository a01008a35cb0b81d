/**
 * The garbage collector of the stream layer's objects (two-phase deletion): objects marked in
 * `garbage/` are deleted once their delete time has passed, prepared objects never committed
 * become garbage after a timeout, and an occasional sweep deletes objects no record names.
 */
import type { MetadataStore } from '../metadata/types.ts';
import { parseObjectKey } from '../object-format/keys.ts';
import type { ObjectStore } from '../object-store/types.ts';
import {
  decodePendingRecord,
  encodePendingRecord,
  GARBAGE_PREFIX,
  garbageKey,
  OBJECTS_PREFIX,
  PREPARED_PREFIX,
  parseObjectRecordKey,
} from './codec.ts';
import type { ObjectReader } from './object-reads.ts';
import { retryForever } from './state.ts';

/** What one garbage collection did. */
export interface GarbageStats {
  /** Marked objects deleted from the object store (retention window over). */
  deletedObjects: number;
  /** Prepared objects older than the timeout turned into garbage. */
  expiredPrepared: number;
}

/** What the collector needs from its store. */
export interface GarbageDeps {
  metadata: MetadataStore;
  objectStore: ObjectStore;
  reader: ObjectReader;
  objectKeyPrefix: string;
  now(): number;
  preparedTimeoutMs: number;
  /** How often collectGarbage also sweeps orphaned objects (lists the whole prefix). */
  orphanSweepIntervalMs: number;
  stopped(): Error | undefined;
}

/** Every key/value under `prefix` (paged; transient failures retried). */
export async function rangeAll(
  d: Pick<GarbageDeps, 'metadata' | 'stopped'>,
  prefix: string,
): Promise<{ key: string; value: Buffer }[]> {
  const out: { key: string; value: Buffer }[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await retryForever(
      () => d.metadata.range(prefix, after === undefined ? {} : { after }),
      () => d.stopped(),
    );
    for (const kv of page.kvs) out.push({ key: kv.key, value: kv.value });
    if (!page.more || page.kvs.length === 0) return out;
    after = page.kvs[page.kvs.length - 1]!.key;
  }
}

export class GarbageCollector {
  constructor(private readonly d: GarbageDeps) {}

  /**
   * Deletes objects of the store that no metadata record names: a PUT that landed after the
   * collector had expired its prepared record, with a crash before its writer deleted it.
   * Objects are listed before the records are read: an object's record (prepared, committed
   * or garbage) exists from before its PUT until after its deletion, so an object listed
   * first and named by no record read after is an orphan.
   */
  async sweepOrphans(): Promise<{ deletedObjects: number }> {
    const prefix = this.d.objectKeyPrefix;
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.retry(() =>
        this.d.objectStore.list({
          prefix: prefix === '' ? '' : `${prefix}/`,
          ...(token ? { continuationToken: token } : {}),
        }),
      );
      for (const o of page.objects) keys.push(o.key);
      token = page.continuationToken;
    } while (token !== undefined);
    // Records move only forward, prepared/ → objects/ → garbage/ (→ gone, after the object):
    // reading the prefixes in that order sees every id that existed before the listing at
    // least once, whatever commits or compactions run in between.
    const named = new Set<number>();
    for (const kv of await rangeAll(this.d, PREPARED_PREFIX))
      named.add(Number(kv.key.slice(PREPARED_PREFIX.length)));
    for (const kv of await rangeAll(this.d, OBJECTS_PREFIX)) named.add(parseObjectRecordKey(kv.key).objectId);
    for (const kv of await rangeAll(this.d, GARBAGE_PREFIX))
      named.add(Number(kv.key.slice(GARBAGE_PREFIX.length)));
    let deletedObjects = 0;
    for (const key of keys) {
      const id = parseObjectKey(prefix, key);
      if (id === null || named.has(id)) continue;
      await this.retry(() => this.d.objectStore.delete(key));
      deletedObjects++;
    }
    this.lastSweep = this.d.now();
    return { deletedObjects };
  }

  private lastSweep: number | undefined;

  /**
   * Deletes marked objects whose retention window is over, and turns prepared objects older
   * than the timeout into garbage (deleted in the same call); sweeps orphans every
   * `orphanSweepIntervalMs`.
   */
  async collectGarbage(): Promise<GarbageStats> {
    const stats: GarbageStats = { deletedObjects: 0, expiredPrepared: 0 };
    const now = this.d.now();
    this.lastSweep ??= now;
    if (now - this.lastSweep >= this.d.orphanSweepIntervalMs) {
      stats.deletedObjects += (await this.sweepOrphans()).deletedObjects;
    }
    for (const kv of await rangeAll(this.d, PREPARED_PREFIX)) {
      const rec = decodePendingRecord(kv.value);
      if (now - rec.at < this.d.preparedTimeoutMs) continue;
      const objectId = Number(kv.key.slice(PREPARED_PREFIX.length));
      const res = await this.retry(() =>
        this.d.metadata.txn({
          compare: [{ key: kv.key, target: 'value', op: '==', value: kv.value }],
          success: [
            { type: 'delete', key: kv.key },
            { type: 'put', key: garbageKey(objectId), value: encodePendingRecord({ key: rec.key, at: 0 }) },
          ],
        }),
      );
      if (res.succeeded) stats.expiredPrepared++;
    }
    for (const kv of await rangeAll(this.d, GARBAGE_PREFIX)) {
      const rec = decodePendingRecord(kv.value);
      if (now < rec.at) continue;
      await this.retry(() => this.d.objectStore.delete(rec.key));
      await this.retry(() =>
        this.d.metadata.txn({
          compare: [{ key: kv.key, target: 'value', op: '==', value: kv.value }],
          success: [{ type: 'delete', key: kv.key }],
        }),
      );
      this.d.reader.forgetObject(Number(kv.key.slice(GARBAGE_PREFIX.length)));
      stats.deletedObjects++;
    }
    return stats;
  }

  private retry<T>(fn: () => Promise<T>): Promise<T> {
    return retryForever(fn, () => this.d.stopped());
  }
}
