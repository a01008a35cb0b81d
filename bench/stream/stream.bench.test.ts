import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCatchup } from './catchup.ts';
import { batchSizes, KiB, MiB, median, windowed } from './common.ts';
import { runLatency } from './latency.ts';
import { runRequests, runRequestsCell } from './requests.ts';
import { FULL_PARAMS, printStreamBench, type StreamBenchParams } from './run.ts';

const TINY: StreamBenchParams = {
  requests: {
    streamCounts: [1, 100, 1000],
    totalBytes: 24 * MiB,
    // 16 KiB batches: a 2 MiB object then holds 128 streams at 1000 (a commit in parts)
    batchMinBytes: 16 * KiB,
    batchMaxBytes: 16 * KiB,
    uploadBytesThreshold: 2 * MiB,
    // larger than the data: no backpressure, whose small seals would blur the PUT count
    cacheBytesMax: 32 * MiB,
    window: 32,
    seed: 7,
    objectStore: 'memory',
    throttled: { streamCounts: [1], totalBytes: 2 * MiB, put: { latencyMs: 1, mbPerSec: 2000 } },
  },
  catchup: {
    totalBytes: 4 * MiB,
    batchMinBytes: 16 * KiB,
    batchMaxBytes: 64 * KiB,
    uploadBytesThreshold: 1 * MiB,
    cacheBytesMax: 4 * MiB,
    fetchMaxBytes: 256 * KiB,
    rounds: 2,
    segments: 2,
    seed: 3,
    rawConcurrency: 4,
  },
  latency: {
    walBytes: 32 * MiB,
    cacheBytesMax: 8 * MiB,
    uploadBytesThreshold: 1 * MiB,
    single: { recordBytes: 1 * KiB, warmupMs: 20, timeMs: 200 },
    concurrent: { recordBytes: 16 * KiB, appenders: 4, rounds: 2, blockMs: 60, warmupMs: 20 },
    maxSamples: 100_000,
  },
};

