/**
 * Power loss under the stream layer: the FileWal runs on the WAL package's FaultyFile (a disk
 * behind a volatile page cache), appends and uploads run concurrently, and at a seeded moment
 * the power goes: un-synced writes survive in part, the last one is torn, and object-store and
 * metadata I/O stop at the same instant. A new store over the crash image must hold every
 * acknowledged batch, exactly once, and beyond them only batches that were really appended,
 * in their order, without gaps.
 */
import { FileWal } from '@tributary/wal';
import { type CrashOptions, FaultyFile } from '@tributary/wal/testing';
import { expect } from 'vitest';
import { MemoryMetadataStore } from '../../src/metadata/memory.ts';
import { MemoryObjectStore } from '../../src/object-store/memory.ts';
import type { ObjectStore } from '../../src/object-store/types.ts';
import { StreamStore } from '../../src/stream/store.ts';
import type { Stream } from '../../src/stream/stream.ts';
import { FaultyObjectStore } from '../../src/testing/index.ts';
import { Cut, CutMetadata, CutObjectStore } from './cut.ts';
import { DEFAULT_STORE_OPTIONS, Proc, tempDir } from './env.ts';
import { expectCommittedExactly } from './inspect.ts';
import {
  type Acked,
  appendOne,
  expectStreamMatches,
  Ledger,
  makeBatch,
  openAll,
  readAll,
  rngOf,
  waitFor,
} from './workload.ts';

const IDS = [1, 2, 3] as const;

function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
const FILE_BYTES = 4 * 1024 * 1024;

/** What a power-loss round found. */
export interface PowerLossStats {
  acked: number;
  attempted: number;
  /** Unacknowledged batches that survived (and are now part of the streams). */
  survivedUnacked: number;
  replayed: number;
  /** Writes not yet synced at the power loss, and how many of them survived. */
  unsynced: number;
  kept: number;
}

/** What survives of the writes not yet synced. */
export type PowerLossMode =
  | 'all unsynced writes survive'
  | 'half the sectors survive, one torn'
  | 'none survive';

const CRASH_MODES: Record<PowerLossMode, CrashOptions> = {
  'all unsynced writes survive': { keepUnsyncedFraction: 1 },
  'half the sectors survive, one torn': {
    keepUnsyncedFraction: 0.5,
    granularity: 'sector',
    tearAt: 'random',
    tornFill: 'garbage',
  },
  'none survive': { keepUnsyncedFraction: 0 },
};

