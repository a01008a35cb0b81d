import { createMemoryWalStore, MemoryWal, type MemoryWalStore } from '@tributary/wal';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryMetadataStore } from '../src/metadata/memory.ts';
import type {
  KeyValue,
  LeaseId,
  MetadataStore,
  RangeOptions,
  RangePage,
  Txn,
  TxnResult,
  Watch,
  WatchOptions,
} from '../src/metadata/types.ts';
import { MemoryObjectStore } from '../src/object-store/memory.ts';
import { StreamStore } from '../src/stream/store.ts';
import type { Stream } from '../src/stream/stream.ts';

const metas: MemoryMetadataStore[] = [];
afterEach(async () => {
  for (const m of metas.splice(0)) await m.close();
});

/** Delegates to a MetadataStore; `failCommit` makes object commits throw before or after applying. */
class CrashingMetadata implements MetadataStore {
  readonly description = 'crashing';
  failCommit: 'before' | 'after' | undefined;
  constructor(private readonly inner: MetadataStore) {}
  get(key: string): Promise<KeyValue | undefined> {
    return this.inner.get(key);
  }
  range(prefix: string, options?: RangeOptions): Promise<RangePage> {
    return this.inner.range(prefix, options);
  }
  async txn(txn: Txn): Promise<TxnResult> {
    const isCommit = (txn.success ?? []).some((op) => op.type === 'put' && op.key.startsWith('objects/'));
    if (isCommit && this.failCommit === 'before') throw new Error('crash before commit');
    const res = await this.inner.txn(txn);
    if (isCommit && this.failCommit === 'after') throw new Error('crash after commit');
    return res;
  }
  put(key: string, value: Buffer, options?: { lease?: LeaseId }): Promise<{ revision: number }> {
    return this.inner.put(key, value, options);
  }
  delete(key: string): Promise<{ revision: number; deleted: number }> {
    return this.inner.delete(key);
  }
  grantLease(ttlMs: number): Promise<{ id: LeaseId; ttlMs: number }> {
    return this.inner.grantLease(ttlMs);
  }
  keepAlive(id: LeaseId): Promise<{ ttlMs: number }> {
    return this.inner.keepAlive(id);
  }
  revokeLease(id: LeaseId): Promise<void> {
    return this.inner.revokeLease(id);
  }
  watch(prefix: string, options?: WatchOptions): Watch {
    return this.inner.watch(prefix, options);
  }
  revision(): Promise<number> {
    return this.inner.revision();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A MemoryWal whose trim can be made to fail (a crash after the commit, before the trim). */
class CrashingWal extends MemoryWal {
  failTrim = false;
  override async trim(offset: number): Promise<void> {
    if (this.failTrim) throw new Error('crash before trim');
    return super.trim(offset);
  }
}

interface Env {
  walStore: MemoryWalStore;
  objectStore: MemoryObjectStore;
  metadata: MemoryMetadataStore;
}

function newEnv(): Env {
  const metadata = new MemoryMetadataStore();
  metas.push(metadata);
  return { walStore: createMemoryWalStore(), objectStore: new MemoryObjectStore(), metadata };
}

function start(env: Env, wal?: MemoryWal, metadata?: MetadataStore): Promise<StreamStore> {
  return StreamStore.start({
    wal: wal ?? new MemoryWal({ store: env.walStore }),
    objectStore: env.objectStore,
    metadata: metadata ?? env.metadata,
    nodeId: 'n1',
    cacheBytesMax: 1 << 20,
    // Large: no upload starts on its own, so a dropped store has nothing running.
    uploadBytesThreshold: 1 << 20,
    blockBytesTarget: 512,
  });
}

type Batch = [baseOffset: number, count: number, hex: string];

/** Appends `n` batches to each stream, awaiting each; records what was acknowledged. */
async function appendSome(
  streams: Stream[],
  n: number,
  acked: Map<number, Batch[]>,
  tag: string,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    for (const s of streams) {
      const data = Buffer.from(`${tag}-${s.id}-${i}-`.repeat(1 + (i % 9)));
      const count = 1 + (i % 3);
      const { baseOffset } = await s.append(data, count);
      const list = acked.get(s.id) ?? [];
      list.push([baseOffset, count, data.toString('hex')]);
      acked.set(s.id, list);
    }
  }
}

async function readAll(stream: Stream): Promise<Batch[]> {
  const out: Batch[] = [];
  let offset = 0;
  for (;;) {
    const batches = await stream.fetch(offset, 300);
    if (batches.length === 0) return out;
    for (const b of batches) out.push([b.baseOffset, b.count, Buffer.from(b.data).toString('hex')]);
    const last = batches[batches.length - 1]!;
    offset = last.baseOffset + last.count;
  }
}

/** Every acknowledged batch exactly once at its offset, contiguous from 0. */
function expectExactlyOnce(got: Batch[], acked: Batch[]): void {
  expect(got).toEqual(acked);
  let next = 0;
  for (const [base, count] of got) {
    expect(base).toBe(next);
    next = base + count;
  }
}

/** The committed object ranges of a stream are contiguous from 0 to `end`, without overlap. */
async function expectCommittedRanges(metadata: MetadataStore, streamId: number, end: number): Promise<void> {
  const page = await metadata.range('objects/');
  const ranges: [number, number][] = [];
  for (const kv of page.kvs) {
    const rec = JSON.parse(kv.value.toString()) as {
      streams: { streamId: number; startOffset: number; endOffset: number }[];
    };
    for (const s of rec.streams) if (s.streamId === streamId) ranges.push([s.startOffset, s.endOffset]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  let next = 0;
  for (const [s, e] of ranges) {
    expect(s).toBe(next);
    next = e;
  }
  expect(next).toBe(end);
  const stream = JSON.parse((await metadata.get(`streams/${streamId}`))!.value.toString());
  expect(stream.endOffset).toBe(end);
}

async function openAll(store: StreamStore, ids: number[], epoch = 1): Promise<Stream[]> {
  const out: Stream[] = [];
  for (const id of ids) out.push(await store.open(id, epoch));
  return out;
}

function endOf(list: Batch[]): number {
  const last = list[list.length - 1]!;
  return last[0] + last[1];
}

describe('StreamStore recovery', () => {
  it('replays acknowledged appends after a crash, exactly once', async () => {
    const env = newEnv();
    const first = await start(env);
    const acked = new Map<number, Batch[]>();
    const streams = await openAll(first, [1, 2]);
    await appendSome(streams, 10, acked, 'a');
    await first.flush(); // some data committed, some only in the WAL below
    await appendSome(streams, 12, acked, 'b');
    // Crash: drop `first` without closing it.
    const second = await start(env);
    expect(second.recovery.replayed).toBe(24);
    expect(env.walStore.records.length).toBe(0); // uploaded, committed and trimmed at start
    const again = await openAll(second, [1, 2], 2);
    for (const s of again) {
      expectExactlyOnce(await readAll(s), acked.get(s.id)!);
      await expectCommittedRanges(env.metadata, s.id, endOf(acked.get(s.id)!));
    }
    // Appends continue where the acknowledged ones ended.
    const { baseOffset } = await again[0]!.append(Buffer.from('after'), 1);
    expect(baseOffset).toBe(endOf(acked.get(1)!));
    await second.close();
  });

  it('a crash between the put and the commit leaves garbage only: no gap, no duplicate', async () => {
    const env = newEnv();
    const crashing = new CrashingMetadata(env.metadata);
    const first = await start(env, undefined, crashing);
    const acked = new Map<number, Batch[]>();
    const streams = await openAll(first, [4, 9]);
    await appendSome(streams, 6, acked, 'a');
    await first.flush();
    await appendSome(streams, 7, acked, 'b');
    crashing.failCommit = 'before';
    await expect(first.flush()).rejects.toThrow(/crash before commit/);
    await expect(streams[0]!.append(Buffer.from('x'), 1)).rejects.toThrow(/crash before commit/);
    const objectsBefore = (await env.objectStore.list()).objects.length;
    expect(objectsBefore).toBe((await env.metadata.range('objects/')).kvs.length + 1); // one garbage object

    const second = await start(env);
    expect(second.recovery.replayed).toBe(14);
    for (const s of await openAll(second, [4, 9], 2)) {
      expectExactlyOnce(await readAll(s), acked.get(s.id)!);
      await expectCommittedRanges(env.metadata, s.id, endOf(acked.get(s.id)!));
    }
    await second.close();
  });

  for (const when of ['trim', 'commit reported as failed'] as const) {
    it(`a crash after the commit (${when}) skips the committed range on replay`, async () => {
      const env = newEnv();
      const wal = new CrashingWal({ store: env.walStore });
      const crashing = new CrashingMetadata(env.metadata);
      const first = await start(env, wal, crashing);
      const acked = new Map<number, Batch[]>();
      const streams = await openAll(first, [3]);
      await appendSome(streams, 5, acked, 'a');
      await first.flush();
      await appendSome(streams, 8, acked, 'b');
      if (when === 'trim') wal.failTrim = true;
      else crashing.failCommit = 'after';
      await expect(first.flush()).rejects.toThrow(/crash/);
      // The WAL still holds the committed records.
      expect(env.walStore.records.length).toBe(8);

      const second = await start(env);
      expect(second.recovery).toEqual({ replayed: 0, skipped: 8, dropped: 0 });
      expect(env.walStore.records.length).toBe(0);
      const [s] = await openAll(second, [3], 2);
      expectExactlyOnce(await readAll(s!), acked.get(3)!);
      await expectCommittedRanges(env.metadata, 3, endOf(acked.get(3)!));
      await second.close();
    });
  }

  it('a reopen with a new epoch commits the old epoch first; replay keeps both', async () => {
    const env = newEnv();
    const first = await start(env);
    const acked = new Map<number, Batch[]>();
    const [old] = await openAll(first, [6], 1);
    await appendSome([old!], 3, acked, 'e1');
    const [now] = await openAll(first, [6], 2);
    expect(now!.committedOffset).toBe(endOf(acked.get(6)!));
    await appendSome([now!], 2, acked, 'e2');
    // Crash; replay keeps only records of the stored epoch (2): the older ones were committed
    // (and trimmed) by the reopen.
    const second = await start(env);
    expect(second.recovery).toEqual({ replayed: 2, skipped: 0, dropped: 0 });
    const [s] = await openAll(second, [6], 3);
    expectExactlyOnce(await readAll(s!), acked.get(6)!);
    await second.close();
  });

  it('drops WAL records of a stream another node took over', async () => {
    const env = newEnv();
    const first = await start(env);
    const acked = new Map<number, Batch[]>();
    const [s] = await openAll(first, [8]);
    await appendSome([s!], 3, acked, 'a');
    await first.flush();
    await appendSome([s!], 2, acked, 'b');
    // Another node takes the stream over while this one is down.
    await env.metadata.put(
      'streams/8',
      Buffer.from(
        JSON.stringify({
          epoch: 5,
          owner: 'n2',
          startOffset: 0,
          endOffset: endOf(acked.get(8)!.slice(0, 3)),
        }),
      ),
    );
    const second = await start(env);
    expect(second.recovery).toEqual({ replayed: 0, skipped: 0, dropped: 2 });
    await second.close();
  });
});
