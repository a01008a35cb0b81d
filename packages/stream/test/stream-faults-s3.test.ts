/**
 * The stream fault suite on a real S3-compatible server (moto_server, see s3-server.ts) behind
 * a FaultyObjectStore, with a FileWal and an EmbeddedMetadataStore in temp directories
 * (scenarios in faults/scenarios*.ts). Each test uses its own key prefix in the bucket.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { S3ObjectStore } from '../src/object-store/s3.ts';
import { removeTempDirs } from './faults/env.ts';
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
import { s3ConnectionRefused, s3NetworkFaults } from './faults/scenarios-net.ts';
import { crashesDuringRecovery, shutdownDuringOutage } from './faults/scenarios-recovery.ts';
import { trimsUnderFaults } from './faults/scenarios-trim.ts';
import { walPressureWhileStalled } from './faults/scenarios-wal.ts';
import { useS3Server } from './s3-server.ts';

const server = useS3Server('tributary-faults');
afterAll(removeTempDirs);

/** Runs `fn` on a store for a fresh prefix of the bucket, closing it after. */
async function withPrefix<T>(prefix: string, fn: (s3: S3ObjectStore) => Promise<T>): Promise<T> {
  const s3 = server().store({ prefix });
  try {
    return await fn(s3);
  } finally {
    await s3.close();
  }
}

const CRASH_POINTS: CrashPoint[] = [
  'upload: after put, before commit',
  'upload: after commit, before WAL trim',
  'compaction: after put, before commit',
  'compaction: after commit, before garbage collection',
  'gc: after deleting an object, before dropping its record',
];

describe('stream faults (moto S3)', () => {
  it('503/429, resets, failures after write and latency during uploads lose nothing', {
    timeout: 90_000,
  }, async () => {
    const r = await withPrefix('errors', (s3) =>
      errorsDuringUploads(s3, 31, { batches: 200, maxBytes: 3000 }),
    );
    console.log(`s3 faults: ${JSON.stringify(r)}`);
  });

  it('backpressure while uploads stall: bounded cache, nothing fails, all resolves on resume', {
    timeout: 90_000,
  }, async () => {
    const r = await withPrefix('stall', (s3) =>
      backpressureWhileStalled(s3, 41, { appends: 150, holdMs: 1500 }),
    );
    console.log(`s3 backpressure: ${JSON.stringify(r)}`);
    expect(r.maxCacheBytes).toBeGreaterThan(32 * 1024);
  });

  it('an object-store outage of 3 s does not fail the store; everything commits once it is back', {
    timeout: 90_000,
  }, async () => {
    const r = await withPrefix('outage', (s3) => longOutage(s3, 52, 3_000));
    console.log(`s3 outage: ${JSON.stringify(r)}`);
  });

  CRASH_POINTS.forEach((point, i) => {
    it(`crash ${point}: no gap, no duplicate, orphans collected after the timeout`, {
      timeout: 90_000,
    }, async () => {
      const r = await withPrefix(`crash-${i}`, (s3) => crashPoint(s3, 62 + i, point));
      console.log(`s3 crash ${point}: ${JSON.stringify(r)}`);
    });
  });

  for (const by of ['same store', 'other store'] as const) {
    it(`readers retry across a compaction by the ${by} that deleted their objects`, {
      timeout: 90_000,
    }, async () => {
      const r = await withPrefix(`compact-${by.split(' ')[0]}`, (s3) => readersAcrossCompaction(s3, 72, by));
      console.log(`s3 compaction by ${by}: ${JSON.stringify(r)}`);
    });
  }

  it('metadata unavailable before/after txns plus put faults through uploads, compaction and a crash', {
    timeout: 90_000,
  }, async () => {
    const r = await withPrefix('metadata', (s3) => metadataFaults(s3, 83));
    console.log(`s3 metadata faults: ${JSON.stringify(r)}`);
  });

  it('an upload stalled past the prepared timeout re-uploads under a new id; the late PUT is removed', {
    timeout: 90_000,
  }, async () => {
    const r = await withPrefix('expired', (s3) => stalledPastPreparedTimeout(s3, 92));
    console.log(`s3 stalled past timeout: ${JSON.stringify(r)}`);
  });

  it('trims, time and size retention, compaction and a crash under object and metadata faults', {
    timeout: 90_000,
  }, async () => {
    const r = await withPrefix('trims', (s3) => trimsUnderFaults(s3, 6002));
    console.log(`s3 trims: ${JSON.stringify(r)}`);
  });

  it('cold reads stuck at the object store block neither cache reads, appends nor uploads', {
    timeout: 60_000,
  }, async () => {
    const r = await withPrefix('cold', (s3) => stuckColdReads(s3, 96));
    console.log(`s3 stuck cold reads: ${JSON.stringify(r)}`);
  });

  it('busy: appends, uploads, two racing compactors, readers, faults, then a crash', {
    timeout: 90_000,
  }, async () => {
    const r = await withPrefix('busy', (s3) => busyEverything(s3, 7002, 3_000));
    console.log(`s3 busy: ${JSON.stringify(r)}`);
  });

  it('a small WAL fills before the cache: uploads start on WAL pressure; a stall makes appends wait', {
    timeout: 90_000,
  }, async () => {
    const r = await withPrefix('walpressure', (s3) => walPressureWhileStalled(s3, 98));
    console.log(`s3 wal pressure: ${JSON.stringify(r)}`);
  });

  it('crashes during start-up recovery (before a commit, after one, after the second): exactly once', {
    timeout: 90_000,
  }, async () => {
    const r = await withPrefix('recovery', (s3) => crashesDuringRecovery(s3, 100));
    console.log(`s3 crashes during recovery: ${JSON.stringify(r)}`);
  });

  it('shutdown during an outage: close keeps retrying, halt ends it, the restart recovers all', {
    timeout: 90_000,
  }, async () => {
    const r = await withPrefix('shutdown', (s3) => shutdownDuringOutage(s3, 102));
    console.log(`s3 shutdown during outage: ${JSON.stringify(r)}`);
  });

  it('faults on the wire (503, resets before and after the effect) through multipart uploads, reads, compaction, GC', {
    timeout: 120_000,
  }, async () => {
    const r = await s3NetworkFaults(server(), 'net', 103);
    console.log(`s3 network faults: ${JSON.stringify(r)}`);
  });

  it('requests that never get an answer (black hole) end by the client timeout and are retried', {
    timeout: 120_000,
  }, async () => {
    const rates = { blackHole: 0.06, slowDown: 0.03, resetAfter: 0.03 };
    const r = await s3NetworkFaults(server(), 'blackhole', 104, rates, 1_000);
    console.log(`s3 black hole: ${JSON.stringify(r)}`);
    expect(r.blackHole).toBeGreaterThan(0);
  });

  it('the S3 endpoint refuses connections for 3 s: uploads retry, nothing fails, all commits after', {
    timeout: 90_000,
  }, async () => {
    const r = await s3ConnectionRefused(server(), 'refused', 105, 3_000);
    console.log(`s3 connection refused: ${JSON.stringify(r)}`);
  });

  it('a writer process SIGKILLed while appending and uploading to S3, twice', {
    timeout: 120_000,
  }, async () => {
    const r = await withPrefix('kill', (s3) => killedWriter(s3, server().uri('kill'), 112));
    console.log(`s3 killed writer: ${JSON.stringify(r)}`);
  });
});
