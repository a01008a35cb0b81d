import { createMemoryWalStore, MemoryWal } from '@tributary/wal';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryMetadataStore } from '../src/metadata/memory.ts';
import { MemoryObjectStore } from '../src/object-store/memory.ts';
import type { ObjectStore } from '../src/object-store/types.ts';
import { FencedError } from '../src/stream/errors.ts';
import { StreamStore, type StreamStoreOptions } from '../src/stream/store.ts';
import type { Stream } from '../src/stream/stream.ts';
import { FaultyObjectStore } from '../src/testing/index.ts';

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
) {
  const store = await StreamStore.start({
    wal: new MemoryWal({ store: createMemoryWalStore() }),
    nodeId: 'n1',
    cacheBytesMax: 1 << 20,
    uploadBytesThreshold: 4096,
    blockBytesTarget: 1024,
    ...o,
  });
  stores.push(store);
  return store;
}

/** Deterministic batch bytes of (stream, index). */
function batchOf(streamId: number, i: number): Buffer {
  return Buffer.from(`s${streamId}:b${i};`.repeat(5 + ((i * 7) % 13) * 5));
}

interface Expected {
  baseOffset: number;
  count: number;
  data: Buffer;
}

/** Reads the whole stream from `from` and checks it batch by batch against `expected`. */
async function expectStream(stream: Stream, expected: Expected[], maxBytes = 700): Promise<void> {
  const got: Expected[] = [];
  let offset = expected[0]?.baseOffset ?? 0;
  for (let guard = 0; guard < 10_000; guard++) {
    const batches = await stream.fetch(offset, maxBytes);
    if (batches.length === 0) break;
    for (const b of batches)
      got.push({ baseOffset: b.baseOffset, count: b.count, data: Buffer.from(b.data) });
    const last = batches[batches.length - 1]!;
    offset = last.baseOffset + last.count;
  }
  expect(got.map((b) => [b.baseOffset, b.count, b.data.toString('hex')])).toEqual(
    expected.map((b) => [b.baseOffset, b.count, b.data.toString('hex')]),
  );
}

describe('StreamStore round trip', () => {
  it('appends to several streams across many uploads and reads them back byte-exact', async () => {
    const objectStore = new MemoryObjectStore();
    const metadata = newMeta();
    const store = await startStore({ objectStore, metadata });
    const streams = [await store.open(1, 1), await store.open(7, 1), await store.open(3, 1)];
    const expected = new Map<number, Expected[]>(streams.map((s) => [s.id, []]));
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 90; i++) {
      const s = streams[i % 3]!;
      const data = batchOf(s.id, i);
      const count = 1 + (i % 4);
      const list = expected.get(s.id)!;
      const prev = list[list.length - 1];
      const base = prev ? prev.baseOffset + prev.count : 0;
      list.push({ baseOffset: base, count, data });
      pending.push(
        s.append(data, count).then((r) => {
          expect(r.baseOffset).toBe(base);
        }),
      );
    }
    await Promise.all(pending);
    for (const s of streams) {
      const list = expected.get(s.id)!;
      const last = list[list.length - 1]!;
      expect(s.endOffset).toBe(last.baseOffset + last.count);
      await expectStream(s, list);
    }
    // Some uploads ran already; after a flush everything is in objects and the cache is free.
    await store.flush();
    const objects = await metadata.range('objects/');
    expect(objects.kvs.length).toBeGreaterThan(3);
    for (const s of streams) {
      expect(s.committedOffset).toBe(s.endOffset);
      await expectStream(s, expected.get(s.id)!);
      await expectStream(s, expected.get(s.id)!, 1); // one batch per fetch
    }
    // A fetch from inside a batch returns the batch holding the offset.
    const list = expected.get(7)!;
    const third = list[2]!;
    const got = await streams[1]!.fetch(third.baseOffset + third.count - 1, 1);
    expect(got[0]!.baseOffset).toBe(third.baseOffset);
    expect(Buffer.from(got[0]!.data).equals(third.data)).toBe(true);
    // At and past the end: nothing.
    expect(await streams[1]!.fetch(streams[1]!.endOffset, 100)).toEqual([]);
  });

  it('reads from objects after the cache was freed, in a new store', async () => {
    const objectStore = new MemoryObjectStore();
    const metadata = newMeta();
    const store = await startStore({ objectStore, metadata });
    const s = await store.open(5, 1);
    const expected: Expected[] = [];
    let base = 0;
    for (let i = 0; i < 40; i++) {
      const data = batchOf(5, i);
      expected.push({ baseOffset: base, count: 2, data });
      expect((await s.append(data, 2)).baseOffset).toBe(base);
      base += 2;
    }
    await s.close();
    await store.close();
    const other = await startStore({ objectStore, metadata, nodeId: 'n2' });
    const s2 = await other.open(5, 2);
    expect(s2.endOffset).toBe(80);
    await expectStream(s2, expected);
    // Appends continue after the committed end.
    expect((await s2.append(Buffer.from('next'), 1)).baseOffset).toBe(80);
    await expectStream(s2, [...expected, { baseOffset: 80, count: 1, data: Buffer.from('next') }]);
  });
});

