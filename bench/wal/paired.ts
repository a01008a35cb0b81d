/**
 * Paired (interleaved) measurements for the two goals. A shared VM's disk drifts by tens of
 * percent over a minute (host cache writeback, neighbours), so a baseline taken at the start
 * and a WAL cell taken a minute later differ by more than the WAL's own overhead. Here the
 * raw operation and the WAL cell alternate in short blocks (raw, WAL, raw, WAL, ...) on the
 * same disk, and each side's samples are pooled: drift hits both sides alike.
 */
import { randomFillSync } from 'node:crypto';
import type { WriteAheadLog } from '../../packages/wal/src/index.ts';
import { type RawCursor, rawLatency, rawThroughput } from './baseline.ts';
import { type CellParams, drain, type IoCounters, runCell } from './cells.ts';
import { LatencyRecorder, type LatencySummary } from './stats.ts';

export interface PairedParams {
  /** Number of raw/WAL block pairs. */
  rounds: number;
  /** Length of each block. */
  blockMs: number;
  /** Unmeasured WAL run at the start of each WAL block. */
  warmupMs: number;
  maxSamples: number;
}

export interface PairedLatency {
  rounds: number;
  blockMs: number;
  rawWriteBytes: number;
  recordBytes: number;
  appenders: number;
  raw: LatencySummary;
  wal: LatencySummary;
  /** wal.p99Ms / raw.p99Ms */
  p99Ratio: number;
  p50Ratio: number;
}

export interface PairedThroughput {
  rounds: number;
  blockMs: number;
  rawWriteBytes: number;
  recordBytes: number;
  appenders: number;
  rawMbPerSec: number;
  walMbPerSec: number;
  /** walMbPerSec / rawMbPerSec */
  ratio: number;
  /** Each round's raw and WAL MB/s, to show the drift. */
  perRound: { raw: number; wal: number }[];
}

type CellBase = Omit<CellParams, 'warmupMs' | 'timeMs' | 'maxSamples'>;

/** Alternates raw `rawWriteBytes` write + fdatasync blocks with WAL `cell` blocks; pooled percentiles. */
export async function pairedLatency(
  raw: RawCursor,
  rawWriteBytes: number,
  wal: WriteAheadLog,
  io: IoCounters,
  cell: CellBase,
  p: PairedParams,
): Promise<PairedLatency> {
  const buf = randomFillSync(Buffer.alloc(rawWriteBytes));
  const rawRec = new LatencyRecorder(p.maxSamples);
  const walRec = new LatencyRecorder(p.maxSamples);
  for (let i = 0; i < p.rounds; i++) {
    await rawLatency(raw, buf, rawRec, p.blockMs);
    const params = { ...cell, warmupMs: p.warmupMs, timeMs: p.blockMs, maxSamples: p.maxSamples };
    await runCell(wal, params, io, walRec);
    await drain(wal);
  }
  const r = rawRec.summary();
  const w = walRec.summary();
  return {
    rounds: p.rounds,
    blockMs: p.blockMs,
    rawWriteBytes,
    recordBytes: cell.recordBytes,
    appenders: cell.appenders,
    raw: r,
    wal: w,
    p99Ratio: w.p99Ms / r.p99Ms,
    p50Ratio: w.p50Ms / r.p50Ms,
  };
}

/** Alternates raw sequential write + fdatasync blocks with WAL `cell` blocks; pooled MB/s. */
export async function pairedThroughput(
  raw: RawCursor,
  rawWriteBytes: number,
  wal: WriteAheadLog,
  io: IoCounters,
  cell: CellBase,
  p: PairedParams,
): Promise<PairedThroughput> {
  const buf = randomFillSync(Buffer.alloc(Math.min(rawWriteBytes, raw.fileBytes)));
  let rawBytes = 0;
  let rawSeconds = 0;
  let walBytes = 0;
  let walSeconds = 0;
  const perRound: PairedThroughput['perRound'] = [];
  for (let i = 0; i < p.rounds; i++) {
    const r = await rawThroughput(raw, buf, p.blockMs);
    const params = { ...cell, warmupMs: p.warmupMs, timeMs: p.blockMs, maxSamples: p.maxSamples };
    const w = await runCell(wal, params, io);
    await drain(wal);
    const rs = Number(r.ns) / 1e9;
    rawBytes += r.bytes;
    rawSeconds += rs;
    walBytes += w.appends * w.recordBytes;
    walSeconds += w.seconds;
    perRound.push({ raw: r.bytes / rs / 1e6, wal: w.mbPerSec });
  }
  const rawMbPerSec = rawBytes / rawSeconds / 1e6;
  const walMbPerSec = walBytes / walSeconds / 1e6;
  return {
    rounds: p.rounds,
    blockMs: p.blockMs,
    rawWriteBytes: buf.length,
    recordBytes: cell.recordBytes,
    appenders: cell.appenders,
    rawMbPerSec,
    walMbPerSec,
    ratio: walMbPerSec / rawMbPerSec,
    perRound,
  };
}
