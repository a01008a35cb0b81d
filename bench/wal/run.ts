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
 * and removed), --quick (shorter cells), --out <file> (default bench/results/wal.json),
 * --group-bytes-max <bytes> (FileWal option, for experiments).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WriteAheadLog } from '../../packages/wal/src/index.ts';
import {
  type BaselineParams,
  type BaselineResult,
  openRaw,
  type RawCursor,
  runBaseline,
} from './baseline.ts';
import { type CellResult, drain, type IoCounters, newCounters, runCell } from './cells.ts';
import { fileWalFactory, openFileWal, type WalFactory } from './filewal.ts';
import {
  type PairedLatency,
  type PairedParams,
  type PairedThroughput,
  pairedLatency,
  pairedThroughput,
} from './paired.ts';
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
  /** Interleaved raw/WAL blocks for the goal ratios (bench/wal/paired.ts). */
  paired: PairedParams;
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
  paired: { rounds: 32, blockMs: 250, warmupMs: 50, maxSamples: 500_000 },
};

export const QUICK_PARAMS: WalBenchParams = {
  ...FULL_PARAMS,
  baseline: { ...FULL_PARAMS.baseline, latencySamples: 2000, latencyTimeMs: 3000, throughputTimeMs: 2000 },
  cellWarmupMs: 200,
  cellTimeMs: 1000,
  paired: { ...FULL_PARAMS.paired, rounds: 12 },
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
  /** The goal cells interleaved with their raw counterparts. */
  paired: { latency: PairedLatency; throughput: PairedThroughput };
  ratios: {
    /** Goal: paired p99 of the latency goal cell / paired raw 4 KiB write + fdatasync p99. */
    p99VsRawFdatasyncP99: Ratio;
    /** Goal: paired MB/s of the throughput goal cell / paired raw sequential MB/s. */
    throughputVsRawSequential: Ratio;
    /** The same two from the standalone baseline and cells (measured up to a minute apart). */
    standalone: { p99VsRawFdatasyncP99: number; throughputVsRawSequential: number };
    /** Informational: every cell's p99 over the paired raw 4 KiB write + fdatasync p99. */
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
    const rawPath = join(work, 'baseline.dat');
    const raw = await openRaw(rawPath, params.baseline.fileBytes);
    try {
      const baseline = await runBaseline(raw, rawPath, params.baseline);
      const io = newCounters();
      const wal = await factory(join(work, 'bench.wal'), params.walBytes, io);
      try {
        for await (const _ of wal.recover()) {
          // a fresh WAL has nothing to recover
        }
        const cells = await runCells(wal, io, params, log);
        const paired = await runPaired(raw, wal, io, params, log);
        return report(params, disk, baseline, cells, paired);
      } finally {
        await wal.close();
      }
    } finally {
      await raw.fh.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function cellParams(params: WalBenchParams, recordBytes: number, appenders: number) {
  return {
    recordBytes,
    appenders,
    warmupMs: params.cellWarmupMs,
    timeMs: params.cellTimeMs,
    maxSamples: params.maxSamplesPerCell,
    metaBytes: params.metaBytes,
    trimAtFraction: params.trimAtFraction,
  };
}

async function runCells(
  wal: WriteAheadLog,
  io: IoCounters,
  params: WalBenchParams,
  log: (line: string) => void,
): Promise<CellResult[]> {
  const cells: CellResult[] = [];
  for (const recordBytes of params.recordSizes) {
    for (const appenders of params.appenders) {
      const cell = await runCell(wal, cellParams(params, recordBytes, appenders), io);
      await drain(wal);
      cells.push(cell);
      log(`  ${cellName(cell)}: p99 ${cell.p99Ms.toFixed(3)} ms, ${cell.mbPerSec.toFixed(1)} MB/s`);
    }
  }
  return cells;
}

async function runPaired(
  raw: RawCursor,
  wal: WriteAheadLog,
  io: IoCounters,
  params: WalBenchParams,
  log: (line: string) => void,
): Promise<WalBenchResult['paired']> {
  const { latencyGoalCell: lc, throughputGoalCell: tc, baseline: b } = params;
  const latency = await pairedLatency(
    raw,
    b.latencyWriteBytes,
    wal,
    io,
    cellParams(params, lc.recordBytes, lc.appenders),
    params.paired,
  );
  log(
    `  paired ${cellName(lc)}: p99 ${latency.wal.p99Ms.toFixed(3)} ms vs raw ${latency.raw.p99Ms.toFixed(3)} ms`,
  );
  const throughput = await pairedThroughput(
    raw,
    b.throughputWriteBytes,
    wal,
    io,
    cellParams(params, tc.recordBytes, tc.appenders),
    params.paired,
  );
  log(
    `  paired ${cellName(tc)}: ${throughput.walMbPerSec.toFixed(0)} MB/s vs raw ${throughput.rawMbPerSec.toFixed(0)} MB/s`,
  );
  return { latency, throughput };
}

function report(
  params: WalBenchParams,
  disk: DiskInfo,
  baseline: BaselineResult,
  cells: CellResult[],
  paired: WalBenchResult['paired'],
): WalBenchResult {
  const rawP99 = baseline.latency.p99Ms;
  const lat = paired.latency.p99Ratio;
  const thr = paired.throughput.ratio;
  return {
    suite: 'wal',
    date: new Date().toISOString(),
    machine: machineInfo(),
    disk,
    params,
    baseline,
    cells,
    paired,
    ratios: {
      p99VsRawFdatasyncP99: { value: lat, goal: '<= 1.5', met: lat <= 1.5 },
      throughputVsRawSequential: { value: thr, goal: '>= 0.8', met: thr >= 0.8 },
      standalone: {
        p99VsRawFdatasyncP99: findCell(cells, params.latencyGoalCell).p99Ms / rawP99,
        throughputVsRawSequential:
          findCell(cells, params.throughputGoalCell).mbPerSec / baseline.throughput.mbPerSec,
      },
      p99ByCell: Object.fromEntries(
        cells.map((c) => [cellName(c), +(c.p99Ms / paired.latency.raw.p99Ms).toFixed(3)]),
      ),
    },
  };
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
      'I/O busy': +c.ioBusyFraction.toFixed(2),
    })),
  );
  const { latency: pl, throughput: pt } = r.paired;
  console.log(
    `paired (alternating ops; ${pt.rounds} x ${pt.blockMs} ms blocks): ${cellName(pl)} p50/p99/p999 ` +
      `${ms(pl.wal.p50Ms)}/${ms(pl.wal.p99Ms)}/${ms(pl.wal.p999Ms)} ms vs raw ` +
      `${ms(pl.raw.p50Ms)}/${ms(pl.raw.p99Ms)}/${ms(pl.raw.p999Ms)} ms; ` +
      `${cellName(pt)} ${pt.walMbPerSec.toFixed(0)} MB/s vs raw ${pt.rawMbPerSec.toFixed(0)} MB/s`,
  );
  const { p99VsRawFdatasyncP99: l, throughputVsRawSequential: t, standalone: s } = r.ratios;
  console.log(
    `standalone ratios: p99 ${s.p99VsRawFdatasyncP99.toFixed(2)}, throughput ${s.throughputVsRawSequential.toFixed(2)}`,
  );
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
  const groupBytesMax = argValue('--group-bytes-max');
  const factory =
    groupBytesMax === undefined ? openFileWal : fileWalFactory({ groupBytesMax: Number(groupBytesMax) });
  const result = await runWalBench(dir, params, factory, (line) => console.log(line));
  if (groupBytesMax !== undefined) Object.assign(result.params, { groupBytesMax: Number(groupBytesMax) });
  printWalBench(result);
  const { writeFileSync } = await import('node:fs');
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
