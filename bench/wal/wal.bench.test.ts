import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FULL_PARAMS, printWalBench, runWalBench, type WalBenchParams } from './run.ts';
import { percentile, summarize } from './stats.ts';

const KiB = 1024;

const TINY: WalBenchParams = {
  baseline: {
    fileBytes: 1024 * KiB,
    latencyWriteBytes: 4 * KiB,
    latencySamples: 20,
    latencyTimeMs: 200,
    throughputWriteBytes: 256 * KiB,
    throughputTimeMs: 50,
    fio: false,
  },
  walBytes: 8 * 1024 * KiB,
  recordSizes: [1 * KiB, 16 * KiB],
  appenders: [1, 4],
  cellWarmupMs: 10,
  cellTimeMs: 60,
  maxSamplesPerCell: 10_000,
  metaBytes: 16,
  trimAtFraction: 0.25,
  latencyGoalCell: { recordBytes: 1 * KiB, appenders: 1 },
  throughputGoalCell: { recordBytes: 16 * KiB, appenders: 4 },
  paired: { rounds: 2, blockMs: 30, warmupMs: 5, maxSamples: 10_000 },
};

const dir = mkdtempSync(join(tmpdir(), 'bench-wal-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('wal bench (smoke)', () => {
  it('nearest-rank percentiles', () => {
    const v = Float64Array.from({ length: 1000 }, (_, i) => 1000 - i);
    expect(percentile(Float64Array.from(v).sort(), 0.5)).toBe(500);
    const s = summarize(v);
    expect([s.p50Ms, s.p99Ms, s.p999Ms, s.maxMs, s.samples]).toEqual([500, 990, 999, 1000, 1000]);
    expect(s.meanMs).toBeCloseTo(500.5);
    expect(Number.isNaN(summarize(new Float64Array(0)).p99Ms)).toBe(true);
  });

  it('the full parameters cover the cells and goals of issue 3', () => {
    expect(FULL_PARAMS.recordSizes).toEqual([1024, 16 * 1024, 1024 * 1024]);
    expect(FULL_PARAMS.appenders).toEqual([1, 16, 256]);
    expect(FULL_PARAMS.latencyGoalCell).toEqual({ recordBytes: 1024, appenders: 1 });
    expect(FULL_PARAMS.throughputGoalCell).toEqual({ recordBytes: 16 * 1024, appenders: 256 });
  });

  it('runs end to end with tiny parameters, reports every cell and cleans up', async () => {
    const r = await runWalBench(dir, TINY);
    expect(r.suite).toBe('wal');
    expect(r.disk.fsType).toEqual(expect.any(String));
    expect(r.machine.cpuCount).toBeGreaterThan(0);
    expect(r.baseline.latency.samples).toBeGreaterThan(0);
    expect(r.baseline.latency.p99Ms).toBeGreaterThan(0);
    expect(r.baseline.throughput.mbPerSec).toBeGreaterThan(0);
    expect(r.cells.map((c) => [c.recordBytes, c.appenders])).toEqual([
      [KiB, 1],
      [KiB, 4],
      [16 * KiB, 1],
      [16 * KiB, 4],
    ]);
    for (const c of r.cells) {
      expect(c.samples).toBeGreaterThan(0);
      expect(c.p50Ms).toBeGreaterThan(0);
      expect(c.p99Ms).toBeGreaterThanOrEqual(c.p50Ms);
      expect(c.p999Ms).toBeGreaterThanOrEqual(c.p99Ms);
      expect(c.appends).toBeGreaterThan(0);
      expect(c.mbPerSec).toBeGreaterThan(0);
      // group commit: one data write per group, at least one fdatasync per group
      expect(c.groups).toBeGreaterThan(0);
      expect(c.datasyncs).toBeGreaterThanOrEqual(c.groups);
      expect(c.avgGroupBytes).toBeGreaterThanOrEqual(c.recordBytes);
    }
    for (const ratio of [r.ratios.p99VsRawFdatasyncP99, r.ratios.throughputVsRawSequential]) {
      expect(Number.isFinite(ratio.value) && ratio.value > 0).toBe(true);
      expect(typeof ratio.met).toBe('boolean');
    }
    expect(Object.keys(r.ratios.p99ByCell)).toHaveLength(4);
    expect(r.paired.latency.raw.samples).toBeGreaterThan(0);
    expect(r.paired.latency.wal.samples).toBeGreaterThan(0);
    expect(r.ratios.p99VsRawFdatasyncP99.value).toBe(r.paired.latency.p99Ratio);
    expect(r.paired.throughput.perRound).toHaveLength(2);
    expect(r.ratios.throughputVsRawSequential.value).toBe(r.paired.throughput.ratio);
    expect(Number.isFinite(r.ratios.standalone.p99VsRawFdatasyncP99)).toBe(true);
    expect(JSON.parse(JSON.stringify(r)).cells).toHaveLength(4);
    expect(readdirSync(dir)).toEqual([]);
    const lines: unknown[] = [];
    const spy = { log: console.log, table: console.table };
    console.log = (...a: unknown[]) => lines.push(a);
    console.table = (...a: unknown[]) => lines.push(a);
    try {
      printWalBench(r);
    } finally {
      Object.assign(console, spy);
    }
    expect(lines.length).toBeGreaterThan(3);
  }, 20_000);
});
