/**
 * Fault scenarios that need the maintenance API: a long object-store outage (uploads retry
 * without limit), crashes at the points around upload, commit, WAL trim and compaction (with
 * orphans collected after the prepared timeout), and readers across a compaction that removed
 * their objects. Run on memory by stream-faults.test.ts and on moto by stream-faults-s3.test.ts.
 */
import { join } from 'node:path';
import { FileWal, openNodeWalFile } from '@tributary/wal';
import { expect } from 'vitest';
import type { Txn } from '../../src/metadata/types.ts';
import type { ObjectStore } from '../../src/object-store/types.ts';
import { StreamStore } from '../../src/stream/store.ts';
import type { Stream } from '../../src/stream/stream.ts';
import { FaultyObjectStore } from '../../src/testing/index.ts';
import { isObjectCommit } from './cut.ts';
import { DEFAULT_STORE_OPTIONS, Proc, tempDir, WAL_FILE_BYTES } from './env.ts';
import { HoldingObjectStore } from './hold.ts';
import { expectCommittedExactly, listKeys, references, unreferencedKeys } from './inspect.ts';
import {
  appendMany,
  expectStreamMatches,
  Ledger,
  openAll,
  type ReadStats,
  readAll,
  rngOf,
  waitFor,
} from './workload.ts';

const IDS = [1, 2, 4, 7] as const;

/** A clock the test moves by hand (starts at a realistic wall-clock time). */
export class ManualClock {
  t = 1_700_000_000_000;
  now(): number {
    return this.t;
  }
}

/** True when `txn` drops a `garbage/` record (the collector, after deleting its object). */
function dropsGarbageRecord(txn: Txn): boolean {
  return (txn.success ?? []).some((op) => op.type === 'delete' && op.key.startsWith('garbage/'));
}

/** Every committed object exists in the store. */
async function expectNoMissingObjects(store: ObjectStore, proc: Proc): Promise<void> {
  const have = new Set(await listKeys(store));
  for (const k of (await references(proc.metaStore)).live) expect(have.has(k), `missing ${k}`).toBe(true);
}

async function expectAll(proc: Proc, ledger: Ledger, epoch: number, stats?: ReadStats): Promise<void> {
  for (const s of await openAll(proc.store, IDS, epoch)) {
    expect(s.committedOffset).toBe(ledger.end(s.id));
    await expectStreamMatches(s, ledger, stats);
    await expectCommittedExactly(proc.metaStore, s.id, ledger.end(s.id));
  }
}

/**
 * The object store answers every call with 503/429/resets for `outageMs` (far longer than the
 * old six-attempt backoff of ~0.3 s): the store must not fail; appends go on (from the cache),
 * and once the store is back everything commits.
 */