/** One power loss at a seeded point of a concurrent append workload, then a restart. */
export async function walPowerLoss(seed: number, mode: PowerLossMode): Promise<PowerLossStats> {
  const rng = rngOf(seed);
  const objects = new MemoryObjectStore();
  const metadata = new MemoryMetadataStore();
  try {
    const file = new FaultyFile({ size: FILE_BYTES, seed, latencyTicksMax: 3, afterCrash: 'hang' });
    const cut = new Cut();
    const wal = await FileWal.open({ path: 'faulty', file });
    const store = await StreamStore.start({
      ...DEFAULT_STORE_OPTIONS,
      cacheBytesMax: 128 * 1024,
      uploadBytesThreshold: 8 * 1024,
      wal,
      objectStore: new CutObjectStore(objects, cut),
      metadata: new CutMetadata(metadata, cut),
    });
    const streams = await openAll(store, IDS, 1);
    const ledger = new Ledger();
    const attempted = new Map<number, Acked[]>(IDS.map((id) => [id, []]));
    const crashSeed = { seed };
    const total = 150 + rng.int(0, 250);
    const crashOptions: CrashOptions = { ...CRASH_MODES[mode], ...crashSeed };
    const crashAt = rng.int(20, total - 1);
    const inflight = new Set<Promise<void>>();
    let image: Buffer | undefined;
    for (let i = 0; i < total && image === undefined; i++) {
      while (inflight.size >= 16 && image === undefined) await Promise.race([...inflight, tick()]);
      if (image !== undefined) break;
      const s: Stream = rng.pick(streams);
      const data = makeBatch(rng, `p-${s.id}-${i}`, 1, 1200);
      const count = rng.int(1, 4);
      attempted.get(s.id)!.push({ baseOffset: s.endOffset, count, data });
      const p = s.append(data, count).then(
        ({ baseOffset }) => ledger.ack(s.id, { baseOffset, count, data }),
        () => {},
      );
      inflight.add(p);
      p.finally(() => inflight.delete(p));
      if (i === crashAt) {
        // Power loss a seeded number of event-loop turns later (appends keep coming): the
        // disk keeps what was synced plus, depending on the mode, part of the rest.
        const turns = rng.int(0, 40);
        void (async () => {
          for (let t = 0; t < turns; t++) await new Promise((r) => setImmediate(r));
          cut.cut();
          image = file.crash(crashOptions);
          store.halt();
        })();
      }
    }
    while (image === undefined) await new Promise((r) => setImmediate(r));
    await cut.quiesce();
    await new Promise((r) => setTimeout(r, 10)); // let rejected appends settle
    const acked = ledger.count;

    const wal2 = await FileWal.open({ path: 'faulty', file: FaultyFile.fromImage(image, { seed }) });
    const store2 = await StreamStore.start({
      ...DEFAULT_STORE_OPTIONS,
      wal: wal2,
      objectStore: objects,
      metadata,
    });
    let survivedUnacked = 0;
    try {
      for (const s of await openAll(store2, IDS, 2)) {
        const got = await readAll(s);
        const ackedList = ledger.byStream.get(s.id) ?? [];
        const tried = attempted.get(s.id)!;
        // Every acknowledged batch, then only a prefix of the rest of what was appended.
        expect(got.length).toBeGreaterThanOrEqual(ackedList.length);
        expect(got.length).toBeLessThanOrEqual(tried.length);
        const row = (a: Acked) => [a.baseOffset, a.count, a.data.toString('hex')];
        expect(got.map(row)).toEqual(tried.slice(0, got.length).map(row));
        survivedUnacked += got.length - ackedList.length;
        const end = got.length === 0 ? 0 : got[got.length - 1]!.baseOffset + got[got.length - 1]!.count;
        expect(s.endOffset).toBe(end);
        expect(s.committedOffset).toBe(end);
        await expectCommittedExactly(metadata, s.id, end);
      }
      return {
        acked,
        attempted: [...attempted.values()].reduce((n, l) => n + l.length, 0),
        survivedUnacked,
        replayed: store2.recovery.replayed,
        unsynced: file.lastCrash?.unsynced ?? 0,
        kept: file.lastCrash?.kept ?? 0,
      };
    } finally {
      await store2.close();
      await wal2.close();
    }
  } finally {
    await metadata.close();
  }
}

/**
 * A small FileWal (1 MiB) and small sequential appends (each takes a 4 KiB WAL group): the WAL,
 * not the cache, is what fills. Uploads must start under WAL pressure although the cache is far
 * below the upload threshold; while the object store stalls, appends wait for WAL space (no
 * failure, no growth); once it resumes every append resolves, and all is readable after a
 * restart.
 */
export async function walPressureWhileStalled(
  base: ObjectStore,
  seed: number,
): Promise<{ objectsBeforeStall: number; ackedWhileStalled: number; walUsedMax: number; capacity: number }> {
  const dir = await tempDir('walpressure');
  const faulty = new FaultyObjectStore(base, { seed });
  const rng = rngOf(seed);
  const ledger = new Ledger();
  const options = {
    dir,
    objectStore: faulty,
    walBytes: 1 << 20,
    store: { cacheBytesMax: 4 << 20, uploadBytesThreshold: 512 << 10, uploadIntervalMs: 0 },
  };
  let proc = await Proc.start(options);
  try {
    const streams = await openAll(proc.store, IDS, 1);
    const one = async (i: number): Promise<void> => {
      const s = streams[i % streams.length]!;
      await appendOne(s, makeBatch(rng, `w-${i}`, 20, 120), 1, ledger);
    };
    // Sequential appends: ~4 times what the WAL holds; uploads must start on WAL pressure.
    for (let i = 0; i < 1000; i++) await one(i);
    expect(ledger.failures).toEqual([]);
    const objectsBeforeStall = proc.store.stats().upload.objects;
    expect(objectsBeforeStall).toBeGreaterThan(1);
    // Stalled: appends go on until the WAL is full, then wait.
    faulty.stall();
    const before = ledger.count;
    let walUsedMax = 0;
    // Sequential again (one WAL group each), in the background: it stops on a full WAL.
    const appender = (async () => {
      for (let i = 0; i < 600; i++) await one(1000 + i);
    })();
    let last = -1;
    let stableSince = Date.now();
    await waitFor(
      () => {
        walUsedMax = Math.max(walUsedMax, proc.wal.usedBytes);
        if (ledger.count !== last) {
          last = ledger.count;
          stableSince = Date.now();
        }
        // Full: less than one more small record's group left.
        const full = proc.wal.capacityBytes - proc.wal.usedBytes < 16 * 1024;
        return full && Date.now() - stableSince > 300;
      },
      10_000,
      'appends to stop on a full WAL',
    );
    const ackedWhileStalled = ledger.count - before;
    expect(ackedWhileStalled).toBeLessThan(600);
    expect(walUsedMax).toBeLessThanOrEqual(proc.wal.capacityBytes);
    expect(proc.store.error).toBeUndefined();
    expect(ledger.failures).toEqual([]);
    faulty.resume();
    await appender;
    expect(ledger.failures).toEqual([]);
    expect(ledger.count - before).toBe(600);
    await proc.store.flush();
    for (const s of streams) await expectStreamMatches(s, ledger);
    await proc.crash();
    proc = await Proc.start(options);
    for (const s of await openAll(proc.store, IDS, 2)) {
      await expectStreamMatches(s, ledger);
      await expectCommittedExactly(proc.metaStore, s.id, ledger.end(s.id));
    }
    return { objectsBeforeStall, ackedWhileStalled, walUsedMax, capacity: proc.wal.capacityBytes };
  } finally {
    faulty.resume();
    await proc.stop().catch(() => {});
  }
}

