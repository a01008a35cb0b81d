import { join } from 'node:path';
import { FileWal, openNodeWalFile } from '@tributary/wal';
import { afterAll, expect, it } from 'vitest';
import type { MetadataStore } from '../src/metadata/types.ts';
import { MemoryObjectStore } from '../src/object-store/memory.ts';
import { StreamStore } from '../src/stream/store.ts';
import { DEFAULT_STORE_OPTIONS, Proc, removeTempDirs, tempDir, WAL_FILE_BYTES } from './faults/env.ts';
import { FaultyMetadata } from './faults/faulty-metadata.ts';
import { appendMany, expectStreamMatches, Ledger, openAll, rngOf } from './faults/workload.ts';

afterAll(removeTempDirs);
for (let i = 0; i < 6; i++)
  it(`sweep race ${i}`, { timeout: 60_000 }, async () => {
    const base = new MemoryObjectStore();
    const dir = await tempDir('sw');
    const timing = { garbageRetentionMs: 0, uploadIntervalMs: 5, orphanSweepIntervalMs: 0 };
    const proc = await Proc.start({
      dir,
      objectStore: base,
      store: timing,
      wrapMetadata: (m: MetadataStore) => new FaultyMetadata(m, { maxLatencyMs: 3 }, 50 + i),
    });
    const od = await tempDir('sw-b');
    const wal = await FileWal.open({
      path: join(od, 'wal'),
      file: await openNodeWalFile(join(od, 'wal'), WAL_FILE_BYTES),
    });
    const b = await StreamStore.start({
      ...DEFAULT_STORE_OPTIONS,
      ...timing,
      nodeId: 'n2',
      wal,
      objectStore: base,
      metadata: new FaultyMetadata(proc.metaStore, { maxLatencyMs: 3 }, 90 + i),
    });
    const streams = await openAll(proc.store, [1, 2, 3], 1);
    const ledger = new Ledger();
    let stop = false;
    let sweeps = 0;
    let swept = 0;
    const sweeper = (async () => {
      while (!stop) {
        swept += (await b.sweepOrphans()).deletedObjects;
        sweeps++;
      }
    })();
    await appendMany(streams, rngOf(i), ledger, {
      batches: 600,
      window: 8,
      minBytes: 100,
      maxBytes: 2000,
      tag: 'x',
    });
    await proc.store.flush();
    stop = true;
    await sweeper;
    console.log(
      `sweep race ${i}: sweeps ${sweeps}, deleted ${swept}, objects ${proc.store.stats().upload.objects}`,
    );
    for (const s of streams) await expectStreamMatches(s, ledger);
    expect(swept).toBe(0);
    await b.close();
    await wal.close();
    await proc.stop();
  });
