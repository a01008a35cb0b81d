/**
 * Latency statistics and machine/disk description for the WAL benchmark.
 *
 * Latencies are collected per operation with `process.hrtime.bigint()` into a bounded
 * Float64Array (milliseconds) and summarised with nearest-rank percentiles.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { basename } from 'node:path';

/** Percentile summary of a latency sample, in milliseconds. */
export interface LatencySummary {
  samples: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** A bounded recorder of per-operation latencies (samples beyond the capacity are dropped). */
export class LatencyRecorder {
  private readonly values: Float64Array;
  private n = 0;

  constructor(capacity: number) {
    this.values = new Float64Array(capacity);
  }

  /** Records one latency given its start and end `process.hrtime.bigint()` readings. */
  record(startNs: bigint, endNs: bigint): void {
    if (this.n < this.values.length) this.values[this.n++] = Number(endNs - startNs) / 1e6;
  }

  get full(): boolean {
    return this.n === this.values.length;
  }

  get count(): number {
    return this.n;
  }

  summary(): LatencySummary {
    return summarize(this.values.subarray(0, this.n));
  }
}

/** Nearest-rank percentile of an ascending-sorted sample (q in [0, 1]). */
export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Summarises latencies in milliseconds (the input is copied, not reordered). */
export function summarize(values: Float64Array): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    samples: sorted.length,
    meanMs: sorted.length ? sum / sorted.length : Number.NaN,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    p999Ms: percentile(sorted, 0.999),
    maxMs: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
  };
}

/** Megabytes (10^6 bytes) per second. */
export function mbPerSec(bytes: number, elapsedNs: bigint): number {
  return bytes / (Number(elapsedNs) / 1e9) / 1e6;
}

/** The filesystem holding `dir`, from `df`, and what the kernel says about its block device. */
export interface DiskInfo {
  dir: string;
  device: string;
  fsType: string;
  mountpoint: string;
  sizeBytes: number;
  availBytes: number;
  rotational?: boolean;
  scheduler?: string;
  model?: string;
}

/** Describes the filesystem and device of `dir` (fields are 'unknown' when `df` is missing). */
export function diskInfo(dir: string): DiskInfo {
  const info: DiskInfo = {
    dir,
    device: 'unknown',
    fsType: 'unknown',
    mountpoint: 'unknown',
    sizeBytes: 0,
    availBytes: 0,
  };
  try {
    const out = execFileSync('df', ['-P', '-T', '-B1', dir], { encoding: 'utf8', timeout: 5000 });
    const fields = out.trim().split('\n').at(-1)!.split(/\s+/);
    info.device = fields[0];
    info.fsType = fields[1];
    info.sizeBytes = Number(fields[2]);
    info.availBytes = Number(fields[4]);
    info.mountpoint = fields[6];
  } catch {
    return info;
  }
  const dev = basename(info.device);
  const sys = (p: string): string | undefined => {
    try {
      return readFileSync(`/sys/block/${dev}/${p}`, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const rotational = sys('queue/rotational');
  if (rotational !== undefined) info.rotational = rotational === '1';
  info.scheduler = sys('queue/scheduler');
  info.model = sys('device/model');
  return info;
}

/** The machine a result was measured on. */
export function machineInfo(): Record<string, string | number> {
  const cpu = cpus();
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    kernel: release(),
    cpuModel: cpu[0]?.model ?? 'unknown',
    cpuCount: cpu.length,
    memoryBytes: totalmem(),
    uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
  };
}
