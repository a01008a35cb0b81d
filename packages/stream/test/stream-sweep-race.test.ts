import { createMemoryWalStore, MemoryWal } from '@tributary/wal';
import { expect, it } from 'vitest';
import { MemoryMetadataStore } from '../src/metadata/memory.ts';
import type { RangeOptions, RangePage, Txn, TxnResult } from '../src/metadata/types.ts';
import { MemoryObjectStore } from '../src/object-store/memory.ts';
import { StreamStore } from '../src/stream/store.ts';

/** Holds the first object-commit txn and the first range('prepared/') until released. */
class Gated extends MemoryMetadataStore {
  commitGate: Promise<void> | undefined;
  releaseCommit!: () => void;
  commitHeld = false;
  preparedGate: Promise<void> | undefined;
  releasePrepared!: () => void;
  preparedHeld = false;
  armCommit() {
    this.commitGate = new Promise((r) => {
      this.releaseCommit = r;
    });
  }
  armPrepared() {
    this.preparedGate = new Promise((r) => {
      this.releasePrepared = r;
    });
  }
  override async txn(t: Txn): Promise<TxnResult> {
    const commit = (t.success ?? []).some((op) => op.type === 'put' && op.key.startsWith('objects/'));
    if (commit && this.commitGate) {
      const g = this.commitGate;
      this.commitGate = undefined;
      this.commitHeld = true;
      await g;
    }
    return super.txn(t);
  }
  override async range(prefix: string, o?: RangeOptions): Promise<RangePage> {
    if (prefix === 'prepared/' && this.preparedGate) {
      const g = this.preparedGate;
      this.preparedGate = undefined;
      this.preparedHeld = true;
      await g;
    }
    return super.range(prefix, o);
  }
}
const until = async (c: () => boolean) => {
  const t = Date.now();
  while (!c()) {
    if (Date.now() - t > 5000) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 2));
  }
};

it('orphan sweep racing an upload commit', { timeout: 20_000 }, async () => {
  const metadata = new Gated();
  const objects = new MemoryObjectStore();
  const store = await StreamStore.start({
    wal: new MemoryWal({ store: createMemoryWalStore() }),
    objectStore: objects,
    metadata,
    nodeId: 'n1',
    cacheBytesMax: 1 << 20,
    uploadBytesThreshold: 1 << 20,
  });
  const s = await store.open(1, 1);
  await s.append(Buffer.from('first'), 1);
  await store.flush();
  await s.append(Buffer.from('second'), 1);
  metadata.armCommit();
  const flush = store.flush();
  await until(() => metadata.commitHeld); // object PUT landed, commit waiting
  metadata.armPrepared();
  const sweep = store.sweepOrphans();
  await until(() => metadata.preparedHeld); // sweeper listed objects, read objects/
  metadata.releaseCommit();
  await flush; // the upload commits
  metadata.releasePrepared();
  const swept = await sweep;
  console.log(
    'SWEPT',
    JSON.stringify(swept),
    'objects left',
    (await objects.list()).objects.length,
    'records',
    (await metadata.range('objects/')).kvs.length,
  );
  const store2 = await StreamStore.start({
    wal: new MemoryWal({ store: createMemoryWalStore() }),
    objectStore: objects,
    metadata,
    nodeId: 'n2',
    cacheBytesMax: 1 << 20,
    uploadBytesThreshold: 1 << 20,
  });
  const s2 = await store2.open(1, 2);
  const r = await s2.fetch(1, 100).then(
    (b) => b.map((x) => x.data.toString()),
    (e: Error) => `ERR ${e.message}`,
  );
  console.log('READ committed offset 1 from a fresh store:', JSON.stringify(r));
  expect(r).toEqual(['second']);
});
