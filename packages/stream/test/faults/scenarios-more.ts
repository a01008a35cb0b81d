/**
 * More fault scenarios: metadata-store faults (unavailable before a txn, or after it applied)
 * together with object-store faults through appends, uploads, compaction and a crash; and an
 * upload stalled past the prepared timeout, whose prepared object another store's collector
 * takes away before the late PUT lands.
 */
import { join } from 'node:path';
import { FileWal, openNodeWalFile } from '@tributary/wal';
import { expect } from 'vitest';
import type { MetadataStore } from '../../src/metadata/types.ts';
import type { ObjectStore } from '../../src/object-store/types.ts';
import { StreamStore } from '../../src/stream/store.ts';
import type { Stream } from '../../src/stream/stream.ts';
import { FaultyObjectStore } from '../../src/testing/index.ts';
import { DEFAULT_STORE_OPTIONS, Proc, tempDir, WAL_FILE_BYTES } from './env.ts';
import { FaultyMetadata, type MetadataFaultCounters } from './faulty-metadata.ts';
import { HoldingObjectStore } from './hold.ts';
import { expectCommittedExactly, listKeys, references, unreferencedKeys } from './inspect.ts';
import { ManualClock } from './scenarios-maint.ts';
import { appendMany, expectStreamMatches, Ledger, openAll, rngOf, waitFor } from './workload.ts';

const IDS = [3, 6, 9] as const;
const PREPARED_TIMEOUT_MS = 60_000;

async function expectAll(proc: Proc, ledger: Ledger, epoch: number): Promise<void> {
  for (const s of await openAll(proc.store, IDS, epoch)) {
    expect(s.committedOffset).toBe(ledger.end(s.id));
    await expectStreamMatches(s, ledger);
    await expectCommittedExactly(proc.metaStore, s.id, ledger.end(s.id));
  }
}

/** Every committed object exists; nothing else is left once the collector has run. */
async function expectTidy(store: ObjectStore, metadata: MetadataStore): Promise<void> {
  const have = new Set(await listKeys(store));
  for (const k of (await references(metadata)).live) expect(have.has(k), `missing ${k}`).toBe(true);
  expect(await unreferencedKeys(store, metadata)).toEqual([]);
}

/**
 * Metadata transactions fail before reaching the store or after applying (the answer lost),
 * gets fail, object puts fail — through appends, interval uploads, flushes, compaction rounds
 * and a crash: every acknowledged batch stays readable exactly once, the committed ranges tile
 * every stream, and after the prepared timeout the collector leaves no stray object.
 */
export async function metadataFaults(base: ObjectStore, seed: number): Promise<MetadataFaultCounters> {
  const dir = await tempDir('metafaults');
  const clock = new ManualClock();
  const faulty = new FaultyObjectStore(base, {
    seed,
    latencyMs: { min: 0, max: 2 },
    opRates: { put: { error: 0.1, afterWrite: 0.05 } },
  });
  const counters: MetadataFaultCounters = { txnBefore: 0, txnAfter: 0, get: 0, range: 0 };
  let faults: FaultyMetadata | undefined;
  const collect = (): void => {
    if (faults === undefined) return;
    for (const k of Object.keys(counters) as (keyof MetadataFaultCounters)[])
      counters[k] += faults.counters[k];
    faults = undefined;
  };
  const options = {
    dir,
    objectStore: faulty,
    store: { clock, garbageRetentionMs: 0, preparedTimeoutMs: PREPARED_TIMEOUT_MS },
    wrapMetadata: (m: MetadataStore) => {
      faults = new FaultyMetadata(m, { txnBefore: 0.08, txnAfter: 0.08, get: 0.05, range: 0.05 }, seed);
      return faults;
    },
  };
  const rng = rngOf(seed);
  const ledger = new Ledger();
  let proc = await Proc.start(options);
  try {
    const streams = await openAll(proc.store, IDS, 1);
    for (let round = 0; round < 6; round++) {
      await appendMany(streams, rng, ledger, {
        batches: 40,
        window: 8,
        minBytes: 1,
        maxBytes: 2000,
        tag: `r${round}`,
      });
      if (round % 2 === 1) {
        await proc.store.flush();
        await proc.store.compact({ inputObjectsMax: 4 });
      }
      for (const s of streams) await expectStreamMatches(s, ledger);
    }
    expect(ledger.failures).toEqual([]);
    expect(proc.store.error).toBeUndefined();
    await appendMany(streams, rng, ledger, {
      batches: 40,
      window: 8,
      minBytes: 1,
      maxBytes: 2000,
      tag: 'last',
    });
    await proc.crash();
    collect();
    proc = await Proc.start(options);
    await expectAll(proc, ledger, 2);
    await proc.store.compact();
    await expectAll(proc, ledger, 3);
    clock.t += PREPARED_TIMEOUT_MS + 1;
    await proc.store.collectGarbage();
    await expectTidy(faulty, proc.metaStore);
    collect();
    expect(counters.txnAfter).toBeGreaterThan(0);
    expect(counters.txnBefore).toBeGreaterThan(0);
    return counters;
  } finally {
    await proc.stop().catch(() => {});
  }
}

