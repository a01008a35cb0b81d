/**
 * Trims and retention under faults: explicit trims (of committed and of still-cached data),
 * time and size retention, compaction dropping and rewriting what is left, the collector, and
 * a crash — with object-store errors and metadata errors (before the txn) all along. After each
 * step every stream reads back exactly its acknowledged batches from its start offset, reads
 * below the start are refused, and the committed ranges tile [start, end).
 */
import { expect } from 'vitest';
import type { MetadataStore } from '../../src/metadata/types.ts';
import type { ObjectStore } from '../../src/object-store/types.ts';
import type { Stream } from '../../src/stream/stream.ts';
import { FaultyObjectStore } from '../../src/testing/index.ts';
import { Proc, tempDir } from './env.ts';
import { FaultyMetadata } from './faulty-metadata.ts';
import { expectCommittedExactly, listKeys, objectRecords, unreferencedKeys } from './inspect.ts';
import { ManualClock } from './scenarios-maint.ts';
import { appendMany, appendOne, expectStreamMatches, Ledger, makeBatch, openAll, rngOf } from './workload.ts';

const A = 1;
const B = 2;
const C = 3;
const ROUND_MS = 10_000;

/** The base offset of the acknowledged batch at `fraction` of the stream's batches. */
function boundaryAt(ledger: Ledger, id: number, fraction: number): number {
  const list = ledger.byStream.get(id) ?? [];
  return list[Math.floor(list.length * fraction)]?.baseOffset ?? ledger.end(id);
}

async function expectFromStart(streams: Stream[], ledger: Ledger, metadata: MetadataStore): Promise<void> {
  for (const s of streams) {
    const start = s.startOffset;
    await expectStreamMatches(s, ledger, undefined, start);
    if (start > 0) await expect(s.fetch(start - 1, 1000)).rejects.toBeInstanceOf(RangeError);
    if (s.committedOffset === s.endOffset) await expectCommittedExactly(metadata, s.id, s.endOffset, start);
  }
}

