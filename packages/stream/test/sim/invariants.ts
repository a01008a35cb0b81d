/**
 * Invariants of the stream layer's metadata and objects, checked by the simulation straight
 * on the shared backends (not through a store): they must hold at any instant, since every
 * change is one metadata transaction and objects are put before they are referenced.
 *
 * - every `objects/` record names a stored object of exactly its recorded size;
 * - a stream's committed ranges (over all live object records) never overlap, and those
 *   above its start offset are dense up to its committed end.
 */
import type { MemoryMetadataStore } from '../../src/metadata/memory.ts';
import type { MemoryObjectStore } from '../../src/object-store/memory.ts';

/** What a `streams/<id>` record holds (the fields the checks use). */
export interface StreamRecordView {
  epoch: number;
  owner: string;
  startOffset: number;
  endOffset: number;
}

interface RangeView {
  objectKey: string;
  recordKey: string;
  startOffset: number;
  endOffset: number;
}

/** A snapshot of the metadata and objects. */
export interface Snapshot {
  streams: Map<number, StreamRecordView>;
  /** Stored object keys and sizes. */
  stored: Map<string, number>;
  /** Object keys named by `objects/`, `garbage/` and `prepared/` records. */
  live: Set<string>;
  garbage: Set<string>;
  prepared: Set<string>;
  ranges: Map<number, RangeView[]>;
  /** Problems found while reading (size mismatches, missing objects). */
  problems: string[];
}

/** Reads everything once. */
export async function snapshot(metadata: MemoryMetadataStore, objects: MemoryObjectStore): Promise<Snapshot> {
  const snap: Snapshot = {
    streams: new Map(),
    stored: new Map(),
    live: new Set(),
    garbage: new Set(),
    prepared: new Set(),
    ranges: new Map(),
    problems: [],
  };
  let token: string | undefined;
  do {
    const page = await objects.list(token === undefined ? {} : { continuationToken: token });
    for (const obj of page.objects) snap.stored.set(obj.key, obj.size);
    token = page.continuationToken;
  } while (token !== undefined);
  let after: string | undefined;
  for (;;) {
    const page = await metadata.range('', after === undefined ? { limit: 1000 } : { limit: 1000, after });
    for (const kv of page.kvs) readRecord(snap, kv.key, kv.value);
    if (!page.more || page.kvs.length === 0) break;
    after = page.kvs[page.kvs.length - 1]!.key;
  }
  return snap;
}

function readRecord(snap: Snapshot, key: string, value: Buffer): void {
  if (key.startsWith('streams/')) {
    snap.streams.set(
      Number(key.slice('streams/'.length)),
      JSON.parse(value.toString('utf8')) as StreamRecordView,
    );
    return;
  }
  if (key.startsWith('garbage/') || key.startsWith('prepared/')) {
    const rec = JSON.parse(value.toString('utf8')) as { key: string };
    (key.startsWith('garbage/') ? snap.garbage : snap.prepared).add(rec.key);
    return;
  }
  if (!key.startsWith('objects/')) return;
  const rec = JSON.parse(value.toString('utf8')) as {
    key: string;
    size: number;
    streams: { streamId: number; startOffset: number; endOffset: number }[];
  };
  snap.live.add(rec.key);
  const stored = snap.stored.get(rec.key);
  if (stored === undefined) snap.problems.push(`${key} names object ${rec.key}, which is not stored`);
  else if (stored !== rec.size) {
    snap.problems.push(`${key} says object ${rec.key} is ${rec.size} bytes, the stored one is ${stored}`);
  }
  for (const s of rec.streams) {
    let list = snap.ranges.get(s.streamId);
    if (list === undefined) {
      list = [];
      snap.ranges.set(s.streamId, list);
    }
    list.push({ objectKey: rec.key, recordKey: key, startOffset: s.startOffset, endOffset: s.endOffset });
  }
}

/** The invariants; returns the problems found (empty when all hold). */
export function checkSnapshot(snap: Snapshot): string[] {
  const problems = [...snap.problems];
  for (const [id, list] of snap.ranges) {
    list.sort((a, b) => a.startOffset - b.startOffset);
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1]!;
      const b = list[i]!;
      if (b.startOffset < a.endOffset) {
        problems.push(
          `stream ${id}: ranges overlap: [${a.startOffset}, ${a.endOffset}) in ${a.recordKey} and ` +
            `[${b.startOffset}, ${b.endOffset}) in ${b.recordKey}`,
        );
      }
    }
  }
  for (const [id, rec] of snap.streams) {
    if (rec.endOffset <= rec.startOffset) continue;
    const list = (snap.ranges.get(id) ?? []).filter((r) => r.endOffset > rec.startOffset);
    let at = rec.startOffset;
    for (const r of list) {
      if (r.startOffset > at) {
        problems.push(`stream ${id}: committed offsets [${at}, ${r.startOffset}) are in no object (a gap)`);
        break;
      }
      at = Math.max(at, r.endOffset);
    }
    if (at < rec.endOffset) {
      problems.push(`stream ${id}: committed end is ${rec.endOffset}, but its objects end at ${at}`);
    }
    if (at > rec.endOffset) {
      problems.push(
        `stream ${id}: objects hold offsets up to ${at}, past the committed end ${rec.endOffset}`,
      );
    }
  }
  return problems;
}

/** Stored objects named by no record (leaked), once every timer has run out. */
export function orphans(snap: Snapshot): string[] {
  return [...snap.stored.keys()].filter(
    (k) => !snap.live.has(k) && !snap.garbage.has(k) && !snap.prepared.has(k),
  );
}