export async function longOutage(
  base: ObjectStore,
  seed: number,
  outageMs: number,
): Promise<{ putFaults: number; recoverMs: number }> {
  const dir = await tempDir('outage');
  const faulty = new FaultyObjectStore(base, { seed, latencyMs: { min: 0, max: 2 } });
  const rng = rngOf(seed);
  const ledger = new Ledger();
  let proc = await Proc.start({ dir, objectStore: faulty });
  try {
    const streams = await openAll(proc.store, IDS, 1);
    await appendMany(streams, rng, ledger, { batches: 60, window: 8, minBytes: 1, maxBytes: 2000, tag: 'a' });
    await proc.store.flush();
    const committed = new Map(streams.map((s) => [s.id, s.committedOffset]));
    // Outage: every call fails, a mix of kinds.
    const removers = [
      faulty.addRule({ fault: 'reset', probability: 0.3 }),
      faulty.addRule({ fault: 'throttle', probability: 0.3 }),
      faulty.addRule({ fault: 'slow-down' }),
    ];
    const putFaultsBefore = faulty.counters.put.faults;
    await appendMany(streams, rng, ledger, { batches: 50, window: 8, minBytes: 1, maxBytes: 2000, tag: 'b' });
    expect(ledger.failures).toEqual([]);
    let flushError: unknown;
    let flushed = false;
    const flush = proc.store.flush().then(
      () => {
        flushed = true;
      },
      (err: unknown) => {
        flushError = err;
      },
    );
    const until = Date.now() + outageMs;
    while (Date.now() < until) {
      expect(proc.store.error).toBeUndefined();
      expect(flushError).toBeUndefined();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(flushed).toBe(false);
    // Uploads kept trying; nothing was committed; the new data is served from the cache.
    const putFaults = faulty.counters.put.faults - putFaultsBefore;
    expect(putFaults).toBeGreaterThanOrEqual(6); // the old limit; the store is still up (checked above)
    for (const s of streams) {
      expect(s.committedOffset).toBe(committed.get(s.id));
      const fromCache = await readAll(s, committed.get(s.id)!, 8 * 1024, 0);
      expect(fromCache.length).toBe(
        ledger.byStream.get(s.id)!.filter((a) => a.baseOffset >= committed.get(s.id)!).length,
      );
    }
    const back = Date.now();
    for (const remove of removers) remove();
    await flush;
    const recoverMs = Date.now() - back;
    expect(flushError).toBeUndefined();
    expect(proc.store.error).toBeUndefined();
    for (const s of streams) expect(s.committedOffset).toBe(s.endOffset);
    await proc.crash();
    proc = await Proc.start({ dir, objectStore: faulty });
    await expectAll(proc, ledger, 2);
    return { putFaults, recoverMs };
  } finally {
    await proc.stop().catch(() => {});
  }
}

/** Where {@link crashPoint} crashes the process. */
export type CrashPoint =
  | 'upload: after put, before commit'
  | 'upload: after commit, before WAL trim'
  | 'compaction: after put, before commit'
  | 'compaction: after commit, before garbage collection'
  | 'gc: after deleting an object, before dropping its record';

const PREPARED_TIMEOUT_MS = 60_000;
const RETENTION_MS = 120_000;

/**
 * Crashes at `point` (all I/O cut, the store halted), restarts over the same WAL file,
 * metadata directory and bucket, and checks: no acknowledged batch lost or duplicated, the
 * committed ranges tile every stream, no committed object missing; orphans (objects put but
 * never committed) and superseded objects are deleted by collectGarbage() once the prepared
 * timeout / retention window is over on the store clock, and not before.
 */
export async function crashPoint(
  base: ObjectStore,
  seed: number,
  point: CrashPoint,
): Promise<{ orphans: number; replayed: number; skipped: number; deleted: number }> {
  const dir = await tempDir('crash');
  const clock = new ManualClock();
  const storeOptions = {
    clock,
    preparedTimeoutMs: PREPARED_TIMEOUT_MS,
    garbageRetentionMs: RETENTION_MS,
    uploadIntervalMs: 0,
  };
  const faulty = new FaultyObjectStore(base, {
    seed,
    latencyMs: { min: 0, max: 2 },
    opRates: { put: { error: 0.1, afterWrite: 0.05 } },
  });
  const rng = rngOf(seed);
  const ledger = new Ledger();
  let proc = await Proc.start({ dir, objectStore: faulty, store: storeOptions });
  try {
    const streams = await openAll(proc.store, IDS, 1);
    // Several small objects (compaction has something to merge).
    for (let round = 0; round < 6; round++) {
      await appendMany(streams, rng, ledger, {
        batches: 12,
        window: 4,
        minBytes: 1,
        maxBytes: 1500,
        tag: `a${round}`,
      });
      await proc.store.flush();
    }
    const compaction = point.startsWith('compaction');
    const gc = point.startsWith('gc');
    if (gc) {
      // Garbage to collect: a compaction marks its inputs, the retention window passes.
      expect((await proc.store.compact()).inputObjects).toBeGreaterThan(1);
      clock.t += RETENTION_MS + 1;
    } else if (!compaction) {
      await appendMany(streams, rng, ledger, {
        batches: 30,
        window: 4,
        minBytes: 1,
        maxBytes: 1500,
        tag: 'b',
      });
    }
    expect(ledger.failures).toEqual([]);
    const after = point.includes('after commit');
    proc.metadata.hook = (txn, phase) => {
      const hit = gc
        ? dropsGarbageRecord(txn) && phase === 'before'
        : isObjectCommit(txn) && phase === (after ? 'after' : 'before');
      if (hit) proc.cut.cut();
    };
    const work = gc ? proc.store.collectGarbage() : compaction ? proc.store.compact() : proc.store.flush();
    work.catch(() => {}); // settles only with the halt, if at all
    await waitFor(() => proc.cut.isCut, 20_000, `the crash point (${point})`);
    await proc.crash();
    clock.t += 1_000;

    proc = await Proc.start({ dir, objectStore: faulty, store: storeOptions });
    const { replayed, skipped, dropped } = proc.store.recovery;
    expect(dropped).toBe(0);
    if (point === 'upload: after put, before commit') expect(replayed).toBeGreaterThan(0);
    if (point === 'upload: after commit, before WAL trim') expect(skipped).toBeGreaterThan(0);
    if (compaction || gc) expect(replayed + skipped).toBe(0);
    await expectAll(proc, ledger, 2);
    await expectNoMissingObjects(faulty, proc);

    // Left behind: the uncommitted output (prepared) or the compacted inputs (garbage).
    const left = await unreferencedKeys(faulty, proc.metaStore);
    const refs = await references(proc.metaStore);
    if (gc) {
      // One object is gone already, its record is not; the others wait with theirs.
      expect(refs.prepared.size).toBe(0);
      expect(left.length).toBeGreaterThan(0);
      for (const k of left) expect(refs.garbage.has(k)).toBe(true);
      expect(refs.garbage.size).toBe(left.length + 1);
    } else if (after) {
      expect(refs.prepared.size).toBe(0);
      if (compaction) expect(left.length).toBeGreaterThan(1);
      else expect(left).toEqual([]);
      for (const k of left) expect(refs.garbage.has(k)).toBe(true);
    } else {
      expect(left.length).toBeGreaterThan(0);
      for (const k of left) expect(refs.prepared.has(k), `orphan ${k} has a prepared record`).toBe(true);
    }
    if (!gc) {
      // Not yet: within the timeout / retention window nothing is deleted.
      const early = await proc.store.collectGarbage();
      expect(early).toEqual({ deletedObjects: 0, expiredPrepared: 0 });
      expect(await unreferencedKeys(faulty, proc.metaStore)).toEqual(left);
    }
    // Past it: everything left behind goes, and nothing else.
    clock.t += Math.max(PREPARED_TIMEOUT_MS, RETENTION_MS) + 1;
    const late = await proc.store.collectGarbage();
    expect(late.deletedObjects).toBe(gc ? refs.garbage.size : left.length);
    if (!after && !gc) expect(late.expiredPrepared).toBe(left.length);
    expect(await unreferencedKeys(faulty, proc.metaStore)).toEqual([]);
    const refsAfter = await references(proc.metaStore);
    expect(refsAfter.prepared.size + refsAfter.garbage.size).toBe(0);
    await expectNoMissingObjects(faulty, proc);
    await expectAll(proc, ledger, 3);
    // And the store still works: compaction, then a cold restart.
    await proc.store.compact();
    clock.t += RETENTION_MS + 1;
    await proc.store.collectGarbage();
    await proc.stop();
    proc = await Proc.start({ dir, objectStore: faulty, store: storeOptions });
    await expectAll(proc, ledger, 4);
    await expectNoMissingObjects(faulty, proc);
    expect(await unreferencedKeys(faulty, proc.metaStore)).toEqual([]);
    return { orphans: left.length, replayed, skipped, deleted: late.deletedObjects };
  } finally {
    await proc.stop().catch(() => {});
  }
}

/**
 * Readers of store A read while `by` (A itself or another store B on the same metadata and
 * bucket) compacts with garbageRetentionMs 0, so the objects A's reads point at are deleted
 * under them: reads must reload the ranges, retry and return exact data. First a read held at
 * its GET while a whole compaction and collection runs (it must meet the removed object), then
 * reads in a loop while compaction rounds run.
 */
export async function readersAcrossCompaction(
  base: ObjectStore,
  seed: number,
  by: 'same store' | 'other store',
): Promise<{ rounds: number; reads: number; notFound: number; inputObjects: number; outputObjects: number }> {
  const dir = await tempDir('compact');
  const rng = rngOf(seed);
  const ledger = new Ledger();
  const holding = new HoldingObjectStore(
    new FaultyObjectStore(base, { seed, latencyMs: { min: 0, max: 3 } }),
  );
  // Tiny block cache, no write-through: reads go to the object store.
  const readerOptions = {
    garbageRetentionMs: 0,
    blockCacheBytes: 1,
    writeThrough: false,
    uploadIntervalMs: 0,
  };
  const proc = await Proc.start({ dir, objectStore: holding, store: readerOptions });
  let other: StreamStore | undefined;
  let otherWal: FileWal | undefined;
  const appendRounds = async (n: number, tag: string, streams: Stream[]): Promise<void> => {
    for (let round = 0; round < n; round++) {
      await appendMany(streams, rng, ledger, {
        batches: 16,
        window: 4,
        minBytes: 1,
        maxBytes: 1500,
        tag: `${tag}${round}`,
      });
      await proc.store.flush();
    }
    expect(ledger.failures).toEqual([]);
  };
  try {
    const streams = await openAll(proc.store, IDS, 1);
    await appendRounds(8, 'a', streams);
    let compactor = proc.store;
    if (by === 'other store') {
      const otherDir = await tempDir('compact-b');
      otherWal = await FileWal.open({
        path: join(otherDir, 'wal'),
        file: await openNodeWalFile(join(otherDir, 'wal'), WAL_FILE_BYTES),
      });
      other = await StreamStore.start({
        ...DEFAULT_STORE_OPTIONS,
        nodeId: 'n2',
        wal: otherWal,
        objectStore: holding,
        metadata: proc.metaStore,
        garbageRetentionMs: 0,
      });
      compactor = other;
    }
    // Warm A's ranges and indexes: they point at the objects about to go.
    for (const s of streams) await expectStreamMatches(s, ledger);
    const notFoundBefore = proc.objects.getNotFound;

    // 1. A read held at its GET while a whole round compacts and deletes its object.
    holding.hold();
    const heldRead = expectStreamMatches(streams[0]!, ledger);
    await waitFor(() => holding.held > 0, 5_000, 'a held read');
    const first = await compactor.compact();
    expect(first.inputObjects).toBeGreaterThan(1);
    expect(await unreferencedKeys(holding, proc.metaStore)).toEqual([]); // inputs already deleted
    holding.release();
    await heldRead;
    expect(proc.objects.getNotFound - notFoundBefore).toBeGreaterThan(0);

    // 2. Reads in a loop while rounds of compaction (a few inputs each) run.
    await appendRounds(10, 'b', streams);
    let compacting = true;
    let rounds = 1;
    let inputObjects = first.inputObjects;
    let outputObjects = 0;
    const compactLoop = (async () => {
      try {
        for (let i = 0; i < 20; i++) {
          // Small stream-object threshold: streams get split into objects of their own too.
          const st = await compactor.compact({ inputObjectsMax: 3, streamObjectBytes: 8 * 1024 });
          outputObjects += st.outputObjects;
          rounds++;
          inputObjects += st.inputObjects;
          if (st.inputObjects === 0 && st.droppedObjects === 0) break;
        }
      } finally {
        compacting = false;
      }
    })();
    let reads = 0;
    while (compacting || reads < 2) {
      for (const s of streams) await expectStreamMatches(s, ledger);
      reads++;
    }
    await compactLoop;
    expect(rounds).toBeGreaterThan(3);
    expect(outputObjects).toBeGreaterThan(rounds - 1); // splits: more than one output per round
    for (const s of streams) {
      await expectStreamMatches(s, ledger);
      await expectCommittedExactly(proc.metaStore, s.id, ledger.end(s.id));
    }
    expect(await unreferencedKeys(holding, proc.metaStore)).toEqual([]);
    await expectNoMissingObjects(holding, proc);
    return {
      rounds,
      reads,
      notFound: proc.objects.getNotFound - notFoundBefore,
      inputObjects,
      outputObjects,
    };
  } finally {
    holding.release();
    await other?.close().catch(() => {});
    await otherWal?.close().catch(() => {});
    await proc.stop().catch(() => {});
  }
}
