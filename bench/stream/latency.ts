/**
 * Measurement 3: append-to-durable latency through the stream layer against the bare WAL,
 * on the same disk, interleaved.
 *
 * Two FileWals on temp files in one directory: the bare one takes `wal.append(data, meta)`
 * with a 29-byte meta (the size of the stream layer's WAL meta) and is trimmed like a user
 * would (outside the timed part); the other sits under a StreamStore (a discarding object
 * store and a MemoryMetadataStore, so uploads cost CPU and WAL trims, not network) and takes
 * `stream.append(data, count)`.
 *  - single: one appender × `single.recordBytes`; one bare append and one stream append
 *    strictly alternate for `single.timeMs` (after a warm-up), so both see the same disk.
 *  - concurrent: `concurrent.appenders` closed-loop appenders × `concurrent.recordBytes`
 *    (the stream side: one stream per appender) in blocks of `blockMs`, bare and stream
 *    blocks alternating (order flipped every round); samples pooled per side. Between
 *    blocks (untimed) the stream store is flushed; the bare WAL is trimmed during its blocks
 *    (a quarter full → trim to the highest acknowledged offset, one trim at a time).
 * Reported: p50/p99/p999 of each side and the stream/bare ratios.
 */
import { randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryMetadataStore, type Stream, StreamStore } from '../../packages/stream/src/index.ts';
import { FileWal, openNodeWalFile, type WriteAheadLog } from '../../packages/wal/src/index.ts';
import { countingOpener, type IoCounters, newCounters } from '../wal/cells.ts';
import { LatencyRecorder, type LatencySummary } from '../wal/stats.ts';
import { round } from './common.ts';
import { DiscardingObjectStore } from './counting.ts';

/** Bytes of the WAL meta the stream layer writes per append (see the package README). */
export const STREAM_WAL_META_BYTES = 29;

export interface LatencyParams {
  walBytes: number;
  cacheBytesMax: number;
  uploadBytesThreshold: number;
  single: { recordBytes: number; warmupMs: number; timeMs: number };
  concurrent: { recordBytes: number; appenders: number; rounds: number; blockMs: number; warmupMs: number };
  maxSamples: number;
}

/** WAL file I/O of one side during its measured appends (from a counting WalFile). */
export interface WalIo {
  /** Group writes into the data area (one per group commit). */
  groups: number;
  datasyncs: number;
  /** Superblock writes (trims make the new trim point durable). */
  superblockWrites: number;
  avgGroupKiB: number;
  avgAppendsPerGroup: number;
  /** Fraction of the measured time with a write or fdatasync outstanding. */
  ioBusyFraction: number;
}

export type SideSummary = LatencySummary & { mbPerSec: number; io: WalIo };

export interface LatencyCell {
  recordBytes: number;
  appenders: number;
  bare: SideSummary;
  stream: SideSummary;
  /** stream / bare */
  p50Ratio: number;
  p99Ratio: number;
}

export interface LatencyResult {
  params: LatencyParams;
  single: LatencyCell;
  concurrent: LatencyCell;
}

const now = () => process.hrtime.bigint();
const ms = (n: number) => BigInt(Math.round(n * 1e6));

function diff(a: IoCounters, b: IoCounters): IoCounters {
  return {
    dataWrites: a.dataWrites - b.dataWrites,
    dataBytes: a.dataBytes - b.dataBytes,
    superblockWrites: a.superblockWrites - b.superblockWrites,
    datasyncs: a.datasyncs - b.datasyncs,
    ioBusyNs: a.ioBusyNs - b.ioBusyNs,
  };
}

function addTo(sum: IoCounters, d: IoCounters): void {
  sum.dataWrites += d.dataWrites;
  sum.dataBytes += d.dataBytes;
  sum.superblockWrites += d.superblockWrites;
  sum.datasyncs += d.datasyncs;
  sum.ioBusyNs += d.ioBusyNs;
}

function walIo(io: IoCounters, appends: number, ns: bigint): WalIo {
  return {
    groups: io.dataWrites,
    datasyncs: io.datasyncs,
    superblockWrites: io.superblockWrites,
    avgGroupKiB: round(io.dataWrites > 0 ? io.dataBytes / io.dataWrites / 1024 : 0, 1),
    avgAppendsPerGroup: round(io.dataWrites > 0 ? appends / io.dataWrites : 0, 2),
    ioBusyFraction: round(io.ioBusyNs / Number(ns)),
  };
}