/** Runs the scenario; returns the start offsets reached and what compaction did. */
export async function trimsUnderFaults(
  base: ObjectStore,
  seed: number,
): Promise<{
  starts: number[];
  dropped: number;
  rewritten: number;
  objectsBefore: number;
  objectsAfter: number;
}> {
  const dir = await tempDir('trim');
  const clock = new ManualClock();
  const faulty = new FaultyObjectStore(base, {
    seed,
    latencyMs: { min: 0, max: 2 },
    opRates: { put: { error: 0.1, reset: 0.05, afterWrite: 0.05 }, get: { error: 0.03 } },
  });
  const options = {
    dir,
    objectStore: faulty,
    store: {
      clock,
      garbageRetentionMs: 0,
      preparedTimeoutMs: 60_000,
      uploadIntervalMs: 0,
      // Uploads only on flush: the 'cached' appends below stay in the log cache.
      uploadBytesThreshold: 1 << 20,
    },
    // Lost answers too (a txn applied, then `unavailable`): trims must recognise their own write.
    wrapMetadata: (m: MetadataStore) =>
      new FaultyMetadata(m, { txnBefore: 0.05, txnAfter: 0.05, get: 0.03 }, seed),
  };
  const rng = rngOf(seed);
  const ledger = new Ledger();
  let proc = await Proc.start(options);
  try {
    let streams = await openAll(proc.store, [A, B, C], 1);
    const byId = (id: number): Stream => streams.find((s) => s.id === id)!;
    const roundEnd: Map<number, number>[] = [];
    for (let round = 0; round < 8; round++) {
      clock.t += ROUND_MS;
      await appendMany(streams, rng, ledger, {
        batches: 24,
        window: 4,
        minBytes: 1,
        maxBytes: 1500,
        tag: `r${round}`,
      });
      await proc.store.flush();
      roundEnd.push(new Map(streams.map((s) => [s.id, s.endOffset])));
    }
    expect(ledger.failures).toEqual([]);
    const objectsBefore = (await listKeys(faulty)).length;

    // A: an explicit trim at a batch boundary 40% in.
    const aStart = boundaryAt(ledger, A, 0.4);
    await byId(A).trim(aStart);
    expect(byId(A).startOffset).toBe(aStart);
    await byId(A).trim(1); // never moves backwards
    expect(byId(A).startOffset).toBe(aStart);
    // B: time retention drops the rounds older than 35 s (rounds 0..3).
    expect(await byId(B).applyRetention({ retentionMs: 35_000 })).toBe(roundEnd[3]!.get(B));
    // C: size retention keeps at least half of its committed bytes, in whole ranges.
    const cRanges = byId(C).committedRanges();
    const cBytes = cRanges.reduce((n, r) => n + r.size, 0);
    const cStart = await byId(C).applyRetention({ retentionBytes: Math.floor(cBytes / 2) });
    expect(cStart).toBeGreaterThan(0);
    expect(cRanges.some((r) => r.endOffset === cStart)).toBe(true);
    const kept = byId(C)
      .committedRanges()
      .reduce((n, r) => n + r.size, 0);
    expect(kept).toBeGreaterThanOrEqual(Math.floor(cBytes / 2));
    await expectFromStart(streams, ledger, proc.metaStore);

    // A trim into data still in the log cache (appended, not uploaded).
    clock.t += ROUND_MS;
    await appendMany(streams, rng, ledger, {
      batches: 30,
      window: 4,
      minBytes: 1,
      maxBytes: 1500,
      tag: 'cached',
    });
    const cachedA = (ledger.byStream.get(A) ?? []).filter((b) => b.baseOffset >= byId(A).committedOffset);
    for (let i = cachedA.length; i < 3; i++) {
      await appendOne(byId(A), makeBatch(rng, `cached-A-${i}`, 1, 1500), 1, ledger);
    }
    const inCache = (ledger.byStream.get(A) ?? []).filter((b) => b.baseOffset >= byId(A).committedOffset);
    const cachedStart = inCache[Math.floor(inCache.length / 2)]!.baseOffset;
    expect(cachedStart).toBeGreaterThan(byId(A).committedOffset);
    await byId(A).trim(cachedStart);
    await expectFromStart(streams, ledger, proc.metaStore);
    await proc.store.flush();
    await expectFromStart(streams, ledger, proc.metaStore);

    // Compaction drops what is all below the starts and rewrites the rest; GC deletes at once.
    let dropped = 0;
    let rewritten = 0;
    for (let i = 0; i < 6; i++) {
      const st = await proc.store.compact({ inputObjectsMax: 4 });
      dropped += st.droppedObjects;
      rewritten += st.inputObjects;
      await expectFromStart(streams, ledger, proc.metaStore);
      if (st.droppedObjects === 0 && st.inputObjects === 0) break;
    }
    // No object left whose data is all below its streams' starts (a dropped object may count as
    // a conflict when its txn's answer was lost; what matters is that it is gone).
    for (const rec of (await objectRecords(proc.metaStore)).values()) {
      const live = rec.streams.some((r) => r.endOffset > byId(r.streamId).startOffset);
      expect(live, `object ${rec.key} holds only trimmed data`).toBe(true);
    }
    expect(await unreferencedKeys(faulty, proc.metaStore)).toEqual([]);
    const objectsAfter = (await listKeys(faulty)).length;
    expect(objectsAfter).toBeLessThan(objectsBefore);

    // More appends, a crash, and a restart: the starts persist, nothing else changed.
    clock.t += ROUND_MS;
    await appendMany(streams, rng, ledger, {
      batches: 20,
      window: 4,
      minBytes: 1,
      maxBytes: 1500,
      tag: 'late',
    });
    const starts = streams.map((s) => s.startOffset);
    await proc.crash();
    proc = await Proc.start(options);
    streams = await openAll(proc.store, [A, B, C], 2);
    expect(streams.map((s) => s.startOffset)).toEqual(starts);
    await expectFromStart(streams, ledger, proc.metaStore);
    return { starts, dropped, rewritten, objectsBefore, objectsAfter };
  } finally {
    await proc.stop().catch(() => {});
  }
}
