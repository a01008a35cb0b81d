/**
 * `pnpm bench:wal`: the write-ahead log against the disk it runs on, in one run.
 *
 *  1. Baseline (bench/wal/baseline.ts): raw 4 KiB write + fdatasync latency and raw 4 MiB
 *     sequential write + fdatasync throughput, same directory, same Node I/O path; fio too
 *     when installed.
 *  2. FileWal (bench/wal/cells.ts): append latency p50/p99/p999 for 1, 16 and 256 closed-loop
 *     appenders × 1 KiB, 16 KiB and 1 MiB records, and MB/s of record bytes.
 *  3. Ratios: p99 at 1 appender × 1 KiB / raw fdatasync p99 (goal <= 1.5) and throughput at
 *     256 appenders × 16 KiB / raw sequential throughput (goal >= 0.8).
 *
 * Options: --dir <path> (default .tmp/bench-wal in the repository; a fresh subdirectory is made
 * and removed), --quick (shorter cells), --out <file> (default bench/results/wal.json).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BaselineParams, type BaselineResult, runBaseline } from './baseline.ts';
import { type CellResult, drain, newCounters, runCell } from './cells.ts';
import { openFileWal, type WalFactory } from './filewal.ts';
import { type DiskInfo, diskInfo, machineInfo } from './stats.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

export interface WalBenchParams {
  baseline: BaselineParams;
  /** Size of the WAL file (the ring wraps around; the trimmer keeps it from filling up). */
  walBytes: number;
  recordSizes: number[];
  appenders: number[];
  cellWarmupMs: number;
  cellTimeMs: number;
  maxSamplesPerCell: number;
  metaBytes: number;
  trimAtFraction: number;
  /** The cell whose p99 is compared with the raw fdatasync p99. */
  latencyGoalCell: { recordBytes: number; appenders: number };
  /** The cell whose MB/s is compared with the raw sequential throughput. */
  throughputGoalCell: { recordBytes: number; appenders: number };
}

export const FULL_PARAMS: WalBenchParams = {
  baseline: {
    fileBytes: 256 * MiB,
    latencyWriteBytes: 4 * KiB,
    latencySamples: 5000,
    latencyTimeMs: 10_000,
    throughputWriteBytes: 4 * MiB,
    throughputTimeMs: 5000,
    fio: true,
  },
  walBytes: 1024 * MiB,
  recordSizes: [1 * KiB, 16 * KiB, 1 * MiB],
  appenders: [1, 16, 256],
  cellWarmupMs: 500,
  cellTimeMs: 4000,
  maxSamplesPerCell: 500_000,
  metaBytes: 16,
  trimAtFraction: 0.25,
  latencyGoalCell: { recordBytes: 1 * KiB, appenders: 1 },
  throughputGoalCell: { recordBytes: 16 * KiB, appenders: 256 },
};

export const QUICK_PARAMS: WalBenchParams = {
  ...FULL_PARAMS,
  baseline: { ...FULL_PARAMS.baseline, latencySamples: 2000, latencyTimeMs: 3000, throughputTimeMs: 2000 },
  cellWarmupMs: 200,
  cellTimeMs: 1000,
};

export interface Ratio {
  value: number;
  goal: string;
  met: boolean;
}

export interface WalBenchResult {
  suite: 'wal';
  date: string;
  machine: Record<string, string | number>;
  disk: DiskInfo;
  params: Omit<WalBenchParams, 'baseline'> & { baseline: BaselineParams };
  baseline: BaselineResult;
  cells: CellResult[];
  ratios: {
    p99VsRawFdatasyncP99: Ratio;
    throughputVsRawSequential: Ratio;
    /** Informational: every cell's p99 over the raw 4 KiB fdatasync p99. */
    p99ByCell: Record<string, number>;
  };
}

const cellName = (c: { recordBytes: number; appenders: number }) =>
  `${c.appenders} x ${c.recordBytes >= MiB ? `${c.recordBytes / MiB} MiB` : `${c.recordBytes / KiB} KiB`}`;

function findCell(cells: CellResult[], want: { recordBytes: number; appenders: number }): CellResult {
  const c = cells.find((x) => x.recordBytes === want.recordBytes && x.appenders === want.appenders);
  if (!c) throw new Error(`goal cell ${cellName(want)} was not measured`);
  return c;
}

/**
 * Runs the whole benchmark in a fresh subdirectory of `dir` (removed afterwards) and returns
 * the result document. `factory` opens the WAL under test (default: FileWal).
 */
