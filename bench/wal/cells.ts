/**
 * One benchmark cell: `appenders` closed-loop appenders (append, await, repeat) of
 * `recordBytes` records against a WriteAheadLog for a bounded time, with per-append latency
 * taken by `process.hrtime.bigint()`. A trimmer acts like a real user: once the live bytes
 * pass a fraction of the capacity it trims up to the highest acknowledged offset (one trim in
 * flight at a time), so the ring wraps around instead of filling up.
 *
 * A counting WalFile wrapper (see {@link countingOpener}) tells how many group writes and
 * fdatasyncs the WAL issued in the measured window, hence the group sizes.
 */
import { randomFillSync } from 'node:crypto';
import type { WalFile, WalFileOpener, WriteAheadLog } from '../../packages/wal/src/index.ts';
import { LatencyRecorder, type LatencySummary, mbPerSec } from './stats.ts';

/** I/O calls seen by the counting WalFile wrapper. */
export interface IoCounters {
  /** writev calls into the data area (one per group for a group-committing WAL). */
  dataWrites: number;
  dataBytes: number;
  /** writev calls below `dataAreaStart` (superblock updates). */
  superblockWrites: number;
  datasyncs: number;
  /** Nanoseconds with at least one writev or datasync call outstanding (the disk's busy time as Node sees it). */
  ioBusyNs: number;
}

export function newCounters(): IoCounters {
  return { dataWrites: 0, dataBytes: 0, superblockWrites: 0, datasyncs: 0, ioBusyNs: 0 };
}

/** Wraps `file` so every writev and datasync is counted in `c`. */
export function countingFile(file: WalFile, c: IoCounters, dataAreaStart: number): WalFile {
  let outstanding = 0;
  let busySince = 0n;
  const timed = async <T>(op: Promise<T>): Promise<T> => {
    if (outstanding++ === 0) busySince = process.hrtime.bigint();
    try {
      return await op;
    } finally {
      if (--outstanding === 0) c.ioBusyNs += Number(process.hrtime.bigint() - busySince);
    }
  };
  return {
    get size() {
      return file.size;
    },
    async writev(buffers, position) {
      if (position < dataAreaStart) c.superblockWrites++;
      else {
        c.dataWrites++;
        for (const b of buffers) c.dataBytes += b.byteLength;
      }
      return timed(file.writev(buffers, position));
    },
    read: (position, length) => file.read(position, length),
    async datasync() {
      c.datasyncs++;
      return timed(file.datasync());
    },
    close: () => file.close(),
  };
}

/** An opener that counts the I/O of every file `inner` opens. */
export function countingOpener(inner: WalFileOpener, c: IoCounters, dataAreaStart: number): WalFileOpener {
  return async (path, sizeBytes) => countingFile(await inner(path, sizeBytes), c, dataAreaStart);
}

export interface CellParams {
  recordBytes: number;
  appenders: number;
  /** Unmeasured run before the measured window. */
  warmupMs: number;
  /** Length of the measured window. */
  timeMs: number;
  /** At most this many latency samples are kept (later ones are dropped). */
  maxSamples: number;
  metaBytes: number;
  /** Trim once live bytes exceed this fraction of the capacity. */
  trimAtFraction: number;
}

export interface CellResult extends LatencySummary {
  recordBytes: number;
  appenders: number;
  /** Appends completed in the measured window (latencies: appends started in it). */
  appends: number;
  seconds: number;
  /** Record bytes (data only, no meta or framing) acknowledged per second, 10^6 B/s. */
  mbPerSec: number;
  appendsPerSec: number;
  groups: number;
  datasyncs: number;
  superblockWrites: number;
  /** Mean bytes per group write (records + framing + alignment padding). */
  avgGroupBytes: number;
  avgRecordsPerGroup: number;
  /** Fraction of the window with a write or fdatasync outstanding (1 = the disk never waits for the WAL). */
  ioBusyFraction: number;
  trims: number;
}

/**
 * Runs one cell against `wal` (already recovered); `io` is the wrapper's live counters.
 * Latencies go to `rec` (a fresh one by default; pass one to pool several runs).
 */
export async function runCell(
  wal: WriteAheadLog,
  p: CellParams,
  io: IoCounters,
  rec: LatencyRecorder = new LatencyRecorder(p.maxSamples),
): Promise<CellResult> {
  const data = randomFillSync(Buffer.alloc(p.recordBytes));
  const meta = randomFillSync(Buffer.alloc(p.metaBytes));
  const start = process.hrtime.bigint();
  const measureStart = start + BigInt(p.warmupMs) * 1_000_000n;
  const measureEnd = measureStart + BigInt(p.timeMs) * 1_000_000n;
  let acked = 0;
  let trims = 0;
  let trimming: Promise<void> | undefined;
  let failure: unknown;
  let before: IoCounters | undefined;
  let after: IoCounters | undefined;
  const trimLimit = wal.capacityBytes * p.trimAtFraction;

  const maybeTrim = (upTo: number) => {
    if (trimming || wal.usedBytes < trimLimit) return;
    trims++;
    trimming = wal.trim(upTo).then(
      () => {
        trimming = undefined;
      },
      (err) => {
        failure ??= err;
      },
    );
  };

  const appender = async () => {
    for (;;) {
      const t0 = process.hrtime.bigint();
      if (t0 >= measureEnd || failure !== undefined) return;
      if (before === undefined && t0 >= measureStart) before = { ...io };
      const r = await wal.append(data, meta);
      const t1 = process.hrtime.bigint();
      if (t0 >= measureStart) rec.record(t0, t1);
      if (t1 >= measureStart) {
        before ??= { ...io };
        if (t1 <= measureEnd) acked++;
        else after ??= { ...io };
      }
      maybeTrim(r.nextOffset);
    }
  };

  const loops = Array.from({ length: p.appenders }, appender);
  const settled = await Promise.allSettled(loops);
  const end = process.hrtime.bigint();
  if (trimming) await trimming;
  const rejected = settled.find((s) => s.status === 'rejected');
  if (failure !== undefined || rejected) throw failure ?? (rejected as PromiseRejectedResult).reason;
  const b = before ?? newCounters();
  const a = after ?? { ...io };
  const window = (end < measureEnd ? end : measureEnd) - measureStart;
  const groups = a.dataWrites - b.dataWrites;
  return {
    recordBytes: p.recordBytes,
    appenders: p.appenders,
    ...rec.summary(),
    appends: acked,
    seconds: Number(window) / 1e9,
    mbPerSec: mbPerSec(acked * p.recordBytes, window),
    appendsPerSec: acked / (Number(window) / 1e9),
    groups,
    datasyncs: a.datasyncs - b.datasyncs,
    superblockWrites: a.superblockWrites - b.superblockWrites,
    avgGroupBytes: groups ? (a.dataBytes - b.dataBytes) / groups : 0,
    avgRecordsPerGroup: groups ? acked / groups : 0,
    ioBusyFraction: (a.ioBusyNs - b.ioBusyNs) / Number(window),
    trims,
  };
}

/** Trims everything acknowledged so the next cell starts with an empty ring. */
export async function drain(wal: WriteAheadLog): Promise<void> {
  if (wal.endOffset > wal.trimOffset) await wal.trim(wal.endOffset);
}
