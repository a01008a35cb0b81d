/**
 * The disk baseline for the WAL benchmark, measured on the same directory and through the
 * same I/O path FileWal's default WalFile uses (callback `fs.writev` at a position, then
 * `fs.fdatasync`, each one libuv thread-pool call; the file is preallocated with zero blocks):
 *  - latency of one 4 KiB write + fdatasync at sequential positions of a preallocated file;
 *  - throughput of large sequential writes (4 MiB each) followed by fdatasync.
 * When `fio` is installed its figures for the same two jobs are recorded as a second reference.
 */
import { execFile } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { LatencyRecorder, type LatencySummary, mbPerSec } from './stats.ts';

const execFileAsync = promisify(execFile);

/** Parameters of the baseline; tiny values make a smoke test. */
export interface BaselineParams {
  /** Size of the preallocated file both measurements write into (positions wrap around). */
  fileBytes: number;
  /** Bytes per write of the latency measurement (4 KiB). */
  latencyWriteBytes: number;
  /** Stop the latency measurement after this many samples... */
  latencySamples: number;
  /** ...or after this long, whichever comes first. */
  latencyTimeMs: number;
  /** Bytes per write of the throughput measurement (4 MiB). */
  throughputWriteBytes: number;
  throughputTimeMs: number;
  /** Also run fio (when installed) for a second reference. */
  fio: boolean;
}

export interface BaselineResult {
  latency: LatencySummary & { writeBytes: number };
  throughput: { writeBytes: number; writes: number; bytes: number; seconds: number; mbPerSec: number };
  fio?: FioResult | { error: string };
}

/** The raw calls: one positioned writev and one fdatasync on a file descriptor. */
export interface RawFile {
  writev(buffers: Uint8Array[], position: number): Promise<void>;
  datasync(): Promise<void>;
  close(): Promise<void>;
}

function rawFile(fd: number): RawFile {
  const done = (resolve: () => void, reject: (e: unknown) => void) => (err: unknown) =>
    err ? reject(err) : resolve();
  return {
    writev: (buffers, position) =>
      new Promise((resolve, reject) => {
        let total = 0;
        for (const b of buffers) total += b.length;
        fs.writev(fd, buffers, position, (err, n) =>
          err ? reject(err) : n === total ? resolve() : reject(new Error(`short write ${n}/${total}`)),
        );
      }),
    datasync: () => new Promise((resolve, reject) => fs.fdatasync(fd, done(resolve, reject))),
    close: () => new Promise((resolve, reject) => fs.close(fd, done(resolve, reject))),
  };
}

/** Creates `path` and fills it with zeros (written, then fdatasync'ed), so later writes overwrite. */
export async function preallocate(path: string, bytes: number): Promise<RawFile> {
  const fh = rawFile(fs.openSync(path, 'w+'));
  const chunk = Buffer.alloc(Math.min(bytes, 4 << 20));
  for (let pos = 0; pos < bytes; pos += chunk.length) {
    await fh.writev([chunk.subarray(0, Math.min(chunk.length, bytes - pos))], pos);
  }
  await fh.datasync();
  return fh;
}

/** Where the next sequential raw write goes (positions wrap around at the file's end). */
export interface RawCursor {
  fh: RawFile;
  fileBytes: number;
  pos: number;
}

/** Opens a preallocated raw file of `fileBytes` at `path` for sequential writes. */
export async function openRaw(path: string, fileBytes: number): Promise<RawCursor> {
  return { fh: await preallocate(path, fileBytes), fileBytes, pos: 0 };
}

/**
 * Sequential writes of `buf`, each followed by fdatasync, recorded into `rec`, until `rec` is
 * full or `timeMs` has passed (at least one write).
 */
export async function rawLatency(
  c: RawCursor,
  buf: Buffer,
  rec: LatencyRecorder,
  timeMs: number,
): Promise<void> {
  const deadline = process.hrtime.bigint() + BigInt(timeMs) * 1_000_000n;
  for (;;) {
    if (c.pos + buf.length > c.fileBytes) c.pos = 0;
    const t0 = process.hrtime.bigint();
    await c.fh.writev([buf], c.pos);
    await c.fh.datasync();
    const t1 = process.hrtime.bigint();
    rec.record(t0, t1);
    c.pos += buf.length;
    if (t1 > deadline || rec.full) return;
  }
}

/** Sequential writes of `buf` + fdatasync each for `timeMs` (at least one write). */
export async function rawThroughput(
  c: RawCursor,
  buf: Buffer,
  timeMs: number,
): Promise<{ writes: number; bytes: number; ns: bigint }> {
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(timeMs) * 1_000_000n;
  let writes = 0;
  let now = t0;
  do {
    if (c.pos + buf.length > c.fileBytes) c.pos = 0;
    await c.fh.writev([buf], c.pos);
    await c.fh.datasync();
    c.pos += buf.length;
    writes++;
    now = process.hrtime.bigint();
  } while (now < deadline);
  return { writes, bytes: writes * buf.length, ns: now - t0 };
}