export async function runWalBench(
  dir: string,
  params: WalBenchParams,
  factory: WalFactory = openFileWal,
  log: (line: string) => void = () => {},
): Promise<WalBenchResult> {
  mkdirSync(dir, { recursive: true });
  const disk = diskInfo(dir);
  const need = Math.max(params.walBytes, params.baseline.fileBytes) + 64 * MiB;
  if (disk.availBytes > 0 && disk.availBytes < 2 * need)
    throw new Error(`not enough free space in ${dir}: ${disk.availBytes} bytes, want ${2 * need}`);
  const work = mkdtempSync(join(dir, 'run-'));
  try {
    log(`baseline in ${work} (${disk.device}, ${disk.fsType})`);
    const baseline = await runBaseline(work, params.baseline);
    const io = newCounters();
    const wal = await factory(join(work, 'bench.wal'), params.walBytes, io);
    const cells: CellResult[] = [];
    try {
      for await (const _ of wal.recover()) {
        // a fresh WAL has nothing to recover
      }
      for (const recordBytes of params.recordSizes) {
        for (const appenders of params.appenders) {
          const cell = await runCell(
            wal,
            {
              recordBytes,
              appenders,
              warmupMs: params.cellWarmupMs,
              timeMs: params.cellTimeMs,
              maxSamples: params.maxSamplesPerCell,
              metaBytes: params.metaBytes,
              trimAtFraction: params.trimAtFraction,
            },
            io,
          );
          await drain(wal);
          cells.push(cell);
          log(`  ${cellName(cell)}: p99 ${cell.p99Ms.toFixed(3)} ms, ${cell.mbPerSec.toFixed(1)} MB/s`);
        }
      }
    } finally {
      await wal.close();
    }
    const rawP99 = baseline.latency.p99Ms;
    const lat = findCell(cells, params.latencyGoalCell).p99Ms / rawP99;
    const thr = findCell(cells, params.throughputGoalCell).mbPerSec / baseline.throughput.mbPerSec;
    return {
      suite: 'wal',
      date: new Date().toISOString(),
      machine: machineInfo(),
      disk,
      params,
      baseline,
      cells,
      ratios: {
        p99VsRawFdatasyncP99: { value: lat, goal: '<= 1.5', met: lat <= 1.5 },
        throughputVsRawSequential: { value: thr, goal: '>= 0.8', met: thr >= 0.8 },
        p99ByCell: Object.fromEntries(cells.map((c) => [cellName(c), +(c.p99Ms / rawP99).toFixed(3)])),
      },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const ms = (v: number) => +v.toFixed(3);

/** Prints the baseline, the cells and the ratios. */
export function printWalBench(r: WalBenchResult): void {
  const b = r.baseline;
  console.log(`\nWAL benchmark on ${r.disk.device} (${r.disk.fsType}, ${r.disk.dir}); ${r.machine.cpuModel}`);
  console.table({
    'raw 4 KiB write + fdatasync (ms)': {
      p50: ms(b.latency.p50Ms),
      p99: ms(b.latency.p99Ms),
      p999: ms(b.latency.p999Ms),
    },
  });
  console.log(
    `raw ${b.throughput.writeBytes / MiB} MiB write + fdatasync: ${b.throughput.mbPerSec.toFixed(0)} MB/s`,
  );
  if (b.fio && 'version' in b.fio)
    console.log(
      `${b.fio.version}: 4 KiB fdatasync p50 ${ms(b.fio.latency.syncP50Ms)} p99 ${ms(b.fio.latency.syncP99Ms)} ms ` +
        `(+ write p99 ${ms(b.fio.latency.writeP99Ms)} ms), sequential ${b.fio.throughput.mbPerSec.toFixed(0)} MB/s`,
    );
  console.table(
    r.cells.map((c) => ({
      cell: cellName(c),
      'p50 ms': ms(c.p50Ms),
      'p99 ms': ms(c.p99Ms),
      'p999 ms': ms(c.p999Ms),
      'MB/s': +c.mbPerSec.toFixed(1),
      appends: c.appends,
      groups: c.groups,
      'recs/group': +c.avgRecordsPerGroup.toFixed(1),
      'KiB/group': +(c.avgGroupBytes / KiB).toFixed(1),
    })),
  );
  const { p99VsRawFdatasyncP99: l, throughputVsRawSequential: t } = r.ratios;
  console.log(
    `p99 ${cellName(r.params.latencyGoalCell)} / raw fdatasync p99: ${l.value.toFixed(2)} (goal ${l.goal}: ${l.met ? 'met' : 'MISSED'})`,
  );
  console.log(
    `MB/s ${cellName(r.params.throughputGoalCell)} / raw sequential: ${t.value.toFixed(2)} (goal ${t.goal}: ${t.met ? 'met' : 'MISSED'})`,
  );
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const dir = argValue('--dir') ?? join(root, '.tmp', 'bench-wal');
  const out = argValue('--out') ?? join(root, 'bench', 'results', 'wal.json');
  const params = process.argv.includes('--quick') ? QUICK_PARAMS : FULL_PARAMS;
  const result = await runWalBench(dir, params, openFileWal, (line) => console.log(line));
  printWalBench(result);
  const { writeFileSync } = await import('node:fs');
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
