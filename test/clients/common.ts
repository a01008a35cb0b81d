/**
 * Shared pieces of the real-client compatibility suite: the broker under test, the record
 * set every client produces, the record-file format the out-of-process drivers read and
 * write, and the checks applied to what a client reads back.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { type Broker, startBroker } from '../../packages/broker/src/index.ts';
import { expectSuccess, runProcess } from '../golden/clients/process.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** One record as produced and as read back. Header values are never null here. */
export interface TestRecord {
  key: Buffer | null;
  value: Buffer | null;
  timestampMs: number;
  headers: [string, Buffer][];
}

/** A record as read back: the same plus its offset. */
export interface ConsumedRecord extends TestRecord {
  offset: number;
  /** Set by drivers that read several partitions. */
  partition?: number;
}

/** Records per produce run. */
export const RECORD_COUNT = 10_000;

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PRINTABLE = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+=/ ';

function bytes(rand: () => number, n: number, binary: boolean): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    b[i] = binary ? Math.floor(rand() * 256) : PRINTABLE.charCodeAt(Math.floor(rand() * PRINTABLE.length));
  }
  return b;
}

/** Base of the record timestamps: a recent whole second, so retention keeps the records. */
export function timestampBase(): number {
  return Math.floor((Date.now() - 3_600_000) / 1000) * 1000;
}

/**
 * `count` records: keys on most records (every 11th null), every 7th value null, 0–3 headers
 * with arbitrary bytes (printable text only when `binary` is false), timestamps non-decreasing from `base`
 * in steps of 0 or 3 ms so several records share a timestamp.
 */
export function makeRecords(
  count: number,
  seed: number,
  base: number,
  options: { binary?: boolean; keyOrValue?: boolean } = {},
): TestRecord[] {
  const binary = options.binary ?? true;
  const rand = prng(seed);
  const out: TestRecord[] = [];
  let ts = base;
  for (let i = 0; i < count; i++) {
    if (i > 0 && rand() < 0.6) ts += 3;
    const key =
      i % 11 === 5
        ? null
        : Buffer.concat([Buffer.from(`k${i}-`), bytes(rand, Math.floor(rand() * 12), binary)]);
    // Every 77th record has neither key nor value, unless `keyOrValue` (kafka-python refuses those).
    const value =
      i % 7 === 3 && !(options.keyOrValue && key === null)
        ? null
        : bytes(rand, Math.floor(rand() * 160), binary);
    const headers: [string, Buffer][] = [];
    const nh = Math.floor(rand() * 4);
    for (let h = 0; h < nh; h++) headers.push([`h${h}`, bytes(rand, Math.floor(rand() * 20), binary)]);
    out.push({ key, value, timestampMs: ts, headers });
  }
  return out;
}

function f(b: Buffer | null): string {
  return b === null ? '-' : b.toString('base64');
}
function unf(s: string): Buffer | null {
  return s === '-' ? null : Buffer.from(s, 'base64');
}

/** Writes records in the driver file format (offset column "-"). */
export function writeRecordFile(file: string, records: TestRecord[]): void {
  const lines = records.map((r) =>
    [
      '-',
      f(r.key),
      f(r.value),
      String(r.timestampMs),
      r.headers.map(([k, v]) => `${Buffer.from(k).toString('base64')}:${f(v)}`).join(','),
    ].join('\t'),
  );
  writeFileSync(file, `${lines.join('\n')}\n`);
}

/** Reads a record file written by a driver. */
export function readRecordFile(file: string): ConsumedRecord[] {
  return readFileSync(file, 'ascii')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const [offset, key, value, ts, hs, partition] = l.split('\t');
      return {
        offset: Number(offset),
        ...(partition === undefined ? {} : { partition: Number(partition) }),
        key: unf(key ?? '-'),
        value: unf(value ?? '-'),
        timestampMs: Number(ts),
        headers:
          hs === undefined || hs === ''
            ? []
            : hs.split(',').map((h): [string, Buffer] => {
                const [k, v] = h.split(':');
                return [Buffer.from(k ?? '', 'base64').toString('utf8'), unf(v ?? '-') ?? Buffer.alloc(0)];
              }),
      };
    });
}