/**
 * Store A's upload hangs at its PUT (A's path to the object store stalls) for longer than the
 * prepared timeout; store B's collector expires A's prepared object meanwhile. When A's path
 * comes back its late PUT lands, its commit finds the prepared record gone: A must delete the
 * late object, upload again under a new id and commit — no loss, no duplicate, no stray object.
 */
export async function stalledPastPreparedTimeout(
  base: ObjectStore,
  seed: number,
): Promise<{ expiredPrepared: number; objectsAfter: number }> {
  const dir = await tempDir('expired');
  const clock = new ManualClock();
  const timing = {
    clock,
    preparedTimeoutMs: PREPARED_TIMEOUT_MS,
    garbageRetentionMs: 0,
    uploadIntervalMs: 0,
  };
  const faulty = new FaultyObjectStore(base, { seed });
  const rng = rngOf(seed);
  const ledger = new Ledger();
  let proc = await Proc.start({ dir, objectStore: faulty, store: timing });
  const otherDir = await tempDir('expired-b');
  const otherWal = await FileWal.open({
    path: join(otherDir, 'wal'),
    file: await openNodeWalFile(join(otherDir, 'wal'), WAL_FILE_BYTES),
  });
  let other: StreamStore | undefined;
  try {
    const streams = await openAll(proc.store, IDS, 1);
    await appendMany(streams, rng, ledger, { batches: 30, window: 4, minBytes: 1, maxBytes: 1500, tag: 'a' });
    await proc.store.flush();
    faulty.stall();
    await appendMany(streams, rng, ledger, { batches: 30, window: 4, minBytes: 1, maxBytes: 1500, tag: 'b' });
    let flushError: unknown;
    const flush = proc.store.flush().catch((err: unknown) => {
      flushError = err;
    });
    await waitFor(() => faulty.stalledCalls > 0, 5_000, 'the upload to stall');
    const prepared = (await references(proc.metaStore)).prepared;
    expect(prepared.size).toBe(1);
    clock.t += PREPARED_TIMEOUT_MS + 1;
    other = await StreamStore.start({
      ...DEFAULT_STORE_OPTIONS,
      ...timing,
      nodeId: 'n2',
      wal: otherWal,
      objectStore: base,
      metadata: proc.metaStore,
    });
    const gc = await other.collectGarbage();
    expect(gc.expiredPrepared).toBe(1);
    expect((await references(proc.metaStore)).prepared.size).toBe(0);
    faulty.resume();
    await flush;
    expect(flushError).toBeUndefined();
    expect(proc.store.error).toBeUndefined();
    for (const s of streams) expect(s.committedOffset).toBe(s.endOffset);
    // The late object of the expired id is gone; the data went into a new object.
    for (const k of prepared) expect(await listKeys(base)).not.toContain(k);
    await expectTidy(base, proc.metaStore);
    await proc.crash();
    proc = await Proc.start({ dir, objectStore: faulty, store: timing });
    await expectAll(proc, ledger, 2);
    await expectTidy(base, proc.metaStore);
    return { expiredPrepared: gc.expiredPrepared, objectsAfter: (await listKeys(base)).length };
  } finally {
    faulty.resume();
    await other?.close().catch(() => {});
    await otherWal.close().catch(() => {});
    await proc.stop().catch(() => {});
  }
}

