/**
 * `pnpm bench:stream`: the stream layer (packages/stream) in three measurements.
 *
 *  1. requests (bench/stream/requests.ts): object-storage requests, PUTs and metadata
 *     transactions per GiB ingested with 1, 100 and 1000 streams at equal bytes (PUTs must not
 *     grow with the stream count), plus slow-PUT cells where uploads fall behind.
 *  2. catchup (bench/stream/catchup.ts): cold catch-up read MB/s of a new StreamStore from
 *     S3 (moto_server) against raw ranged GETs of the same objects, interleaved rounds,
 *     median ratio (goal >= 0.8).
 *  3. latency (bench/stream/latency.ts): p50/p99 of `stream.append` to durable against the
 *     bare FileWal's `wal.append`, 1 × 1 KiB and 16 × 16 KiB, interleaved.
 *
 * Usage: pnpm bench:stream [requests] [catchup] [latency] [--quick] [--out <file>] [--dir <path>]
 * (no names = all three). Writes bench/results/stream.json; a run of some parts keeps the
 * other parts of an existing file. --dir: where the latency WALs go (default .tmp/bench-stream).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diskInfo, machineInfo } from '../wal/stats.ts';
import { type CatchupParams, type CatchupResult, runCatchup } from './catchup.ts';
import { KiB, MiB } from './common.ts';
import { type LatencyParams, type LatencyResult, runLatency } from './latency.ts';
import { type RequestsParams, type RequestsResult, runRequests } from './requests.ts';

export const PARTS = ['requests', 'catchup', 'latency'] as const;
export type Part = (typeof PARTS)[number];

export interface StreamBenchParams {
  requests: RequestsParams;
  catchup: CatchupParams;
  latency: LatencyParams;
}

export const FULL_PARAMS: StreamBenchParams = {
  requests: {
    streamCounts: [1, 100, 1000],
    totalBytes: 1024 * MiB,
    batchMinBytes: 16 * KiB,
    batchMaxBytes: 64 * KiB,
    uploadBytesThreshold: 16 * MiB,
    cacheBytesMax: 64 * MiB,
    window: 64,
    seed: 1,
    objectStore: 'discard',
    throttled: { streamCounts: [1, 100], totalBytes: 128 * MiB, put: { latencyMs: 30, mbPerSec: 100 } },
  },
  catchup: {
    totalBytes: 256 * MiB,
    batchMinBytes: 16 * KiB,
    batchMaxBytes: 64 * KiB,
    uploadBytesThreshold: 16 * MiB,
    cacheBytesMax: 64 * MiB,
    fetchMaxBytes: 1 * MiB,
    rounds: 3,
    segments: 4,
    seed: 2,
    rawConcurrency: 16,
  },
  latency: {
    walBytes: 512 * MiB,
    cacheBytesMax: 64 * MiB,
    uploadBytesThreshold: 16 * MiB,
    single: { recordBytes: 1 * KiB, warmupMs: 300, timeMs: 8000 },
    concurrent: { recordBytes: 16 * KiB, appenders: 16, rounds: 16, blockMs: 250, warmupMs: 200 },
    maxSamples: 1_000_000,
  },
};

export const QUICK_PARAMS: StreamBenchParams = {
  requests: {
    ...FULL_PARAMS.requests,
    totalBytes: 256 * MiB,
    throttled: { ...FULL_PARAMS.requests.throttled!, totalBytes: 64 * MiB },
  },
  catchup: { ...FULL_PARAMS.catchup, totalBytes: 128 * MiB, rounds: 2 },
  latency: {
    ...FULL_PARAMS.latency,
    single: { ...FULL_PARAMS.latency.single, timeMs: 3000 },
    concurrent: { ...FULL_PARAMS.latency.concurrent, rounds: 8 },
  },
};

export interface StreamBenchResult {
  suite: 'stream';
  date: string;
  machine: Record<string, string | number>;
  /** The commit measured, and whether packages/ had uncommitted changes then. */
  source?: { commit: string; packagesDirty: boolean };
  /** When each part last ran (a partial run keeps the other parts of the previous file). */
  dates: Partial<Record<Part, string>>;
  /** 1-minute load average before and after each part (the machine is shared). */
  load?: Partial<Record<Part, [number, number]>>;
  requests?: RequestsResult;
  catchup?: CatchupResult;
  latency?: LatencyResult & { disk: ReturnType<typeof diskInfo> };
}

