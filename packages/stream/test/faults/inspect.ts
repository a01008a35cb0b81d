/**
 * Read-only looks into a StreamStore and its metadata for assertions of the fault suite.
 */
import { expect } from 'vitest';
import type { LogCacheStats } from '../../src/cache/log-cache.ts';
import type { MetadataStore } from '../../src/metadata/types.ts';
import type { ObjectStore } from '../../src/object-store/types.ts';
import type { StreamStore } from '../../src/stream/store.ts';

/** The log cache counters of `store`. */
export function cacheStats(store: StreamStore): LogCacheStats {
  return store.stats().cache;
}

/** One committed range of a stream in an object record. */
export interface CommittedRange {
  objectId: number;
  key: string;
  startOffset: number;
  endOffset: number;
}

/** Object records in the metadata: object id → key and stream ranges. */
export async function objectRecords(
  metadata: MetadataStore,
): Promise<
  Map<number, { key: string; streams: { streamId: number; startOffset: number; endOffset: number }[] }>
> {
  const out = new Map<
    number,
    { key: string; streams: { streamId: number; startOffset: number; endOffset: number }[] }
  >();
  let after: string | undefined;
  for (;;) {
    const page = await metadata.range(
      'objects/',
      after === undefined ? { limit: 1000 } : { limit: 1000, after },
    );
    for (const kv of page.kvs) {
      const rec = JSON.parse(kv.value.toString('utf8')) as {
        key: string;
        streams: { streamId: number; startOffset: number; endOffset: number }[];
      };
      // `objects/<id>` (first cut) or `objects/<id>/<part>`: parts of one object are merged.
      const objectId = Number(kv.key.slice('objects/'.length).split('/')[0]);
      const seen = out.get(objectId);
      if (seen === undefined) out.set(objectId, { key: rec.key, streams: [...rec.streams] });
      else seen.streams.push(...rec.streams);
    }
    if (!page.more || page.kvs.length === 0) return out;
    after = page.kvs[page.kvs.length - 1]!.key;
  }
}

/** The committed ranges of `streamId`, sorted by start offset. */
export async function committedRanges(metadata: MetadataStore, streamId: number): Promise<CommittedRange[]> {
  const out: CommittedRange[] = [];
  for (const [objectId, rec] of await objectRecords(metadata)) {
    for (const s of rec.streams) {
      if (s.streamId === streamId) {
        out.push({ objectId, key: rec.key, startOffset: s.startOffset, endOffset: s.endOffset });
      }
    }
  }
  return out.sort((a, b) => a.startOffset - b.startOffset);
}

/** The stored record of a stream. */
export async function streamRecord(
  metadata: MetadataStore,
  streamId: number,
): Promise<{ epoch: number; owner: string; startOffset: number; endOffset: number }> {
  const kv = await metadata.get(`streams/${streamId}`);
  if (kv === undefined) throw new Error(`no record of stream ${streamId}`);
  return JSON.parse(kv.value.toString('utf8'));
}

/**
 * The committed ranges of `streamId` tile [from, end) without gap or overlap (no offset is
 * committed twice), and the stream record's committed end is `end`.
 */
export async function expectCommittedExactly(
  metadata: MetadataStore,
  streamId: number,
  end: number,
  from = 0,
): Promise<void> {
  const ranges = (await committedRanges(metadata, streamId)).filter((r) => r.endOffset > from);
  let next = from;
  for (const [i, r] of ranges.entries()) {
    // The first range may start below `from` (a trimmed stream); the others follow on exactly.
    if (i === 0) expect(r.startOffset).toBeLessThanOrEqual(from);
    else expect(r.startOffset, `stream ${streamId}: gap or overlap at ${next}`).toBe(next);
    next = r.endOffset;
  }
  expect(next).toBe(end);
  expect((await streamRecord(metadata, streamId)).endOffset).toBe(end);
}

/** Every key in `store` under `prefix` (all pages). */
export async function listKeys(store: ObjectStore, prefix = 'objects/'): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  for (;;) {
    const page = await store.list(token === undefined ? { prefix } : { prefix, continuationToken: token });
    for (const o of page.objects) out.push(o.key);
    if (page.continuationToken === undefined) return out;
    token = page.continuationToken;
  }
}

/** Object keys the metadata refers to, by record kind. */
export interface References {
  /** Keys of committed objects (`objects/`). */
  live: Set<string>;
  /** Keys of objects marked for deletion (`garbage/`). */
  garbage: Set<string>;
  /** Keys of objects being written or abandoned by a crash (`prepared/`). */
  prepared: Set<string>;
}

/** The object keys every kind of metadata record refers to. */
export async function references(metadata: MetadataStore): Promise<References> {
  const live = new Set<string>();
  for (const rec of (await objectRecords(metadata)).values()) live.add(rec.key);
  const keysOf = async (prefix: string): Promise<Set<string>> => {
    const page = await metadata.range(prefix, { limit: 10_000 });
    expect(page.more).toBe(false);
    return new Set(page.kvs.map((kv) => (JSON.parse(kv.value.toString('utf8')) as { key: string }).key));
  };
  return { live, garbage: await keysOf('garbage/'), prepared: await keysOf('prepared/') };
}

/**
 * The objects in the store that no committed object record refers to (orphans and garbage
 * not deleted yet), sorted.
 */
export async function unreferencedKeys(store: ObjectStore, metadata: MetadataStore): Promise<string[]> {
  const refs = await references(metadata);
  return (await listKeys(store)).filter((k) => !refs.live.has(k)).sort();
}
