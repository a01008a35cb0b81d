/**
 * Fault scenarios over the whole stream layer, run by stream-faults.test.ts on a
 * MemoryObjectStore and by stream-faults-s3.test.ts on moto. Each takes the base object store
 * (a fresh one, or a fresh prefix of a bucket) and sizes; every process runs on a FileWal and
 * an EmbeddedMetadataStore in a temp directory.
 */
import { expect } from 'vitest';
import { objectKey } from '../../src/object-format/keys.ts';
import type { ObjectStore } from '../../src/object-store/types.ts';
import { FaultyObjectStore } from '../../src/testing/index.ts';
import { Proc, tempDir } from './env.ts';
import { cacheStats, expectCommittedExactly } from './inspect.ts';
import {
  appendMany,
  appendOne,
  expectStreamMatches,
  Ledger,
  makeBatch,
  openAll,
  type ReadStats,
  rngOf,
  waitFor,
} from './workload.ts';

/** Sizes of a scenario (smaller on moto, which is slower). */
export interface Scale {
  /** Batches appended in the first phase. */
  batches: number;
  /** Largest batch in bytes. */
  maxBytes: number;
}

const STREAM_IDS = [1, 2, 3, 5, 8] as const;

/** Checks every stream against the ledger and the committed ranges in the metadata. */
async function expectAllCommitted(
  proc: Proc,
  ledger: Ledger,
  epoch: number,
  stats: ReadStats,
): Promise<void> {
  const streams = await openAll(proc.store, STREAM_IDS, epoch);
  for (const s of streams) {
    expect(s.committedOffset).toBe(ledger.end(s.id));
    await expectStreamMatches(s, ledger, stats);
    await expectCommittedExactly(proc.metaStore, s.id, ledger.end(s.id));
  }
}

/**
 * 503/429, connection resets, failures after the write and latency on every upload (and on
 * reads): every acknowledged append is readable byte-exact, in order, once — from the cache,
 * after a flush, and after a crash and restart that replays the WAL under the same faults.
 */
export async function errorsDuringUploads(
  base: ObjectStore,
  seed: number,
  scale: Scale,
): Promise<{
  faults: Record<string, number>;
  putFaults: number;
  getFaults: number;
  replayed: number;
  reads: ReadStats;
}> {
  const dir = await tempDir('errors');
  const faulty = new FaultyObjectStore(base, {
    seed,
    latencyMs: { min: 0, max: 3 },
    opRates: {
      // Uploads retry without limit: a high rate only slows them down.
      put: { error: 0.2, reset: 0.08, afterWrite: 0.1 },
      get: { error: 0.04, reset: 0.02, slowRead: 0.04 },
    },
    slowReadMs: { min: 1, max: 10 },
    // Besides the seeded rates, one of each kind for sure, on the puts of objects 2 to 5.
    rules: (['after-write', 'reset', 'throttle', 'slow-down'] as const).map((fault, i) => ({
      op: 'put' as const,
      keyPrefix: objectKey('objects', 2 + i),
      fault,
      failNext: 1,
    })),
  });
  const rng = rngOf(seed);
  const ledger = new Ledger();
  const stats: ReadStats = { fetches: 0, retried: 0 };
  let proc = await Proc.start({ dir, objectStore: faulty });
  try {
    const streams = await openAll(proc.store, STREAM_IDS, 1);
    await appendMany(streams, rng, ledger, {
      batches: scale.batches,
      window: 32,
      minBytes: 1,
      maxBytes: scale.maxBytes,
      tag: 'a',
    });
    expect(ledger.failures).toEqual([]);
    for (const s of streams) await expectStreamMatches(s, ledger, stats);
    await proc.store.flush();
    expect(proc.store.error).toBeUndefined();
    for (const s of streams) {
      expect(s.committedOffset).toBe(s.endOffset);
      await expectStreamMatches(s, ledger, stats);
    }
    // The faults really hit the upload path.
    expect(faulty.counters.put.faults).toBeGreaterThanOrEqual(4);
    for (const kind of ['after-write', 'reset', 'throttle', 'slow-down'] as const) {
      expect(faulty.log.some((f) => f.op === 'put' && f.kind === kind)).toBe(true);
    }

    // Uploads hang (a stalled store) while more is appended, then the process crashes: the
    // restart must replay these from the WAL and upload them under the same faults.
    faulty.stall();
    await appendMany(streams, rng, ledger, {
      batches: Math.ceil(scale.batches / 4),
      window: 16,
      minBytes: 1,
      maxBytes: scale.maxBytes,
      tag: 'b',
    });
    expect(ledger.failures).toEqual([]);
    proc.cut.cut();
    faulty.resume(); // calls held by the stall now reach the store: a late PUT is an orphan
    await proc.crash();

    proc = await Proc.start({ dir, objectStore: faulty });
    const replayed = proc.store.recovery.replayed;
    expect(replayed).toBeGreaterThan(0);
    expect(proc.store.recovery.dropped).toBe(0);
    await expectAllCommitted(proc, ledger, 2, stats);

    // A clean restart finds nothing to replay and reads everything from objects.
    await proc.stop();
    proc = await Proc.start({ dir, objectStore: faulty });
    expect(proc.store.recovery).toEqual({ replayed: 0, skipped: 0, dropped: 0 });
    await expectAllCommitted(proc, ledger, 3, stats);
    expect(faulty.counters.get.faults).toBeGreaterThan(0); // reads met injected faults too
    return {
      faults: { ...faulty.faultsByKind },
      putFaults: faulty.counters.put.faults,
      getFaults: faulty.counters.get.faults,
      replayed,
      reads: stats,
    };
  } finally {
    await proc.stop().catch(() => {});
  }
}

