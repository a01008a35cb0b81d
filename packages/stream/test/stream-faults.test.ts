/**
 * The stream fault suite on a MemoryObjectStore behind a FaultyObjectStore, with a FileWal
 * and an EmbeddedMetadataStore in temp directories (scenarios in faults/scenarios*.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { FileObjectStore } from '../src/object-store/file.ts';
import { MemoryObjectStore } from '../src/object-store/memory.ts';
import { removeTempDirs, tempDir } from './faults/env.ts';
import { backpressureWhileStalled, errorsDuringUploads } from './faults/scenarios.ts';
import { busyEverything } from './faults/scenarios-busy.ts';
import { killedWriter } from './faults/scenarios-kill.ts';
import {
  type CrashPoint,
  crashPoint,
  longOutage,
  readersAcrossCompaction,
} from './faults/scenarios-maint.ts';
import { metadataFaults, stalledPastPreparedTimeout, stuckColdReads } from './faults/scenarios-more.ts';
import { crashesDuringRecovery, shutdownDuringOutage } from './faults/scenarios-recovery.ts';
import { trimsUnderFaults } from './faults/scenarios-trim.ts';
import {
  type PowerLossMode,
  walIoError,
  walPowerLoss,
  walPressureWhileStalled,
} from './faults/scenarios-wal.ts';

afterAll(removeTempDirs);

const CRASH_POINTS: CrashPoint[] = [
  'upload: after put, before commit',
  'upload: after commit, before WAL trim',
  'compaction: after put, before commit',
  'compaction: after commit, before garbage collection',
  'gc: after deleting an object, before dropping its record',
];

describe('stream faults (memory object store)', () => {
  for (const seed of [11, 12]) {
    it(`503/429, resets, failures after write and latency during uploads lose nothing (seed ${seed})`, {
      timeout: 60_000,
    }, async () => {
      const r = await errorsDuringUploads(new MemoryObjectStore(), seed, { batches: 400, maxBytes: 3000 });
      console.log(`faults seed ${seed}: ${JSON.stringify(r)}`);
    });
  }

  it('backpressure while uploads stall: bounded cache, nothing fails, all resolves on resume', {
    timeout: 60_000,
  }, async () => {
    const r = await backpressureWhileStalled(new MemoryObjectStore(), 21, { appends: 300, holdMs: 1500 });
    console.log(`backpressure: ${JSON.stringify(r)}`);
    expect(r.maxCacheBytes).toBeGreaterThan(32 * 1024);
  });

  it('an object-store outage of 3 s does not fail the store; everything commits once it is back', {
    timeout: 60_000,
  }, async () => {
    const r = await longOutage(new MemoryObjectStore(), 51, 3_000);
    console.log(`outage: ${JSON.stringify(r)}`);
  });

  for (const point of CRASH_POINTS) {
    it(`crash ${point}: no gap, no duplicate, orphans collected after the timeout`, {
      timeout: 60_000,
    }, async () => {
      const r = await crashPoint(new MemoryObjectStore(), 61, point);
      console.log(`crash ${point}: ${JSON.stringify(r)}`);
    });
  }

  for (const by of ['same store', 'other store'] as const) {
    it(`readers retry across a compaction by the ${by} that deleted their objects`, {
      timeout: 60_000,
    }, async () => {
      const r = await readersAcrossCompaction(new MemoryObjectStore(), 71, by);
      console.log(`compaction by ${by}: ${JSON.stringify(r)}`);
    });
  }

  for (const seed of [81, 82]) {
    it(`metadata unavailable before/after txns plus put faults through uploads, compaction and a crash (seed ${seed})`, {
      timeout: 60_000,
    }, async () => {
      const r = await metadataFaults(new MemoryObjectStore(), seed);
      console.log(`metadata faults seed ${seed}: ${JSON.stringify(r)}`);
    });
  }

  it('an upload stalled past the prepared timeout re-uploads under a new id; the late PUT is removed', {
    timeout: 60_000,
  }, async () => {
    const r = await stalledPastPreparedTimeout(new MemoryObjectStore(), 91);
    console.log(`stalled past timeout: ${JSON.stringify(r)}`);
  });

  const POWER_LOSS: [number, PowerLossMode][] = [
    [5000, 'all unsynced writes survive'],
    [5012, 'all unsynced writes survive'],
    [5001, 'half the sectors survive, one torn'],
    [5013, 'half the sectors survive, one torn'],
    [5028, 'half the sectors survive, one torn'],
    [5005, 'none survive'],
    [5017, 'none survive'],
  ];
  for (const [seed, mode] of POWER_LOSS) {
    it(`power loss under the WAL during appends and uploads (${mode}, seed ${seed}): acked batches survive, extras are a true prefix`, {
      timeout: 30_000,
    }, async () => {
      const r = await walPowerLoss(seed, mode);
      console.log(`power loss ${mode} ${seed}: ${JSON.stringify(r)}`);
    });
  }

  for (const seed of [6000, 6001]) {
    it(`trims, time and size retention, compaction and a crash under object and metadata faults (seed ${seed})`, {
      timeout: 60_000,
    }, async () => {
      const r = await trimsUnderFaults(new MemoryObjectStore(), seed);
      console.log(`trims ${seed}: ${JSON.stringify(r)}`);
    });
  }

  it('cold reads stuck at the object store block neither cache reads, appends nor uploads', {
    timeout: 30_000,
  }, async () => {
    const r = await stuckColdReads(new MemoryObjectStore(), 95);
    console.log(`stuck cold reads: ${JSON.stringify(r)}`);
  });

  for (const [seed, slowReads] of [
    [7000, 0],
    [7001, 0.2],
  ]) {
    it(`busy: appends, uploads, two racing compactors, readers, faults, then a crash (seed ${seed}, slow reads ${slowReads})`, {
      timeout: 60_000,
    }, async () => {
      const r = await busyEverything(new MemoryObjectStore(), seed, 2_500, slowReads);
      console.log(`busy ${seed}: ${JSON.stringify(r)}`);
    });
  }

  it('a small WAL fills before the cache: uploads start on WAL pressure; a stall makes appends wait', {
    timeout: 60_000,
  }, async () => {
    const r = await walPressureWhileStalled(new MemoryObjectStore(), 97);
    console.log(`wal pressure: ${JSON.stringify(r)}`);
  });

  it('crashes during start-up recovery (before a commit, after one, after the second): exactly once', {
    timeout: 60_000,
  }, async () => {
    const r = await crashesDuringRecovery(new MemoryObjectStore(), 99);
    console.log(`crashes during recovery: ${JSON.stringify(r)}`);
  });

  it('shutdown during an outage: close keeps retrying, halt ends it, the restart recovers all', {
    timeout: 60_000,
  }, async () => {
    const r = await shutdownDuringOutage(new MemoryObjectStore(), 101);
    console.log(`shutdown during outage: ${JSON.stringify(r)}`);
  });

  for (const op of ['write', 'datasync'] as const) {
    it(`a WAL ${op} error stops the store; exactly the acknowledged batches survive a power loss`, {
      timeout: 30_000,
    }, async () => {
      const r = await walIoError(op === 'write' ? 11001 : 11000, op);
      console.log(`wal ${op} error: ${JSON.stringify(r)}`);
    });
  }

  it('a writer process SIGKILLed while appending and uploading (file object store), twice', {
    timeout: 90_000,
  }, async () => {
    const root = await tempDir('kill-objects');
    const r = await killedWriter(new FileObjectStore(root), `file://${root}`, 111);
    console.log(`killed writer: ${JSON.stringify(r)}`);
  });
});
