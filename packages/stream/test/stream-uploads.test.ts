import { createMemoryWalStore, MemoryWal } from '@tributary/wal';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryMetadataStore } from '../src/metadata/memory.ts';
import { MemoryObjectStore } from '../src/object-store/memory.ts';
import { ObjectStoreError, type PutOptions } from '../src/object-store/types.ts';
import { StreamStoreError } from '../src/stream/errors.ts';
import { StreamStore, type StreamStoreOptions } from '../src/stream/store.ts';
import { FaultyObjectStore } from '../src/testing/index.ts';

const metas: MemoryMetadataStore[] = [];
afterEach(async () => {
  for (const m of metas.splice(0)) await m.close();
});

function newMeta(): MemoryMetadataStore {
  const m = new MemoryMetadataStore();
  metas.push(m);
  return m;
}

function options(
  o: Partial<StreamStoreOptions> & Pick<StreamStoreOptions, 'objectStore' | 'metadata'>,
): StreamStoreOptions {
  return {
    wal: new MemoryWal({ store: createMemoryWalStore() }),
    nodeId: 'n1',
    cacheBytesMax: 1 << 20,
    uploadBytesThreshold: 1 << 20,
    ...o,
  };
}

/** A memory store whose puts fail with a non-retriable error while `broken`. */
class BrokenPutStore extends MemoryObjectStore {
  broken = false;
  override put(key: string, body: Buffer | readonly Buffer[], o?: PutOptions) {
    if (this.broken) return Promise.reject(new ObjectStoreError('fatal', 'access denied'));
    return super.put(key, body, o);
  }
}

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('StreamStore uploads', () => {
  it('uploads on the interval without reaching the byte threshold', async () => {
    const store = await StreamStore.start(
      options({ objectStore: new MemoryObjectStore(), metadata: newMeta(), uploadIntervalMs: 10 }),
    );
    const s = await store.open(1, 1);
    await s.append(Buffer.from('tick'), 3);
    await waitFor(() => s.committedOffset === 3);
    await store.close();
  });

  it('retries retriable put failures', async () => {
    const faulty = new FaultyObjectStore(new MemoryObjectStore(), {
      rules: [{ op: 'put', fault: 'slow-down', failNext: 2 }],
    });
    const store = await StreamStore.start(options({ objectStore: faulty, metadata: newMeta() }));
    const s = await store.open(1, 1);
    await s.append(Buffer.from('abc'), 1);
    await store.flush();
    expect(faulty.counters.put.faults).toBe(2);
    expect(s.committedOffset).toBe(1);
    await store.close();
  });

  it('stops on a fatal put error, keeping the data in the WAL for the next start', async () => {
    const objectStore = new BrokenPutStore();
    const metadata = newMeta();
    const walStore = createMemoryWalStore();
    const store = await StreamStore.start(
      options({ objectStore, metadata, wal: new MemoryWal({ store: walStore }) }),
    );
    const s = await store.open(2, 1);
    await s.append(Buffer.from('kept'), 2);
    objectStore.broken = true;
    await expect(store.flush()).rejects.toBeInstanceOf(StreamStoreError);
    expect(store.error?.message).toMatch(/access denied/);
    await expect(s.append(Buffer.from('no'), 1)).rejects.toBeInstanceOf(StreamStoreError);
    // Still readable from the cache.
    expect((await s.fetch(0, 100)).map((b) => b.data.toString())).toEqual(['kept']);
    objectStore.broken = false;
    const next = await StreamStore.start(
      options({ objectStore, metadata, wal: new MemoryWal({ store: walStore }) }),
    );
    expect(next.recovery.replayed).toBe(1);
    const s2 = await next.open(2, 2);
    expect(s2.committedOffset).toBe(2);
    expect((await s2.fetch(0, 100)).map((b) => [b.baseOffset, b.data.toString()])).toEqual([[0, 'kept']]);
    await next.close();
  });
});
