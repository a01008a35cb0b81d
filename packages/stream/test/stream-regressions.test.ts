import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryWalStore, FileWal, MemoryWal } from '@tributary/wal';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryMetadataStore } from '../src/metadata/memory.ts';
import { MemoryObjectStore } from '../src/object-store/memory.ts';
import { StreamStore } from '../src/stream/store.ts';
import { FaultyMetadata, isStreamRecordWrite } from './faults/faulty-metadata.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

describe('stream store regressions', () => {
  it('uploads when the WAL is half full although the cache is below the threshold', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trib-walpressure-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const wal = await FileWal.open({ path: join(dir, 'wal'), sizeBytes: 1 << 20 });
    cleanups.push(() => wal.close());
    const store = await StreamStore.start({
      wal,
      objectStore: new MemoryObjectStore(),
      metadata: new MemoryMetadataStore(),
      nodeId: 'n1',
      cacheBytesMax: 4 << 20,
      uploadBytesThreshold: 512 << 10,
    });
    cleanups.push(() => store.close());
    const s = await store.open(1, 1);
    // Each 100-byte append takes a 4 KiB WAL group: the 1 MiB WAL fills after ~250.
    for (let i = 0; i < 1000; i++) await s.append(Buffer.alloc(100, i & 0xff), 1);
    expect(s.endOffset).toBe(1000);
    expect(store.stats().upload.objects).toBeGreaterThan(1);
    const got = await s.fetch(999, 1000);
    expect(got[0]?.data.equals(Buffer.alloc(100, 999 & 0xff))).toBe(true);
  });

  it('a trim whose txn applied but answered unavailable does not fence the stream', async () => {
    const metadata = new FaultyMetadata(new MemoryMetadataStore());
    const walStore = createMemoryWalStore();
    const objectStore = new MemoryObjectStore();
    const opts = {
      objectStore,
      metadata,
      nodeId: 'n1',
      cacheBytesMax: 1 << 20,
      uploadBytesThreshold: 1 << 20,
    };
    const store = await StreamStore.start({ ...opts, wal: new MemoryWal({ store: walStore }) });
    const s = await store.open(1, 1);
    for (let i = 0; i < 4; i++) await s.append(Buffer.from(`b${i}`), 1);
    await store.flush();
    await s.append(Buffer.from('acked, not yet uploaded'), 1);
    metadata.rules.push({ match: isStreamRecordWrite, when: 'after', failNext: 1 });
    await s.trim(2);
    expect(s.startOffset).toBe(2);
    await store.flush();
    await store.close();
    const store2 = await StreamStore.start({ ...opts, wal: new MemoryWal({ store: walStore }) });
    cleanups.push(() => store2.close());
    const s2 = await store2.open(1, 2);
    expect(s2.endOffset).toBe(5);
    expect((await s2.fetch(4, 100))[0]?.data.toString()).toBe('acked, not yet uploaded');
  });

  it('a takeover after a trim past the committed end continues at the start offset', async () => {
    const metadata = new MemoryMetadataStore();
    cleanups.push(() => metadata.close());
    const objectStore = new MemoryObjectStore();
    const opts = { objectStore, metadata, cacheBytesMax: 1 << 20, uploadBytesThreshold: 1 << 20 };
    const a = await StreamStore.start({ ...opts, nodeId: 'a', wal: new MemoryWal() });
    const sa = await a.open(1, 1);
    for (let i = 0; i < 3; i++) await sa.append(Buffer.from(`c${i}`), 1);
    await a.flush();
    for (let i = 3; i < 6; i++) await sa.append(Buffer.from(`u${i}`), 1);
    await sa.trim(5); // past the committed end (3)
    a.halt(); // node a dies with offsets 3..5 only in its WAL
    const b = await StreamStore.start({ ...opts, nodeId: 'b', wal: new MemoryWal() });
    cleanups.push(() => b.close());
    const sb = await b.open(1, 2);
    expect(sb.startOffset).toBe(5);
    expect(sb.endOffset).toBe(5);
    expect((await sb.append(Buffer.from('next'), 1)).baseOffset).toBe(5);
    await b.flush();
    expect((await sb.fetch(5, 100))[0]?.data.toString()).toBe('next');
  });

  it('refuses a batch above batchBytesMax without taking an offset or failing the store', async () => {
    const store = await StreamStore.start({
      wal: new MemoryWal({ recordBytesMax: 1 << 20 }),
      objectStore: new MemoryObjectStore(),
      metadata: new MemoryMetadataStore(),
      nodeId: 'n1',
      cacheBytesMax: 8 << 20,
      uploadBytesThreshold: 1 << 20,
      batchBytesMax: (1 << 20) - 64,
    });
    cleanups.push(() => store.close());
    const s = await store.open(1, 1);
    await s.append(Buffer.from('a'), 1);
    await expect(s.append(Buffer.alloc(2 << 20), 1)).rejects.toThrow(RangeError);
    expect((await s.append(Buffer.from('b'), 1)).baseOffset).toBe(1);
    expect(store.error).toBeUndefined();
  });
});