async function measureLatency(c: RawCursor, p: BaselineParams): Promise<BaselineResult['latency']> {
  const buf = randomFillSync(Buffer.alloc(p.latencyWriteBytes));
  const rec = new LatencyRecorder(p.latencySamples);
  await rawLatency(c, buf, rec, p.latencyTimeMs);
  return { writeBytes: buf.length, ...rec.summary() };
}

async function measureThroughput(c: RawCursor, p: BaselineParams): Promise<BaselineResult['throughput']> {
  const buf = randomFillSync(Buffer.alloc(Math.min(p.throughputWriteBytes, p.fileBytes)));
  c.pos = 0;
  const r = await rawThroughput(c, buf, p.throughputTimeMs);
  return {
    writeBytes: buf.length,
    writes: r.writes,
    bytes: r.bytes,
    seconds: Number(r.ns) / 1e9,
    mbPerSec: mbPerSec(r.bytes, r.ns),
  };
}

/** fio's figures for the same two jobs (psync engine = pwrite, fdatasync after every write). */
export interface FioResult {
  version: string;
  latency: {
    writeBytes: number;
    ios: number;
    writeP50Ms: number;
    writeP99Ms: number;
    syncP50Ms: number;
    syncP99Ms: number;
    syncP999Ms: number;
    iops: number;
    meanOpMs: number;
  };
  throughput: { writeBytes: number; ios: number; mbPerSec: number };
}

async function fioJob(path: string, p: BaselineParams, bs: number, extra: string[]): Promise<any> {
  const args = [
    '--name=wal-baseline',
    `--filename=${path}`,
    `--size=${p.fileBytes}`,
    `--bs=${bs}`,
    '--rw=write',
    '--ioengine=psync',
    '--fdatasync=1',
    '--output-format=json',
    ...extra,
  ];
  const timeout = p.latencyTimeMs + p.throughputTimeMs + 30_000;
  const { stdout } = await execFileAsync('fio', args, { timeout, maxBuffer: 16 << 20 });
  return JSON.parse(stdout.slice(stdout.indexOf('{')));
}

const pct = (o: Record<string, number> | undefined, key: string): number => (o?.[key] ?? Number.NaN) / 1e6;

/** Runs fio's latency and throughput jobs over the already preallocated `path`. */
export async function runFio(path: string, p: BaselineParams): Promise<FioResult> {
  const seconds = (ms: number) => String(Math.max(1, Math.round(ms / 1000)));
  const lat = await fioJob(path, p, p.latencyWriteBytes, [
    `--number_ios=${p.latencySamples}`,
    `--runtime=${seconds(p.latencyTimeMs)}`,
  ]);
  const size = Math.min(p.throughputWriteBytes, p.fileBytes);
  const thr = await fioJob(path, p, size, ['--time_based', `--runtime=${seconds(p.throughputTimeMs)}`]);
  const lj = lat.jobs[0];
  const tj = thr.jobs[0];
  const syncPct = lj.sync?.lat_ns?.percentile;
  const writePct = lj.write?.clat_ns?.percentile;
  return {
    version: String(lat['fio version']),
    latency: {
      writeBytes: p.latencyWriteBytes,
      ios: lj.write.total_ios,
      writeP50Ms: pct(writePct, '50.000000'),
      writeP99Ms: pct(writePct, '99.000000'),
      syncP50Ms: pct(syncPct, '50.000000'),
      syncP99Ms: pct(syncPct, '99.000000'),
      syncP999Ms: pct(syncPct, '99.900000'),
      iops: lj.write.iops,
      meanOpMs: lj.write.iops > 0 ? 1000 / lj.write.iops : Number.NaN,
    },
    throughput: { writeBytes: size, ios: tj.write.total_ios, mbPerSec: tj.write.bw_bytes / 1e6 },
  };
}

async function fioAvailable(): Promise<boolean> {
  try {
    await execFileAsync('fio', ['--version'], { timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/** Runs the baseline on `raw` (the preallocated file at `path`, also used by fio). */
export async function runBaseline(raw: RawCursor, path: string, p: BaselineParams): Promise<BaselineResult> {
  const latency = await measureLatency(raw, p);
  const throughput = await measureThroughput(raw, p);
  const result: BaselineResult = { latency, throughput };
  if (p.fio && (await fioAvailable())) {
    try {
      result.fio = await runFio(path, p);
    } catch (err) {
      result.fio = { error: String((err as Error).message ?? err).slice(0, 500) };
    }
  }
  return result;
}
