/**
 * Seeded append workloads and exact read-back checks for the stream fault suite.
 */
import { Rng } from '@tributary/wal/testing';
import { expect } from 'vitest';
import { ObjectStoreError } from '../../src/object-store/types.ts';
import type { StreamStore } from '../../src/stream/store.ts';
import type { Stream } from '../../src/stream/stream.ts';

/** One acknowledged batch. */
export interface Acked {
  baseOffset: number;
  count: number;
  data: Buffer;
}

/** What was acknowledged, per stream id, in offset order. */
export class Ledger {
  readonly byStream = new Map<number, Acked[]>();
  /** Appends that rejected (must stay 0 in these tests). */
  readonly failures: unknown[] = [];

  /** Records an acknowledged batch (acks of one stream come in offset order). */
  ack(streamId: number, a: Acked): void {
    let list = this.byStream.get(streamId);
    if (list === undefined) {
      list = [];
      this.byStream.set(streamId, list);
    }
    // WAL acks come in offset order; insert in place anyway so the check stays exact.
    let i = list.length;
    while (i > 0 && list[i - 1]!.baseOffset > a.baseOffset) i--;
    list.splice(i, 0, a);
  }

  /** Acknowledged batches of all streams. */
  get count(): number {
    let n = 0;
    for (const l of this.byStream.values()) n += l.length;
    return n;
  }

  /** Acknowledged bytes of all streams. */
  get bytes(): number {
    let n = 0;
    for (const l of this.byStream.values()) for (const a of l) n += a.data.length;
    return n;
  }

  /** The end offset of what was acknowledged of `streamId`. */
  end(streamId: number): number {
    const list = this.byStream.get(streamId) ?? [];
    const last = list[list.length - 1];
    return last === undefined ? 0 : last.baseOffset + last.count;
  }
}

/** Deterministic batch contents: tagged, seeded sizes in [minBytes, maxBytes]. */
export function makeBatch(rng: Rng, tag: string, minBytes: number, maxBytes: number): Buffer {
  const head = Buffer.from(`${tag};`);
  const size = Math.max(head.length, rng.int(minBytes, maxBytes));
  return Buffer.concat([head, rng.bytes(size - head.length)]);
}

/** Options of {@link appendMany}. */
export interface AppendManyOptions {
  /** Batches in total (spread over the streams at random). */
  batches: number;
  /** Appends in flight at most. */
  window: number;
  minBytes: number;
  maxBytes: number;
  tag: string;
}

/**
 * Appends seeded batches to `streams` with up to `window` appends in flight, recording every
 * acknowledgement in `ledger` (and every rejection in `ledger.failures`). Returns the promises
 * of all appends made (settled ones included).
 */
export async function appendMany(
  streams: Stream[],
  rng: Rng,
  ledger: Ledger,
  o: AppendManyOptions,
): Promise<void> {
  const inflight = new Set<Promise<void>>();
  for (let i = 0; i < o.batches; i++) {
    while (inflight.size >= o.window) await Promise.race(inflight);
    const s = rng.pick(streams);
    const data = makeBatch(rng, `${o.tag}-${s.id}-${i}`, o.minBytes, o.maxBytes);
    const count = rng.int(1, 5);
    const p = appendOne(s, data, count, ledger);
    inflight.add(p);
    p.finally(() => inflight.delete(p));
  }
  await Promise.all(inflight);
}

/** Appends one batch and records the outcome in `ledger`. Never rejects. */
export function appendOne(s: Stream, data: Buffer, count: number, ledger: Ledger): Promise<void> {
  const expected = s.endOffset;
  return s.append(data, count).then(
    ({ baseOffset }) => {
      expect(baseOffset).toBe(expected);
      ledger.ack(s.id, { baseOffset, count, data });
    },
    (err: unknown) => {
      ledger.failures.push(err);
    },
  );
}

/** Stats of one {@link readAll}. */
export interface ReadStats {
  fetches: number;
  /** Fetches that failed with a retriable object-store error and were retried. */
  retried: number;
}

/**
 * Reads `stream` from `from` to its end, `maxBytes` per fetch. A fetch that fails with a
 * retriable ObjectStoreError (an injected 503 on a GET) is retried, up to `retriesMax` times
 * in all; any other error fails the read.
 */
export async function readAll(
  stream: Stream,
  from = 0,
  maxBytes = 8 * 1024,
  retriesMax = 200,
  stats: ReadStats = { fetches: 0, retried: 0 },
): Promise<Acked[]> {
  const out: Acked[] = [];
  let offset = from;
  for (let guard = 0; guard < 1_000_000; guard++) {
    let batches: Awaited<ReturnType<Stream['fetch']>>;
    try {
      stats.fetches++;
      batches = await stream.fetch(offset, maxBytes);
    } catch (err) {
      if (err instanceof ObjectStoreError && err.kind === 'retriable' && stats.retried < retriesMax) {
        stats.retried++;
        await new Promise((r) => setTimeout(r, 2));
        continue;
      }
      throw err;
    }
    if (batches.length === 0) return out;
    for (const b of batches)
      out.push({ baseOffset: b.baseOffset, count: b.count, data: Buffer.from(b.data) });
    const last = batches[batches.length - 1]!;
    offset = last.baseOffset + last.count;
  }
  throw new Error('readAll: no end in sight');
}

/** Compact form for comparisons: [baseOffset, count, hex]. */
function rows(list: Acked[]): [number, number, string][] {
  return list.map((a) => [a.baseOffset, a.count, a.data.toString('hex')]);
}

/**
 * Every acknowledged batch of `stream` exactly once, byte-exact, in order and contiguous from
 * `from` (the stream's start), and nothing else up to the stream's end.
 */
export async function expectStreamMatches(
  stream: Stream,
  ledger: Ledger,
  stats?: ReadStats,
  from = 0,
): Promise<void> {
  const acked = (ledger.byStream.get(stream.id) ?? []).filter((a) => a.baseOffset >= from);
  const got = await readAll(stream, from, 8 * 1024, 200, stats);
  expect(got.length).toBe(acked.length);
  expect(rows(got)).toEqual(rows(acked));
  let next = from;
  for (const a of got) {
    expect(a.baseOffset).toBe(next);
    next = a.baseOffset + a.count;
  }
  expect(stream.endOffset).toBe(ledger.end(stream.id));
}

/** Opens `ids` at `epoch` in `store`. */
export async function openAll(store: StreamStore, ids: readonly number[], epoch: number): Promise<Stream[]> {
  const out: Stream[] = [];
  for (const id of ids) out.push(await store.open(id, epoch));
  return out;
}

/** Polls `cond` every 5 ms until true; throws after `ms`. */
export async function waitFor(cond: () => boolean, ms: number, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A fresh seeded generator. */
export function rngOf(seed: number): Rng {
  return new Rng(seed);
}
