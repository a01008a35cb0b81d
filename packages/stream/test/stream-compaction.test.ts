import { createMemoryWalStore, MemoryWal } from '@tributary/wal';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryMetadataStore } from '../src/metadata/memory.ts';
import { objectKey } from '../src/object-format/keys.ts';
import { MemoryObjectStore } from '../src/object-store/memory.ts';
import type { ObjectStore } from '../src/object-store/types.ts';
import { decodeObjectRecord, GARBAGE_PREFIX, OBJECTS_PREFIX, PREPARED_PREFIX } from '../src/stream/codec.ts';
import { StreamStore, type StreamStoreOptions } from '../src/stream/store.ts';
import type { Stream } from '../src/stream/stream.ts';
import { COMMIT_STREAMS_MAX } from '../src/stream/uploader.ts';
import { VirtualClock } from '../src/testing/index.ts';

const stores: StreamStore[] = [];
const metas: MemoryMetadataStore[] = [];

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => {});
  for (const m of metas.splice(0)) await m.close();
});

function newMeta(): MemoryMetadataStore {
  const m = new MemoryMetadataStore();
  metas.push(m);
  return m;
}

async function startStore(
  o: Partial<StreamStoreOptions> & { objectStore: ObjectStore; metadata: MemoryMetadataStore },
): Promise<StreamStore> {
  const store = await StreamStore.start({
    wal: new MemoryWal({ store: createMemoryWalStore() }),
    nodeId: 'n1',
    cacheBytesMax: 1 << 20,
    uploadBytesThreshold: 1 << 30,
    blockBytesTarget: 1024,
    ...o,
  });
  stores.push(store);
  return store;
}

function batchOf(streamId: number, i: number): Buffer {
  return Buffer.from(`s${streamId}:b${i};`.repeat(4 + (i % 5) * 3));
}

/** Every batch of the stream from its start, checked against batchOf at count 2 per batch. */
async function expectBatches(stream: Stream, from: number, to: number, readerId?: string): Promise<void> {
  let offset = from;
  while (offset < to) {
    const got = await stream.fetch(offset, 600, readerId === undefined ? {} : { readerId });
    expect(got.length).toBeGreaterThan(0);
    for (const b of got) {
      expect(b.baseOffset).toBe(offset);
      expect(b.count).toBe(2);
      expect(b.data.equals(batchOf(stream.id, b.baseOffset / 2))).toBe(true);
      offset += b.count;
    }
  }
  expect(await stream.fetch(to, 600)).toEqual([]);
}

async function appendN(stream: Stream, from: number, n: number, ts?: number): Promise<void> {
  for (let i = from; i < from + n; i++) await stream.append(batchOf(stream.id, i), 2, ts);
}

async function objectRecords(meta: MemoryMetadataStore) {
  return (await meta.range(OBJECTS_PREFIX)).kvs.map((kv) => ({
    key: kv.key,
    rec: decodeObjectRecord(kv.value),
  }));
}