/** Runs the selected parts; `dir` holds the latency WAL files (a fresh subdirectory, removed). */
export async function runStreamBench(
  params: StreamBenchParams,
  parts: readonly Part[],
  dir: string,
  log: (line: string) => void = () => {},
): Promise<StreamBenchResult> {
  const out: StreamBenchResult = { suite: 'stream', date: '', machine: machineInfo(), dates: {}, load: {} };
  for (const part of parts) {
    const load0 = +loadavg()[0]!.toFixed(2);
    log(`${part}: (load average ${load0})`);
    const t0 = Date.now();
    if (part === 'requests') out.requests = await runRequests(params.requests, log);
    if (part === 'catchup') out.catchup = await runCatchup(params.catchup, log);
    if (part === 'latency') {
      mkdirSync(dir, { recursive: true });
      out.latency = { ...(await runLatency(dir, params.latency, log)), disk: diskInfo(dir) };
    }
    out.dates[part] = new Date().toISOString();
    out.load![part] = [load0, +loadavg()[0]!.toFixed(2)];
    log(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  out.date = new Date().toISOString();
  return out;
}

/** HEAD and whether packages/ differs from it (the benchmark runs the working tree). */
function sourceInfo(root: string): StreamBenchResult['source'] {
  try {
    const git = (...a: string[]) =>
      execFileSync('git', ['-C', root, ...a], { encoding: 'utf8', timeout: 10_000 }).trim();
    return {
      commit: git('rev-parse', 'HEAD'),
      packagesDirty: git('status', '--porcelain', '--', 'packages') !== '',
    };
  } catch {
    return undefined;
  }
}

const mib = (b: number) => +(b / MiB).toFixed(2);

/** Prints a summary table per part. */
export function printStreamBench(r: StreamBenchResult): void {
  if (r.requests) {
    const q = r.requests;
    console.log(
      `\nObject-storage requests per GiB ingested (${mib(q.params.totalBytes)} MiB of ${q.params.batchMinBytes / KiB}–` +
        `${q.params.batchMaxBytes / KiB} KiB batches, uploadBytesThreshold ${mib(q.params.uploadBytesThreshold)} MiB, ` +
        `cache ${mib(q.params.cacheBytesMax)} MiB)`,
    );
    console.table(
      [...q.cells, ...q.throttledCells].map((c) => ({
        streams: c.streams,
        store: c.putThrottle
          ? `slow PUT ${c.putThrottle.latencyMs} ms + ${c.putThrottle.mbPerSec} MB/s`
          : 'fast',
        MiB: mib(c.bytes),
        PUTs: c.objectStore.put,
        'PUTs/GiB': c.putsPerGiB,
        'requests/GiB': c.requestsPerGiB,
        'txns/GiB': c.metadataTxnsPerGiB,
        'avg object MiB': mib(c.avgObjectBytes),
        'MB/s': c.mbPerSec,
        error: c.error ?? '',
      })),
    );
    console.log(`PUTs/GiB at the largest stream count that ran / at 1 stream: ${q.putGrowth} (goal ~1)`);
  }
  if (r.catchup) {
    const c = r.catchup;
    console.log(
      `\nCold catch-up from S3 (${c.server}): ${mib(c.dataBytes)} MiB in ${c.objects} objects, fetch maxBytes ` +
        `${mib(c.params.fetchMaxBytes)} MiB vs raw ranged GETs of the same size`,
    );
    console.table(
      c.pairs.map((x) => ({
        round: x.round,
        segment: x.segment,
        order: x.order,
        'stream MB/s': x.stream.mbPerSec,
        'stream GETs': x.stream.gets,
        'stream GETs in flight': x.stream.avgGetsInFlight,
        'raw MB/s': x.raw.mbPerSec,
        'raw GETs': x.raw.gets,
        ratio: x.ratio,
        [`raw x${c.params.rawConcurrency} MB/s`]: x.rawParallel?.mbPerSec ?? '',
      })),
    );
    if (c.rawParallelMbPerSec !== undefined)
      console.log(
        `raw with ${c.params.rawConcurrency} GETs in flight: median ${c.rawParallelMbPerSec} MB/s ` +
          `(stream / it = ${c.ratioToParallel})`,
      );
    console.log(
      `median stream ${c.streamMbPerSec} MB/s / median raw ${c.rawMbPerSec} MB/s = ${c.ratio} ` +
        `(median of pair ratios ${c.medianPairRatio}, pooled ${c.pooledRatio}; goal ${c.goal}: ${c.met ? 'met' : 'MISSED'})`,
    );
  }
  if (r.latency) {
    const l = r.latency;
    console.log(
      `\nAppend to durable, stream layer vs bare FileWal (interleaved; ${l.disk.device}, ${l.disk.fsType})`,
    );
    console.table(
      [l.single, l.concurrent].flatMap((c) =>
        (['bare', 'stream'] as const).map((side) => ({
          cell: `${c.appenders} x ${c.recordBytes / KiB} KiB`,
          side: side === 'bare' ? 'wal.append' : 'stream.append',
          samples: c[side].samples,
          'p50 ms': c[side].p50Ms,
          'p99 ms': c[side].p99Ms,
          'p999 ms': c[side].p999Ms,
          'MB/s': c[side].mbPerSec,
          'appends/group': c[side].io.avgAppendsPerGroup,
          fdatasyncs: c[side].io.datasyncs,
          'superblock writes': c[side].io.superblockWrites,
          'I/O busy': c[side].io.ioBusyFraction,
          'p50 ratio': side === 'stream' ? c.p50Ratio : '',
          'p99 ratio': side === 'stream' ? c.p99Ratio : '',
        })),
      ),
    );
  }
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const args = process.argv.slice(2);
  const valued = new Set(['--out', '--dir']);
  const names = args.filter((a, i) => !a.startsWith('--') && !valued.has(args[i - 1] ?? ''));
  for (const n of names) {
    if (!(PARTS as readonly string[]).includes(n))
      throw new Error(`unknown part '${n}' (parts: ${PARTS.join(', ')})`);
  }
  const parts = names.length === 0 ? [...PARTS] : PARTS.filter((p) => names.includes(p));
  const out = argValue('--out') ?? join(root, 'bench', 'results', 'stream.json');
  const dir = argValue('--dir') ?? join(root, '.tmp', 'bench-stream');
  const params = args.includes('--quick') ? QUICK_PARAMS : FULL_PARAMS;
  const source = sourceInfo(root);
  const result = await runStreamBench(params, parts, dir, (line) => console.log(line));
  if (source) result.source = source;
  printStreamBench(result);
  if (parts.length < PARTS.length && existsSync(out)) {
    const previous = JSON.parse(readFileSync(out, 'utf8')) as StreamBenchResult;
    for (const p of PARTS) {
      if (parts.includes(p) || previous[p] === undefined) continue;
      Object.assign(result, { [p]: previous[p] });
      result.dates[p] = previous.dates?.[p] ?? previous.date;
      const load = previous.load?.[p];
      if (load) result.load![p] = load;
    }
  }
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ ...result, quick: args.includes('--quick') }, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