const dir = mkdtempSync(join(tmpdir(), 'bench-stream-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('stream bench (smoke)', () => {
  it('helpers: seeded sizes, median, bounded window', async () => {
    const a = batchSizes(10 * MiB, 16 * KiB, 64 * KiB, 5);
    expect(batchSizes(10 * MiB, 16 * KiB, 64 * KiB, 5)).toEqual(a);
    expect(a.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(10 * MiB);
    expect(a.every((s) => s >= 16 * KiB && s <= 64 * KiB && s % KiB === 0)).toBe(true);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    let inFlight = 0;
    let peak = 0;
    await windowed(50, 4, async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
    });
    expect(peak).toBe(4);
  });

  it('the full parameters are those of the issue', () => {
    expect(FULL_PARAMS.requests.streamCounts).toEqual([1, 100, 1000]);
    expect(FULL_PARAMS.latency.single.recordBytes).toBe(KiB);
    expect(FULL_PARAMS.latency.concurrent).toMatchObject({ recordBytes: 16 * KiB, appenders: 16 });
  });

  it('requests: PUTs per GiB do not grow with the stream count', async () => {
    const r = await runRequests(TINY.requests);
    const [one, hundred, thousand] = r.cells;
    for (const c of r.cells) expect(c.error).toBeUndefined();
    expect(one!.bytes).toBe(hundred!.bytes);
    expect(one!.bytes).toBe(thousand!.bytes);
    expect(Math.abs(thousand!.objectStore.put - one!.objectStore.put)).toBeLessThanOrEqual(1);
    // 24 MiB in 2 MiB objects: about 12 PUTs, whatever the number of streams
    expect(one!.objectStore.put).toBeGreaterThanOrEqual(12);
    expect(one!.objectStore.put).toBeLessThanOrEqual(13);
    expect(Math.abs(hundred!.objectStore.put - one!.objectStore.put)).toBeLessThanOrEqual(1);
    expect(one!.objectStore.putBytes).toBeGreaterThanOrEqual(one!.bytes);
    expect(one!.objectStore.get).toBe(0);
    // a commit per object (plus the object id allocation)
    expect(hundred!.metadata.txn).toBeGreaterThanOrEqual(hundred!.objectStore.put);
    expect(hundred!.metadata.txn).toBeLessThanOrEqual(3 * hundred!.objectStore.put);
    expect(hundred!.openTxns).toBeGreaterThanOrEqual(100);
    expect(r.putGrowth).toBeGreaterThan(0.9);
    expect(r.putGrowth).toBeLessThan(1.1);
    expect(r.throttledCells).toHaveLength(1);
    expect(r.throttledCells[0]!.objectStore.put).toBeGreaterThan(0);
  }, 20_000);

  it('requests: a cell below the threshold makes one object at flush', async () => {
    const c = await runRequestsCell(3, { ...TINY.requests, totalBytes: 1 * MiB, objectStore: 'discard' });
    expect(c.error).toBeUndefined();
    expect(c.objectStore.put).toBe(1);
    expect(c.avgObjectBytes).toBeGreaterThan(c.bytes);
  });

  it('catchup: reads every byte back cold from moto and times raw GETs of the same objects', async () => {
    const r = await runCatchup(TINY.catchup);
    expect(r.objects).toBeGreaterThanOrEqual(4);
    expect(r.objectBytes).toBeGreaterThan(r.dataBytes);
    expect(r.pairs.map((x) => [x.round, x.segment, x.order])).toEqual([
      [1, 1, 'stream-first'],
      [1, 2, 'raw-first'],
      [2, 1, 'raw-first'],
      [2, 2, 'stream-first'],
    ]);
    for (const round of [1, 2]) {
      const pairs = r.pairs.filter((x) => x.round === round);
      // every batch and every object byte read once per round
      expect(pairs.reduce((n, x) => n + x.stream.bytes, 0)).toBe(r.dataBytes);
      expect(pairs.reduce((n, x) => n + x.raw.bytes, 0)).toBe(r.objectBytes);
    }
    for (const x of r.pairs) {
      // cold: at least one tail GET and one data GET per object of the segment
      expect(x.stream.gets).toBeGreaterThanOrEqual(r.objects);
      expect(x.raw.gets).toBeGreaterThanOrEqual(r.objects / 2);
      expect(x.stream.mbPerSec).toBeGreaterThan(0);
      expect(x.raw.getsInFlightMax).toBe(1);
      expect(x.rawParallel!.bytes).toBe(x.raw.bytes);
      expect(x.rawParallel!.getsInFlightMax).toBeGreaterThan(1);
    }
    expect(Number.isFinite(r.ratio) && r.ratio > 0).toBe(true);
    expect(Number.isFinite(r.pooledRatio) && r.pooledRatio > 0).toBe(true);
    expect(r.ratioToParallel).toBeGreaterThan(0);
    expect(Number.isFinite(r.ratio) && r.ratio > 0).toBe(true);
  }, 20_000);

  it('latency: stream.append and wal.append interleaved, and prints a summary', async () => {
    const l = await runLatency(dir, TINY.latency);
    for (const c of [l.single, l.concurrent]) {
      expect(c.bare.samples).toBeGreaterThan(0);
      expect(c.stream.samples).toBeGreaterThan(0);
      expect(c.stream.p99Ms).toBeGreaterThanOrEqual(c.stream.p50Ms);
      expect(Number.isFinite(c.p99Ratio) && c.p99Ratio > 0).toBe(true);
      for (const side of [c.bare, c.stream]) {
        // group commit: a group write and at least one fdatasync per group
        expect(side.io.groups).toBeGreaterThan(0);
        expect(side.io.datasyncs).toBeGreaterThanOrEqual(side.io.groups);
        expect(side.io.avgAppendsPerGroup).toBeGreaterThanOrEqual(1);
      }
    }
    // strictly alternating: as many stream appends as WAL appends
    expect(l.single.stream.samples).toBe(l.single.bare.samples);
    expect(l.concurrent.appenders).toBe(4);
    expect(readdirSync(dir)).toEqual([]);
    const lines: unknown[] = [];
    const saved = { log: console.log, table: console.table };
    console.log = (...a: unknown[]) => lines.push(a);
    console.table = (...a: unknown[]) => lines.push(a);
    try {
      printStreamBench({
        suite: 'stream',
        date: '',
        machine: {},
        dates: {},
        latency: {
          ...l,
          disk: { dir, device: 'x', fsType: 'x', mountpoint: '/', sizeBytes: 0, availBytes: 0 },
        },
      });
    } finally {
      Object.assign(console, saved);
    }
    expect(lines.length).toBeGreaterThan(1);
  }, 20_000);
});