function summary(
  rec: LatencyRecorder,
  bytes: number,
  ns: bigint,
  io: IoCounters,
  appends: number,
  /** Time the I/O busy fraction is of (default `ns`). */
  ioNs: bigint = ns,
): SideSummary {
  const s = rec.summary();
  const r = (v: number) => round(v, 4);
  return {
    samples: s.samples,
    meanMs: r(s.meanMs),
    p50Ms: r(s.p50Ms),
    p99Ms: r(s.p99Ms),
    p999Ms: r(s.p999Ms),
    maxMs: r(s.maxMs),
    mbPerSec: round(bytes / (Number(ns) / 1e9) / 1e6, 1),
    io: walIo(io, appends, ioNs),
  };
}

/** Trims the bare WAL to `upTo` once it is a quarter full (the caller keeps it out of the timing). */
async function trimBare(wal: WriteAheadLog, upTo: number): Promise<void> {
  if (wal.usedBytes >= wal.capacityBytes / 4) await wal.trim(upTo);
}

function cell(recordBytes: number, appenders: number, bare: SideSummary, stream: SideSummary): LatencyCell {
  return {
    recordBytes,
    appenders,
    bare,
    stream,
    p50Ratio: round(stream.p50Ms / bare.p50Ms),
    p99Ratio: round(stream.p99Ms / bare.p99Ms),
  };
}

/** The two WALs' counting wrappers. */
interface Io {
  bare: IoCounters;
  stream: IoCounters;
}

async function runSingle(
  bare: WriteAheadLog,
  stream: Stream,
  io: Io,
  p: LatencyParams,
): Promise<LatencyCell> {
  const { recordBytes, warmupMs, timeMs } = p.single;
  const data = randomFillSync(Buffer.alloc(recordBytes));
  const meta = randomFillSync(Buffer.alloc(STREAM_WAL_META_BYTES));
  const bareRec = new LatencyRecorder(p.maxSamples);
  const streamRec = new LatencyRecorder(p.maxSamples);
  let bareNs = 0n;
  let streamNs = 0n;
  let pairs = 0;
  const start = now();
  const measureFrom = start + ms(warmupMs);
  const end = measureFrom + ms(timeMs);
  let io0: Io | undefined;
  let t0 = 0n;
  for (let t = start; t < end && !streamRec.full; ) {
    const a = now();
    if (io0 === undefined && a >= measureFrom) {
      io0 = { bare: { ...io.bare }, stream: { ...io.stream } };
      t0 = a;
    }
    const r = await bare.append(data, meta);
    const b = now();
    await stream.append(data, 1);
    const c = now();
    if (a >= measureFrom) {
      bareRec.record(a, b);
      streamRec.record(b, c);
      bareNs += b - a;
      streamNs += c - b;
      pairs++;
    }
    await trimBare(bare, r.nextOffset);
    t = now();
  }
  // I/O over the whole measured window (the ops alternate; busy fractions are of the window)
  const window = now() - t0;
  const start0 = io0 ?? io;
  return cell(
    recordBytes,
    1,
    summary(bareRec, pairs * recordBytes, bareNs, diff(io.bare, start0.bare), pairs, window),
    summary(streamRec, pairs * recordBytes, streamNs, diff(io.stream, start0.stream), pairs, window),
  );
}

/** `n` closed-loop appenders calling `append` for `blockMs`; latencies go to `rec` after `measureFrom`. */
async function closedLoop(
  n: number,
  blockMs: number,
  rec: LatencyRecorder | undefined,
  append: (i: number) => Promise<unknown>,
): Promise<{ appends: number; ns: bigint }> {
  const start = now();
  const end = start + ms(blockMs);
  let appends = 0;
  const worker = async (i: number) => {
    while (now() < end) {
      const a = now();
      await append(i);
      rec?.record(a, now());
      appends++;
    }
  };
  await Promise.all(Array.from({ length: n }, (_, i) => worker(i)));
  return { appends, ns: now() - start };
}