/**
 * Backpressure while uploads stall: appends go on until the log cache holds cacheBytesMax,
 * then wait — memory stays within the bound, nothing fails, however long the stall. Once the
 * store resumes every append resolves and everything is readable, also after a restart.
 */
export async function backpressureWhileStalled(
  base: ObjectStore,
  seed: number,
  o: { appends: number; holdMs: number },
): Promise<{ maxCacheBytes: number; ackedWhileStalled: number }> {
  const dir = await tempDir('stall');
  const cacheBytesMax = 64 * 1024;
  const faulty = new FaultyObjectStore(base, { seed, latencyMs: { min: 0, max: 2 } });
  const rng = rngOf(seed);
  const ledger = new Ledger();
  const stats: ReadStats = { fetches: 0, retried: 0 };
  let proc = await Proc.start({
    dir,
    objectStore: faulty,
    store: { cacheBytesMax, uploadBytesThreshold: 8 * 1024, blockBytesTarget: 2 * 1024 },
  });
  try {
    const streams = await openAll(proc.store, STREAM_IDS.slice(0, 3), 1);
    await appendMany(streams, rng, ledger, {
      batches: 40,
      window: 8,
      minBytes: 100,
      maxBytes: 2000,
      tag: 'a',
    });
    await proc.store.flush();
    expect(cacheStats(proc.store).bytes).toBe(0);

    faulty.stall();
    const before = ledger.count;
    const bytesBefore = ledger.bytes;
    const all: Promise<void>[] = [];
    for (let i = 0; i < o.appends; i++) {
      const s = streams[i % streams.length]!;
      all.push(appendOne(s, makeBatch(rng, `s-${s.id}-${i}`, 1024, 2048), 1 + (i % 3), ledger));
    }
    // Appends resolve until the cache is full, then stop.
    let maxCacheBytes = 0;
    const sample = (): void => {
      const st = cacheStats(proc.store);
      maxCacheBytes = Math.max(maxCacheBytes, st.bytes + st.reservedBytes);
    };
    let last = -1;
    let stableSince = Date.now();
    await waitFor(
      () => {
        sample();
        if (ledger.count !== last) {
          last = ledger.count;
          stableSince = Date.now();
        }
        return Date.now() - stableSince > 300 && cacheStats(proc.store).waiters > 0;
      },
      10_000,
      'appends to stop resolving',
    );
    const ackedWhileStalled = ledger.count - before;
    expect(ackedWhileStalled).toBeGreaterThan(0);
    expect(ackedWhileStalled).toBeLessThan(o.appends);
    // The cache was empty when the stall began: what was acknowledged since fits in it.
    expect(ledger.bytes - bytesBefore).toBeLessThanOrEqual(cacheBytesMax);
    expect(faulty.stalledCalls).toBeGreaterThan(0);
    // Hold the stall: nothing fails, nothing more is acknowledged, memory stays bounded.
    const holdUntil = Date.now() + o.holdMs;
    while (Date.now() < holdUntil) {
      sample();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(ledger.count - before).toBe(ackedWhileStalled);
    expect(ledger.failures).toEqual([]);
    expect(proc.store.error).toBeUndefined();
    expect(maxCacheBytes).toBeLessThanOrEqual(cacheBytesMax);

    faulty.resume();
    await Promise.all(all);
    expect(ledger.failures).toEqual([]);
    expect(ledger.count - before).toBe(o.appends);
    for (const s of streams) await expectStreamMatches(s, ledger, stats);
    await proc.store.flush();
    sample();
    expect(maxCacheBytes).toBeLessThanOrEqual(cacheBytesMax);
    for (const s of streams) {
      expect(s.committedOffset).toBe(s.endOffset);
      await expectStreamMatches(s, ledger, stats);
    }
    await proc.crash();
    proc = await Proc.start({ dir, objectStore: faulty });
    for (const s of await openAll(proc.store, STREAM_IDS.slice(0, 3), 2)) {
      await expectStreamMatches(s, ledger, stats);
      await expectCommittedExactly(proc.metaStore, s.id, ledger.end(s.id));
    }
    return { maxCacheBytes, ackedWhileStalled };
  } finally {
    await proc.stop().catch(() => {});
  }
}