/**
 * Cold reads stuck at the object store (ranged GETs held, more of them than the GET limit)
 * block neither reads of the log cache, nor appends, nor uploads; once the GETs go on, the cold
 * reads return exact data.
 */
export async function stuckColdReads(
  base: ObjectStore,
  seed: number,
): Promise<{ held: number; hotMs: number }> {
  const dir = await tempDir('cold');
  const holding = new HoldingObjectStore(base);
  const rng = rngOf(seed);
  const ledger = new Ledger();
  const proc = await Proc.start({
    dir,
    objectStore: holding,
    store: {
      blockCacheBytes: 1,
      writeThrough: false,
      readConcurrency: 4,
      uploadIntervalMs: 0,
      uploadBytesThreshold: 1 << 20,
    },
  });
  try {
    const streams = await openAll(proc.store, IDS, 1);
    for (let round = 0; round < 8; round++) {
      await appendMany(streams, rng, ledger, {
        batches: 10,
        window: 4,
        minBytes: 1,
        maxBytes: 1500,
        tag: `cold${round}`,
      });
      await proc.store.flush();
    }
    const committed = new Map(streams.map((s) => [s.id, s.endOffset]));
    await appendMany(streams, rng, ledger, {
      batches: 30,
      window: 4,
      minBytes: 1,
      maxBytes: 1500,
      tag: 'hot',
    });
    holding.hold();
    const cold: Promise<unknown>[] = [];
    for (let i = 0; i < 24; i++) {
      const s = streams[i % streams.length]!;
      cold.push(s.fetch(rng.int(0, committed.get(s.id)! - 1), 4096));
    }
    await waitFor(() => holding.held > 0, 5_000, 'cold reads to reach the store');
    const t0 = Date.now();
    for (const s of streams) {
      const hot = (ledger.byStream.get(s.id) ?? []).filter((a) => a.baseOffset >= committed.get(s.id)!);
      const got = await readAllFrom(s, committed.get(s.id)!);
      expect(got).toEqual(hot.map((a) => [a.baseOffset, a.count, a.data.toString('hex')]));
    }
    await appendMany(streams, rng, ledger, {
      batches: 10,
      window: 4,
      minBytes: 1,
      maxBytes: 1500,
      tag: 'more',
    });
    await proc.store.flush();
    const hotMs = Date.now() - t0;
    expect(hotMs).toBeLessThan(5_000);
    const held = holding.held;
    expect(held).toBeGreaterThan(1); // several objects' GETs stuck, up to the GET limit
    expect(held).toBeLessThanOrEqual(4);
    holding.release();
    await Promise.all(cold);
    for (const s of streams) await expectStreamMatches(s, ledger);
    return { held, hotMs };
  } finally {
    holding.release();
    await proc.stop().catch(() => {});
  }
}

/** Rows of the batches of `s` from `from` to its end (one fetch per step, no retries). */
async function readAllFrom(s: Stream, from: number): Promise<[number, number, string][]> {
  const out: [number, number, string][] = [];
  let offset = from;
  for (;;) {
    const batches = await s.fetch(offset, 4096);
    if (batches.length === 0) return out;
    for (const b of batches) out.push([b.baseOffset, b.count, Buffer.from(b.data).toString('hex')]);
    const last = batches[batches.length - 1]!;
    offset = last.baseOffset + last.count;
  }
}