async function runConcurrent(
  bare: WriteAheadLog,
  store: StreamStore,
  streams: Stream[],
  io: Io,
  p: LatencyParams,
): Promise<LatencyCell> {
  const { recordBytes, appenders, rounds, blockMs, warmupMs } = p.concurrent;
  const data = randomFillSync(Buffer.alloc(recordBytes));
  const meta = randomFillSync(Buffer.alloc(STREAM_WAL_META_BYTES));
  // A user-like trimmer inside the timed blocks (one trim in flight): the stream side trims
  // its WAL after each upload while appends go on, and a ring left untrimmed for a whole
  // block would fill up and stall.
  let bareEnd = 0;
  let trimming: Promise<void> | undefined;
  const bareAppend = async () => {
    const r = await bare.append(data, meta);
    bareEnd = Math.max(bareEnd, r.nextOffset);
    if (trimming === undefined && bare.usedBytes >= bare.capacityBytes / 4) {
      trimming = bare.trim(bareEnd).finally(() => {
        trimming = undefined;
      });
    }
  };
  const streamAppend = (i: number) => streams[i]!.append(data, 1);
  const bareIo = newCounters();
  const streamIo = newCounters();
  const bareBlock = async (rec: LatencyRecorder | undefined, ms: number) => {
    const before = { ...io.bare };
    const r = await closedLoop(appenders, ms, rec, bareAppend);
    if (rec !== undefined) addTo(bareIo, diff(io.bare, before));
    await trimming;
    return r;
  };
  const streamBlock = async (rec: LatencyRecorder | undefined, ms: number) => {
    const before = { ...io.stream };
    const r = await closedLoop(appenders, ms, rec, streamAppend);
    if (rec !== undefined) addTo(streamIo, diff(io.stream, before));
    await store.flush();
    return r;
  };
  await bareBlock(undefined, warmupMs);
  await streamBlock(undefined, warmupMs);
  const bareRec = new LatencyRecorder(p.maxSamples);
  const streamRec = new LatencyRecorder(p.maxSamples);
  let bareAppends = 0;
  let streamAppends = 0;
  let bareNs = 0n;
  let streamNs = 0n;
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ['bare', 'stream'] : ['stream', 'bare'];
    for (const side of order) {
      if (side === 'bare') {
        const x = await bareBlock(bareRec, blockMs);
        bareAppends += x.appends;
        bareNs += x.ns;
      } else {
        const x = await streamBlock(streamRec, blockMs);
        streamAppends += x.appends;
        streamNs += x.ns;
      }
    }
  }
  return cell(
    recordBytes,
    appenders,
    summary(bareRec, bareAppends * recordBytes, bareNs, bareIo, bareAppends),
    summary(streamRec, streamAppends * recordBytes, streamNs, streamIo, streamAppends),
  );
}

/** A FileWal (default options) whose file I/O is counted into `io`. */
function openCounted(path: string, sizeBytes: number, io: IoCounters): Promise<FileWal> {
  // the two superblock slots take the first 2 × 4096 bytes (FileWal's default alignment)
  return FileWal.open({ path, sizeBytes, opener: countingOpener(openNodeWalFile, io, 2 * 4096) });
}

async function openWal(path: string, sizeBytes: number, io: IoCounters): Promise<FileWal> {
  const wal = await openCounted(path, sizeBytes, io);
  for await (const _ of wal.recover()) {
    // fresh file: nothing to recover
  }
  return wal;
}

/** Runs measurement 3 in a fresh subdirectory of `dir` (removed afterwards). */
export async function runLatency(
  dir: string,
  p: LatencyParams,
  log: (line: string) => void = () => {},
): Promise<LatencyResult> {
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(dir, 'run-'));
  try {
    const io: Io = { bare: newCounters(), stream: newCounters() };
    const bare = await openWal(join(work, 'bare.wal'), p.walBytes, io.bare);
    const streamWal = await openCounted(join(work, 'stream.wal'), p.walBytes, io.stream);
    const metadata = new MemoryMetadataStore();
    try {
      const store = await StreamStore.start({
        wal: streamWal,
        objectStore: new DiscardingObjectStore(),
        metadata,
        nodeId: 'bench',
        cacheBytesMax: p.cacheBytesMax,
        uploadBytesThreshold: p.uploadBytesThreshold,
      });
      try {
        const streams: Stream[] = [];
        for (let i = 0; i < Math.max(1, p.concurrent.appenders); i++)
          streams.push(await store.open(i + 1, 1));
        const single = await runSingle(bare, streams[0]!, io, p);
        log(
          `  1 x ${p.single.recordBytes} B: stream p50/p99 ${single.stream.p50Ms}/${single.stream.p99Ms} ms ` +
            `vs WAL ${single.bare.p50Ms}/${single.bare.p99Ms} ms (p99 ratio ${single.p99Ratio})`,
        );
        await store.flush();
        const concurrent = await runConcurrent(bare, store, streams, io, p);
        log(
          `  ${p.concurrent.appenders} x ${p.concurrent.recordBytes} B: stream p50/p99 ${concurrent.stream.p50Ms}/` +
            `${concurrent.stream.p99Ms} ms vs WAL ${concurrent.bare.p50Ms}/${concurrent.bare.p99Ms} ms ` +
            `(p99 ratio ${concurrent.p99Ratio}); ${concurrent.stream.mbPerSec} vs ${concurrent.bare.mbPerSec} MB/s`,
        );
        return { params: p, single, concurrent };
      } finally {
        await store.close();
      }
    } finally {
      await metadata.close();
      await streamWal.close();
      await bare.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