/**
 * A WAL I/O error (EIO on a write or an fdatasync) while appends and uploads run: the store
 * must stop — the failing append and every later one rejects, nothing is acknowledged that is
 * not durable — and a new store over the disk image (after a power loss: what was synced)
 * holds every acknowledged batch exactly once.
 */
export async function walIoError(
  seed: number,
  op: 'write' | 'datasync',
): Promise<{ acked: number; rejected: number; failedAt: number }> {
  const rng = rngOf(seed);
  const objects = new MemoryObjectStore();
  const metadata = new MemoryMetadataStore();
  try {
    const failedAt = rng.int(3, 20); // group commits: ~25 groups of writes and syncs in all
    const file = new FaultyFile({ size: FILE_BYTES, seed, latencyTicksMax: 3, failAt: { [op]: failedAt } });
    const wal = await FileWal.open({ path: 'faulty', file });
    const store = await StreamStore.start({
      ...DEFAULT_STORE_OPTIONS,
      cacheBytesMax: 128 * 1024,
      uploadBytesThreshold: 8 * 1024,
      wal,
      objectStore: objects,
      metadata,
    });
    const streams = await openAll(store, IDS, 1);
    const ledger = new Ledger();
    const inflight = new Set<Promise<void>>();
    for (let i = 0; i < 400 && store.error === undefined; i++) {
      while (inflight.size >= 16) await Promise.race(inflight);
      const s: Stream = rng.pick(streams);
      const p = appendOne(s, makeBatch(rng, `e-${s.id}-${i}`, 1, 1200), rng.int(1, 4), ledger);
      inflight.add(p);
      p.finally(() => inflight.delete(p));
    }
    await Promise.all(inflight);
    expect(store.error).toBeDefined();
    expect(ledger.failures.length).toBeGreaterThan(0);
    await expect(streams[0]!.append(Buffer.from('after'), 1)).rejects.toThrow();
    // Power loss now: only what was synced survives.
    const image = file.crash({ seed });
    const wal2 = await FileWal.open({ path: 'faulty', file: FaultyFile.fromImage(image, { seed }) });
    const store2 = await StreamStore.start({
      ...DEFAULT_STORE_OPTIONS,
      wal: wal2,
      objectStore: objects,
      metadata,
    });
    try {
      for (const s of await openAll(store2, IDS, 2)) {
        const got = await readAll(s);
        const acked = ledger.byStream.get(s.id) ?? [];
        const row = (a: Acked) => [a.baseOffset, a.count, a.data.toString('hex')];
        // Acknowledged = durable, and the failed group is not: exactly the acknowledged ones.
        expect(got.map(row)).toEqual(acked.map(row));
        const end = got.length === 0 ? 0 : got[got.length - 1]!.baseOffset + got[got.length - 1]!.count;
        await expectCommittedExactly(metadata, s.id, end);
      }
    } finally {
      await store2.close();
      await wal2.close();
    }
    return { acked: ledger.count, rejected: ledger.failures.length, failedAt };
  } finally {
    await metadata.close();
  }
}