function show(b: Buffer | null): string {
  return b === null ? 'null' : b.toString('hex');
}

/**
 * Asserts that `got` are exactly `expected`, in order, at offsets `firstOffset`…, byte for byte
 * (keys, values, header keys and values, timestamps unless `checkTimestamps` is false).
 */
export function expectSameRecords(
  got: ConsumedRecord[],
  expected: TestRecord[],
  firstOffset = 0,
  checkTimestamps = true,
): void {
  expect(got.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const g = got[i] as ConsumedRecord;
    const e = expected[i] as TestRecord;
    const where = `record ${i}`;
    expect(g.offset, where).toBe(firstOffset + i);
    expect(show(g.key), `${where} key`).toBe(show(e.key));
    expect(show(g.value), `${where} value`).toBe(show(e.value));
    if (checkTimestamps) expect(g.timestampMs, `${where} timestamp`).toBe(e.timestampMs);
    expect(
      g.headers.map(([k, v]) => `${k}=${v.toString('hex')}`),
      `${where} headers`,
    ).toEqual(e.headers.map(([k, v]) => `${k}=${v.toString('hex')}`));
  }
}

/** A broker with file WAL, file object store and embedded metadata in a fresh temp dir. */
export interface TestBroker {
  broker: Broker;
  /** host:port of the running broker (changes on restart: the port is ephemeral). */
  bootstrap: string;
  dataDir: string;
  /** Graceful close, then a new broker on the same data directory. */
  restart(): Promise<void>;
  /** Closes the broker and removes its data directory. */
  close(): Promise<void>;
}

function openBroker(dataDir: string): Promise<Broker> {
  return startBroker({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    wal: `file://${path.join(dataDir, 'wal')}`,
    walBytes: 256 * 1024 * 1024,
    objectStore: `file://${path.join(dataDir, 'objects')}`,
    metadata: 'embedded',
  });
}

