/**
 * Everything at once: store A appends, uploads and compacts while store B (same metadata and
 * bucket, its own WAL) compacts too — two compactors racing over the same objects, with
 * garbageRetentionMs 0 so every superseded object is deleted at once — readers of A verify
 * every stream over and over, and the object store injects errors and latency. Then a crash of
 * A and a restart.
 */
import { join } from 'node:path';
import { FileWal, openNodeWalFile } from '@tributary/wal';
import { expect } from 'vitest';
import type { MetadataStore } from '../../src/metadata/types.ts';
import type { ObjectStore } from '../../src/object-store/types.ts';
import type { CompactionStats } from '../../src/stream/maintenance.ts';
import { StreamStore } from '../../src/stream/store.ts';
import type { Stream } from '../../src/stream/stream.ts';
import { FaultyObjectStore } from '../../src/testing/index.ts';
import { DEFAULT_STORE_OPTIONS, Proc, tempDir, WAL_FILE_BYTES } from './env.ts';
import { FaultyMetadata } from './faulty-metadata.ts';
import { expectCommittedExactly, listKeys, references, unreferencedKeys } from './inspect.ts';
import { appendMany, expectStreamMatches, Ledger, openAll, readAll, rngOf } from './workload.ts';

const IDS = [1, 2, 3, 4, 5, 6] as const;

/** Every batch acknowledged before the read started is read back, in order, byte-exact. */
async function expectAckedPrefix(s: Stream, ledger: Ledger): Promise<void> {
  const snapshot = [...(ledger.byStream.get(s.id) ?? [])];
  const got = await readAll(s, 0, 8 * 1024, 0);
  expect(got.length).toBeGreaterThanOrEqual(snapshot.length);
  const row = (a: { baseOffset: number; count: number; data: Buffer }) => [
    a.baseOffset,
    a.count,
    a.data.toString('hex'),
  ];
  expect(got.slice(0, snapshot.length).map(row)).toEqual(snapshot.map(row));
}

/** Totals of one busy run. */
export interface BusyStats {
  appended: number;
  reads: number;
  compactionsA: number;
  compactionsB: number;
  rewritten: number;
  conflicts: number;
}

/** Runs the busy scenario for about `ms` milliseconds of workload. */
export async function busyEverything(
  base: ObjectStore,
  seed: number,
  ms: number,
  /** Share of GETs slowed down by 5..40 ms (reads then span compactions). */
  slowReads = 0,
): Promise<BusyStats> {
  const dir = await tempDir('busy');
  const faulty = new FaultyObjectStore(base, {
    seed,
    latencyMs: { min: 0, max: 3 },
    slowReadMs: { min: 5, max: 40 },
    opRates: {
      put: { error: 0.1, reset: 0.05, afterWrite: 0.05 },
      get: { error: 0.02, slowRead: slowReads },
      delete: { error: 0.1 },
    },
  });
  const rng = rngOf(seed);
  const ledger = new Ledger();
  // Every collection also sweeps orphans (listing the prefix) while uploads and compactions commit.
  const timing = {
    garbageRetentionMs: 0,
    uploadIntervalMs: 30,
    blockCacheBytes: 64 * 1024,
    orphanSweepIntervalMs: 0,
  };
  // Metadata latency widens the windows between a store's reads and others' commits.
  const slowMetadata = (m: MetadataStore, salt: number) =>
    new FaultyMetadata(m, { maxLatencyMs: 2 }, seed + salt);
  const options = {
    dir,
    objectStore: faulty,
    store: timing,
    wrapMetadata: (m: MetadataStore) => slowMetadata(m, 1),
  };
  let proc = await Proc.start(options);
  const otherDir = await tempDir('busy-b');
  const otherWal = await FileWal.open({
    path: join(otherDir, 'wal'),
    file: await openNodeWalFile(join(otherDir, 'wal'), WAL_FILE_BYTES),
  });
  const other = await StreamStore.start({
    ...DEFAULT_STORE_OPTIONS,
    ...timing,
    nodeId: 'n2',
    wal: otherWal,
    objectStore: faulty,
    metadata: slowMetadata(proc.metaStore, 2),
  });
  const stats: BusyStats = {
    appended: 0,
    reads: 0,
    compactionsA: 0,
    compactionsB: 0,
    rewritten: 0,
    conflicts: 0,
  };
  try {
    const streams = await openAll(proc.store, IDS, 1);
    const until = Date.now() + ms;
    const count = (st: CompactionStats): void => {
      stats.rewritten += st.inputObjects;
      stats.conflicts += st.conflicts;
    };
    const compactor = async (store: StreamStore, key: 'compactionsA' | 'compactionsB'): Promise<void> => {
      while (Date.now() < until) {
        count(await store.compact({ inputObjectsMax: 3, streamObjectBytes: 16 * 1024 }));
        stats[key]++;
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const reader = async (): Promise<void> => {
      while (Date.now() < until) {
        for (const s of streams) await expectAckedPrefix(s, ledger);
        stats.reads++;
        // Cache reads settle in microtasks only: yield, or the WAL's I/O never runs.
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    const writer = async (): Promise<void> => {
      let round = 0;
      // Bounded, so that the final verifications stay short whatever the machine's speed.
      while (Date.now() < until && ledger.count < 1500) {
        await appendMany(streams, rng, ledger, {
          batches: 20,
          window: 8,
          minBytes: 1,
          maxBytes: 2000,
          tag: `w${round++}`,
        });
        if (round % 3 === 0) await proc.store.flush();
      }
    };
    await Promise.all([
      writer(),
      reader(),
      compactor(proc.store, 'compactionsA'),
      compactor(other, 'compactionsB'),
    ]);
    stats.appended = ledger.count;
    expect(ledger.failures).toEqual([]);
    expect(proc.store.error).toBeUndefined();
    expect(other.error).toBeUndefined();
    await proc.store.flush();
    for (const s of streams) {
      await expectStreamMatches(s, ledger);
      await expectCommittedExactly(proc.metaStore, s.id, ledger.end(s.id));
    }
    expect(stats.rewritten).toBeGreaterThan(0);
    await proc.crash();
    proc = await Proc.start(options);
    for (const s of await openAll(proc.store, IDS, 2)) {
      await expectStreamMatches(s, ledger);
      await expectCommittedExactly(proc.metaStore, s.id, ledger.end(s.id));
    }
    await proc.store.collectGarbage();
    const have = new Set(await listKeys(faulty));
    for (const k of (await references(proc.metaStore)).live) expect(have.has(k), `missing ${k}`).toBe(true);
    expect(await unreferencedKeys(faulty, proc.metaStore)).toEqual([]);
    return stats;
  } finally {
    await other.close().catch(() => {});
    await otherWal.close().catch(() => {});
    await proc.stop().catch(() => {});
  }
}