describe('stream compaction and garbage collection', () => {
  it('merges small stream-set objects; readers keep reading during and after; marked objects are deleted after the window', async () => {
    const clock = new VirtualClock(1_000_000);
    const objects = new MemoryObjectStore();
    const meta = newMeta();
    const store = await startStore({
      objectStore: objects,
      metadata: meta,
      clock,
      garbageRetentionMs: 60_000,
    });
    const streams = await Promise.all([1, 2, 3].map((id) => store.open(id, 1)));
    for (let round = 0; round < 6; round++) {
      for (const s of streams) await appendN(s, round * 10, 10);
      await store.flush();
    }
    expect((await objectRecords(meta)).length).toBe(6);
    const before = (await objects.list({})).objects.length;
    expect(before).toBe(6);
    const stats = await store.compact({ streamObjectBytes: 1 << 30 });
    expect(stats).toMatchObject({ inputObjects: 6, outputObjects: 1, droppedObjects: 0, conflicts: 0 });
    const recs = await objectRecords(meta);
    expect(recs.length).toBe(1);
    expect(recs[0]!.rec.streams.map((s) => [s.streamId, s.startOffset, s.endOffset])).toEqual([
      [1, 0, 120],
      [2, 0, 120],
      [3, 0, 120],
    ]);
    // Superseded objects stay (marked) until the retention window is over.
    expect((await meta.range(GARBAGE_PREFIX)).kvs.length).toBe(6);
    expect((await objects.list({})).objects.length).toBe(7);
    for (const s of streams) await expectBatches(s, 0, 120);
    // A fresh store (cold caches) reads the merged object.
    const other = await startStore({ objectStore: objects, metadata: meta, nodeId: 'n2', clock });
    const s2 = await other.open(2, 2);
    await expectBatches(s2, 0, 120);
    await clock.advance(60_000);
    expect(await store.collectGarbage()).toEqual({ deletedObjects: 6, expiredPrepared: 0 });
    expect((await objects.list({})).objects.length).toBe(1);
    expect((await meta.range(GARBAGE_PREFIX)).kvs.length).toBe(0);
  });

  it('splits streams with much data into their own objects and drops trimmed data', async () => {
    const objects = new MemoryObjectStore();
    const meta = newMeta();
    const store = await startStore({ objectStore: objects, metadata: meta, garbageRetentionMs: 0 });
    const big = await store.open(7, 1);
    const small = await store.open(8, 1);
    for (let round = 0; round < 4; round++) {
      await appendN(big, round * 50, 50);
      await appendN(small, round * 2, 2);
      await store.flush();
    }
    await big.trim(60); // 30 batches of the big stream are gone
    const stats = await store.compact({ streamObjectBytes: 4000 });
    expect(stats.inputObjects).toBe(4);
    expect(stats.outputObjects).toBe(2);
    const recs = (await objectRecords(meta)).map((r) =>
      r.rec.streams.map((s) => [s.streamId, s.startOffset, s.endOffset]),
    );
    expect(recs.sort()).toEqual([[[7, 60, 400]], [[8, 0, 16]]]);
    await expect(big.fetch(58, 100)).rejects.toThrow(RangeError);
    await expectBatches(big, 60, 400);
    await expectBatches(small, 0, 16);
    // Everything trimmed: the objects are dropped without a rewrite, and deleted (window 0).
    await small.trim(16);
    const again = await store.compact();
    expect(again.droppedObjects).toBe(1);
    expect(again.inputObjects).toBe(0);
    expect((await objects.list({})).objects.length).toBe(1);
    expect(await small.fetch(16, 100)).toEqual([]);
  });

  it('retention by time and by size trims whole committed ranges', async () => {
    const clock = new VirtualClock(10_000_000);
    const meta = newMeta();
    const store = await startStore({ objectStore: new MemoryObjectStore(), metadata: meta, clock });
    const s = await store.open(1, 1);
    for (let round = 0; round < 5; round++) {
      await appendN(s, round * 10, 10, 1_000_000 + round * 1000);
      await store.flush();
    }
    // Newest timestamps of the ranges: 1_000_000, 1_001_000, ... 1_004_000.
    const sizes = s.committedRanges().map((r) => r.size);
    expect(sizes.length).toBe(5);
    expect(await s.applyRetention({ retentionMs: 10_000_000 - 1_001_500 })).toBe(40);
    expect(s.startOffset).toBe(40);
    const total = sizes.slice(2).reduce((a: number, b: number) => a + b, 0);
    // Keep at least `total - sizes[2]` + 1 bytes: range 2 stays.
    expect(await s.applyRetention({ retentionBytes: total - sizes[2]! + 1 })).toBe(40);
    expect(await s.applyRetention({ retentionBytes: total - sizes[2]! })).toBe(60);
    await expectBatches(s, 60, 100);
    await expect(s.fetch(0, 100)).rejects.toThrow(/below the stream start/);
    // Trims survive a restart (they are in the stream record).
    const other = await startStore({ objectStore: new MemoryObjectStore(), metadata: meta, nodeId: 'n2' });
    expect((await other.open(1, 2)).startOffset).toBe(60);
  });

  it('commits a seal of more streams than one txn holds in parts of one object', async () => {
    const objects = new MemoryObjectStore();
    const meta = newMeta();
    const store = await startStore({ objectStore: objects, metadata: meta, cacheBytesMax: 16 << 20 });
    const n = COMMIT_STREAMS_MAX * 2 + 37;
    const streams: Stream[] = [];
    for (let id = 0; id < n; id++) streams.push(await store.open(id, 1));
    await Promise.all(streams.map((s) => appendN(s, 0, 3)));
    await store.flush();
    expect((await objects.list({})).objects.length).toBe(1);
    const recs = await objectRecords(meta);
    expect(recs.map((r) => r.key.split('/')[2])).toEqual(['0000', '0001', '0002']);
    expect(recs.reduce((k, r) => k + r.rec.streams.length, 0)).toBe(n);
    expect((await meta.range(PREPARED_PREFIX)).kvs.length).toBe(0);
    const other = await startStore({ objectStore: objects, metadata: meta, nodeId: 'n2' });
    for (const id of [0, 99, 100, 236]) await expectBatches(await other.open(id, 2), 0, 6);
    // Compaction reads all parts of the object as one input.
    for (const s of streams) await appendN(s, 3, 1);
    await store.flush();
    const st = await store.compact({ streamObjectBytes: 1 << 30 });
    expect(st).toMatchObject({ inputObjects: 2, outputObjects: 1 });
    await expectBatches(streams[150]!, 0, 8);
  });

  it('deletes prepared objects that were never committed after the timeout', async () => {
    const clock = new VirtualClock(0);
    const objects = new MemoryObjectStore();
    const meta = newMeta();
    const store = await startStore({ objectStore: objects, metadata: meta, clock, preparedTimeoutMs: 5_000 });
    const s = await store.open(1, 1);
    await appendN(s, 0, 3);
    await store.flush();
    // An uploader that crashed after its PUT: a prepared record and an object, no commit.
    await meta.put(
      `${PREPARED_PREFIX}0000000000000099`,
      Buffer.from(JSON.stringify({ key: 'objects/orphan', at: 0 })),
    );
    await objects.put('objects/orphan', [Buffer.from('x')]);
    await clock.advance(4_999);
    expect(await store.collectGarbage()).toEqual({ deletedObjects: 0, expiredPrepared: 0 });
    await clock.advance(1);
    expect(await store.collectGarbage()).toEqual({ deletedObjects: 1, expiredPrepared: 1 });
    expect((await objects.list({})).objects.map((o) => o.key)).not.toContain('objects/orphan');
    await expectBatches(s, 0, 6);
  });

  it('sequential cold readers get read-ahead; write-through serves just-uploaded data without GETs', async () => {
    const objects = new MemoryObjectStore();
    const meta = newMeta();
    const writer = await startStore({ objectStore: objects, metadata: meta });
    const s = await writer.open(1, 1);
    for (let r = 0; r < 8; r++) {
      await appendN(s, r * 40, 40);
      await writer.flush();
    }
    await expectBatches(s, 0, 640);
    expect(writer.stats().read.blockGets).toBe(0);
    const reader = await startStore({
      objectStore: objects,
      metadata: meta,
      nodeId: 'n2',
      readAheadBytesMax: 64 * 1024,
    });
    const r1 = await reader.open(1, 2);
    await expectBatches(r1, 0, 640, 'consumer-1');
    const st = reader.stats().read;
    expect(st.prefetchGets).toBeGreaterThan(0);
    // Most blocks came from read-ahead, not from GETs on the read path.
    expect(st.blockGets).toBeLessThan(st.prefetchGets);
    const noRa = await startStore({
      objectStore: objects,
      metadata: meta,
      nodeId: 'n3',
      readAheadBytesMax: 0,
    });
    await expectBatches(await noRa.open(1, 3), 0, 640, 'consumer-1');
    expect(noRa.stats().read.prefetchGets).toBe(0);
    expect(noRa.stats().read.blockGets).toBeGreaterThan(st.blockGets);
  });

  it('a reader whose object was compacted and deleted by another store reloads and retries', async () => {
    const objects = new MemoryObjectStore();
    const meta = newMeta();
    const a = await startStore({ objectStore: objects, metadata: meta, garbageRetentionMs: 0 });
    const s = await a.open(1, 1);
    for (let r = 0; r < 3; r++) {
      await appendN(s, r * 5, 5);
      await a.flush();
    }
    // Store b learns the ranges (cold), then a compacts and deletes the inputs at once.
    const b = await startStore({ objectStore: objects, metadata: meta, nodeId: 'n2', readAheadBytesMax: 0 });
    const sb = await b.open(1, 2);
    expect((await sb.fetch(0, 10)).length).toBe(1);
    const st = await a.compact();
    expect(st.inputObjects).toBe(3);
    expect((await objects.list({})).objects.length).toBe(1);
    await expectBatches(sb, 0, 30);
  });

  it('deleting a stream fences its handles and compaction drops its objects', async () => {
    const objects = new MemoryObjectStore();
    const meta = newMeta();
    const store = await startStore({ objectStore: objects, metadata: meta, garbageRetentionMs: 0 });
    const gone = await store.open(1, 1);
    const kept = await store.open(2, 1);
    await appendN(gone, 0, 5);
    await store.flush();
    await appendN(gone, 5, 5);
    await appendN(kept, 0, 5);
    await store.flush();
    await store.deleteStream(1);
    await store.deleteStream(1);
    await expect(gone.append(batchOf(1, 10), 2)).rejects.toThrow(/deleted/);
    // Object 2 is half stream 1's (deleted): rewritten once at most half is to be kept.
    const st = await store.compact({ liveFractionMin: 0.6 });
    expect(st.droppedObjects).toBe(1);
    expect(st.inputObjects).toBe(1);
    // Nothing left to drop: a second round rewrites nothing (no churn).
    expect((await store.compact({ liveFractionMin: 0.99 })).inputObjects).toBe(0);
    const recs = await objectRecords(meta);
    expect(recs.map((r) => r.rec.streams.map((x) => x.streamId))).toEqual([[2]]);
    expect((await objects.list({})).objects.length).toBe(1);
    await expectBatches(kept, 0, 10);
  });

  it('sweeps objects no record names (a late PUT after its prepared record expired), keeps the rest', async () => {
    const clock = new VirtualClock(0);
    const objects = new MemoryObjectStore();
    const meta = newMeta();
    const store = await startStore({
      objectStore: objects,
      metadata: meta,
      clock,
      orphanSweepIntervalMs: 60_000,
    });
    const s = await store.open(1, 1);
    await appendN(s, 0, 3);
    await store.flush();
    await objects.put(objectKey('objects', 999), [Buffer.from('late put')]);
    await objects.put('objects/not-an-object.txt', [Buffer.from('x')]);
    // Not yet due: collectGarbage sweeps only every orphanSweepIntervalMs.
    expect((await store.collectGarbage()).deletedObjects).toBe(0);
    await clock.advance(60_000);
    expect((await store.collectGarbage()).deletedObjects).toBe(1);
    const keys = (await objects.list({})).objects.map((o) => o.key);
    expect(keys).not.toContain(objectKey('objects', 999));
    expect(keys).toContain('objects/not-an-object.txt');
    expect(keys.length).toBe(2);
    expect(await store.sweepOrphans()).toEqual({ deletedObjects: 0 });
    await expectBatches(s, 0, 6);
  });
});
