/**
 * Read-only looks into a StreamStore and its metadata for assertions of the fault suite.
 */
import { expect } from 'vitest';
import type { LogCache, LogCacheStats } from '../../src/cache/log-cache.ts';
import type { MetadataStore } from '../../src/metadata/types.ts';
import type { StreamStore } from '../../src/stream/store.ts';

/**
 * The log cache counters of `store`. StreamStore has no public stats getter yet, so this
 * reads its private `cache` field (asked for in .tmp/notes-faults.md).
 */
export function cacheStats(store: StreamStore): LogCacheStats {
  const cache = (store as unknown as { cache?: LogCache }).cache;
  if (cache === undefined || typeof cache.stats !== 'function') {
    throw new Error('StreamStore has no log cache field any more: update cacheStats()');
  }
  return cache.stats();
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
      out.set(Number(kv.key.slice('objects/'.length)), rec);
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