export async function startTestBroker(name: string): Promise<TestBroker> {
  const dataDir = mkdtempSync(path.join(tmpdir(), `tributary-clients-${name}-`));
  const broker = await openBroker(dataDir);
  const t: TestBroker = {
    broker,
    bootstrap: `127.0.0.1:${broker.address.port}`,
    dataDir,
    async restart() {
      await t.broker.close();
      t.broker = await openBroker(dataDir);
      t.bootstrap = `127.0.0.1:${t.broker.address.port}`;
    },
    async close() {
      try {
        await t.broker.close();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
  return t;
}

/** A scratch directory for driver files. */
export function scratchDir(name: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), `tributary-clients-${name}-files-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Timestamps to query with ListOffsets and the offset Kafka must answer for each: the first
 * offset whose timestamp is >= the target, or null when there is none.
 */
export function timeQueries(records: TestRecord[]): { targets: number[]; expected: (number | null)[] } {
  const ts = records.map((r) => r.timestampMs);
  const first = ts[0] as number;
  const last = ts[ts.length - 1] as number;
  const targets = [
    0,
    first - 1000,
    first,
    first + 1,
    ts[1234] as number,
    (ts[5000] as number) + 1,
    ts[9999 % ts.length] as number,
    last,
    last + 1,
    last + 60_000,
  ];
  const expected = targets.map((t) => {
    const i = ts.findIndex((x) => x >= t);
    return i < 0 ? null : i;
  });
  return { targets, expected };
}

/** Runs a child process with a time limit; throws with its output unless it exits 0. */
export async function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
  env?: NodeJS.ProcessEnv,
): Promise<string> {
  const r = await runProcess(cmd, args, { timeoutMs, ...(env ? { env } : {}) });
  return expectSuccess(`${cmd} ${args.slice(0, 3).join(' ')}`, r).stdout;
}

/** Parses the last non-empty stdout line as JSON (drivers print one JSON object). */
export function lastJson<T>(stdout: string): T {
  const lines = stdout.split('\n').filter((l) => l.trim().length > 0);
  const last = lines[lines.length - 1];
  if (last === undefined) throw new Error('driver printed nothing');
  return JSON.parse(last) as T;
}

/** Admin scenario result every admin-capable driver prints. */
export interface AdminResult {
  partitionsAfterCreate: number;
  configsAfterCreate: Record<string, { value: string | null; source?: string }>;
  configsAfterIncremental?: Record<string, { value: string | null; source?: string }>;
  configsAfterAlter?: Record<string, { value: string | null; source?: string }>;
  partitionsAfterCreatePartitions: number;
  existsAfterDelete: boolean;
}

/**
 * The admin scenario's checks: created with 3 partitions and retention.ms=3600000,
 * max.message.bytes=2000000, cleanup.policy=delete; incremental alter sets
 * retention.ms=7200000 and retention.bytes=1048576 and deletes max.message.bytes (back to the
 * default 1048588); (legacy) AlterConfigs replaces the set with segment.ms=600000 only;
 * CreatePartitions to 5; DeleteTopics.
 */
export function expectAdminResult(r: AdminResult): void {
  const v = (c: AdminResult['configsAfterCreate'] | undefined, k: string) => c?.[k]?.value;
  expect(r.partitionsAfterCreate).toBe(3);
  expect(v(r.configsAfterCreate, 'retention.ms')).toBe('3600000');
  expect(v(r.configsAfterCreate, 'max.message.bytes')).toBe('2000000');
  expect(v(r.configsAfterCreate, 'cleanup.policy')).toBe('delete');
  expect(v(r.configsAfterCreate, 'retention.bytes')).toBe('-1');
  expect(v(r.configsAfterCreate, 'message.timestamp.type')).toBe('CreateTime');
  if (r.configsAfterCreate['retention.ms']?.source !== undefined) {
    expect(r.configsAfterCreate['retention.ms']?.source).toMatch(/DYNAMIC_TOPIC_CONFIG|TOPIC_CONFIG|^1$/);
  }
  if (r.configsAfterIncremental !== undefined) {
    expect(v(r.configsAfterIncremental, 'retention.ms')).toBe('7200000');
    expect(v(r.configsAfterIncremental, 'retention.bytes')).toBe('1048576');
    expect(v(r.configsAfterIncremental, 'max.message.bytes')).toBe('1048588');
    expect(v(r.configsAfterIncremental, 'cleanup.policy')).toBe('delete');
  }
  if (r.configsAfterAlter !== undefined) {
    expect(v(r.configsAfterAlter, 'segment.ms')).toBe('600000');
    expect(v(r.configsAfterAlter, 'retention.ms')).toBe('604800000');
    expect(v(r.configsAfterAlter, 'retention.bytes')).toBe('-1');
  }
  expect(r.partitionsAfterCreatePartitions).toBe(5);
  expect(r.existsAfterDelete).toBe(false);
}

/** Offsets scenario result: [offset, timestamp] pairs, null when no record matches. */
export type OffsetPair = [number | null, number | null];

/** Checks ListOffsets-by-time answers against the produced timestamps. */
export function expectByTime(
  got: OffsetPair[],
  records: TestRecord[],
  targets: number[],
  firstOffset = 0,
): void {
  const { expected } = timeQueries(records);
  expect(got.length).toBe(targets.length);
  got.forEach(([off, ts], i) => {
    const e = expected[i] ?? null;
    const what = `target ${targets[i]}`;
    if (e === null) {
      expect(off, what).toBeNull();
    } else {
      expect(off, what).toBe(firstOffset + e);
      if (ts !== null) expect(ts, `${what} timestamp`).toBe(records[e]?.timestampMs);
    }
  });
}