describe('StreamStore fencing', () => {
  it('a newer epoch in another store fences the first handle at its next commit', async () => {
    const objectStore = new MemoryObjectStore();
    const metadata = newMeta();
    const a = await startStore({ objectStore, metadata, nodeId: 'a' });
    const sa = await a.open(1, 1);
    await sa.append(Buffer.from('one'), 1);
    await a.flush();
    const b = await startStore({ objectStore, metadata, nodeId: 'b' });
    await expect(b.open(1, 0)).rejects.toBeInstanceOf(FencedError);
    const sb = await b.open(1, 2);
    expect(sb.endOffset).toBe(1);
    // A does not know yet: its append is acknowledged locally, but its commit is refused.
    await sa.append(Buffer.from('lost'), 1);
    await a.flush();
    await expect(sa.append(Buffer.from('x'), 1)).rejects.toBeInstanceOf(FencedError);
    await expect(sa.fetch(0, 100)).rejects.toBeInstanceOf(FencedError);
    await expect(a.open(1, 1)).rejects.toBeInstanceOf(FencedError);
    // B reads what A committed and continues after it.
    expect((await sb.append(Buffer.from('two'), 1)).baseOffset).toBe(1);
    await b.flush();
    await expectStream(sb, [
      { baseOffset: 0, count: 1, data: Buffer.from('one') },
      { baseOffset: 1, count: 1, data: Buffer.from('two') },
    ]);
    const rec = JSON.parse((await metadata.get('streams/1'))!.value.toString());
    expect(rec).toEqual({ epoch: 2, owner: 'b', startOffset: 0, endOffset: 2 });
  });

  it('reopening in the same store with a newer epoch fences the older handle', async () => {
    const store = await startStore({ objectStore: new MemoryObjectStore(), metadata: newMeta() });
    const old = await store.open(2, 1);
    await old.append(Buffer.from('a'), 1);
    const h = await store.open(2, 2);
    await expect(old.append(Buffer.from('b'), 1)).rejects.toBeInstanceOf(FencedError);
    expect((await h.append(Buffer.from('c'), 1)).baseOffset).toBe(1);
  });
});

describe('StreamStore backpressure', () => {
  it('appends wait while uploads stall and complete once they resume', async () => {
    const faulty = new FaultyObjectStore(new MemoryObjectStore());
    const store = await startStore({
      objectStore: faulty,
      metadata: newMeta(),
      cacheBytesMax: 4096,
      uploadBytesThreshold: 1024,
    });
    const s = await store.open(1, 1);
    faulty.stall();
    let acked = 0;
    const pending: Promise<{ baseOffset: number }>[] = [];
    for (let i = 0; i < 24; i++) {
      const p = s.append(Buffer.alloc(500, i), 1);
      p.then(() => acked++);
      pending.push(p);
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(acked).toBeGreaterThan(0);
    expect(acked).toBeLessThanOrEqual(8); // 4096 bytes of 500-byte batches
    expect(faulty.stalledCalls).toBeGreaterThan(0);
    faulty.resume();
    const results = await Promise.all(pending);
    expect(results.map((r) => r.baseOffset)).toEqual([...Array(24).keys()]);
    await expectStream(
      s,
      [...Array(24).keys()].map((i) => ({ baseOffset: i, count: 1, data: Buffer.alloc(500, i) })),
      4096,
    );
  });
});
