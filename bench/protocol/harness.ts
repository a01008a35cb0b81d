/**
 * A small throughput harness over tinybench shared by the protocol micro-benchmarks.
 *
 * A suite is a list of tasks, each with the number of bytes one call processes; results are
 * reported as GB/s (10^9 bytes per second) from the median latency, together with the machine
 * they ran on, and can be written as JSON under bench/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { Bench } from 'tinybench';

/** One benchmarked operation. */
export interface ThroughputTask {
  name: string;
  /** Bytes processed by one call of `fn` (used for GB/s). */
  bytes: number;
  fn: () => unknown;
}

/** Measured result of one task. */
export interface ThroughputResult {
  name: string;
  bytes: number;
  samples: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  /** bytes / median latency, in 10^9 bytes per second. */
  gbPerSec: number;
}

/** Timing budget; tiny values make a smoke test. */
export interface SuiteOptions {
  timeMs?: number;
  warmupMs?: number;
  iterations?: number;
}

/** The machine a result was measured on (absolute numbers are only comparable within one run). */
export function machineInfo(): Record<string, string | number> {
  const cpu = cpus();
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpuModel: cpu[0]?.model ?? 'unknown',
    cpuCount: cpu.length,
    memoryBytes: totalmem(),
  };
}

/** Runs `tasks` sequentially with tinybench and returns one result per task. */
export async function runThroughputSuite(
  tasks: readonly ThroughputTask[],
  options: SuiteOptions = {},
): Promise<ThroughputResult[]> {
  const bench = new Bench({
    time: options.timeMs ?? 1000,
    warmupTime: options.warmupMs ?? 200,
    iterations: options.iterations ?? 10,
    throws: true,
  });
  for (const t of tasks) bench.add(t.name, t.fn);
  await bench.run();
  return tasks.map((t, i) => {
    const result = bench.tasks[i].result as {
      state: string;
      latency?: { mean: number; p50?: number; p99?: number; samplesCount?: number; samples?: number[] };
    };
    if (result.latency === undefined)
      throw new Error(`benchmark task ${t.name} did not complete (${result.state})`);
    const lat = result.latency;
    const p50 = lat.p50 ?? lat.mean;
    return {
      name: t.name,
      bytes: t.bytes,
      samples: lat.samplesCount ?? lat.samples?.length ?? 0,
      meanMs: lat.mean,
      p50Ms: p50,
      p99Ms: lat.p99 ?? lat.mean,
      gbPerSec: p50 > 0 ? t.bytes / (p50 / 1000) / 1e9 : Number.POSITIVE_INFINITY,
    };
  });
}

/** Prints results as a table. */
export function printResults(title: string, results: readonly ThroughputResult[]): void {
  console.log(`\n${title}`);
  console.table(
    results.map((r) => ({
      task: r.name,
      'MiB/op': +(r.bytes / 2 ** 20).toFixed(3),
      'p50 ms': +r.p50Ms.toFixed(4),
      'GB/s': +r.gbPerSec.toFixed(3),
      samples: r.samples,
    })),
  );
}

/** Writes `{ suite, machine, date, extra, results }` as JSON to `path` (directories created). */
export function writeResults(
  path: string,
  suite: string,
  results: readonly ThroughputResult[],
  extra: Record<string, unknown> = {},
): void {
  mkdirSync(dirname(path), { recursive: true });
  const doc = { suite, date: new Date().toISOString(), machine: machineInfo(), ...extra, results };
  writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`);
}
