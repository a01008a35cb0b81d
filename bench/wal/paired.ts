/**
 * Paired (interleaved) measurements for the two goals. A shared VM's disk drifts by tens of
 * percent over a minute (host cache writeback, neighbours' fsyncs), so a baseline taken at
 * the start and a WAL cell taken a minute later differ by more than the WAL's own overhead.
 * Here the raw operation and the WAL alternate on the same disk — single operations for the
 * latency goal, short blocks for the throughput goal — and each side's samples are pooled:
 * drift and noise hit both sides alike.
 */
import { randomFillSync } from 'node:crypto';
import type { WriteAheadLog } from '../../packages/wal/src/index.ts';
import { type RawCursor, rawThroughput } from './baseline.ts';
import { type CellParams, drain, type IoCounters, runCell } from './cells.ts';
import { LatencyRecorder, type LatencySummary } from './stats.ts';

export interface PairedParams {
  /** Number of raw/WAL block pairs (latency: total time = rounds × blockMs, alternating single ops). */
  rounds: number;
  /** Length of each block. */
  blockMs: number;
  /** Unmeasured run at the start of each WAL block (latency: once, at the start). */
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

/**
 * One raw `rawWriteBytes` write + fdatasync, then one append of a single appender, strictly
 * alternating, for `rounds × blockMs` in total: both sides see the same moments of the disk.
 * Trims (outside the timed part) keep the ring from filling up.
 */
export async function pairedLatency(
  raw: RawCursor,
  rawWriteBytes: number,
  wal: WriteAheadLog,
  _io: IoCounters,
  cell: CellBase,
  p: PairedParams,
): Promise<PairedLatency> {
  if (cell.appenders !== 1) throw new Error('paired latency alternates single operations: 1 appender');
  const buf = randomFillSync(Buffer.alloc(rawWriteBytes));
  const data = randomFillSync(Buffer.alloc(cell.recordBytes));
  const meta = randomFillSync(Buffer.alloc(cell.metaBytes));
  const rawRec = new LatencyRecorder(p.maxSamples);
  const walRec = new LatencyRecorder(p.maxSamples);
  const trimLimit = wal.capacityBytes * cell.trimAtFraction;
  const t0 = process.hrtime.bigint();
  const warmEnd = t0 + BigInt(p.warmupMs) * 1_000_000n;
  const end = warmEnd + BigInt(p.rounds * p.blockMs) * 1_000_000n;
  for (let now = t0; now < end && !walRec.full; ) {
    const measuring = now >= warmEnd;
    if (raw.pos + buf.length > raw.fileBytes) raw.pos = 0;
    const a = process.hrtime.bigint();
    await raw.fh.writev([buf], raw.pos);
    await raw.fh.datasync();
    const b = process.hrtime.bigint();
    raw.pos += buf.length;
    const r = await wal.append(data, meta);
    now = process.hrtime.bigint();
    if (measuring) {
      rawRec.record(a, b);
      walRec.record(b, now);
    }
    if (wal.usedBytes >= trimLimit) {
      await wal.trim(r.nextOffset);
      now = process.hrtime.bigint();
    }
  }
  await drain(wal);
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
