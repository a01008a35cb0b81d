/**
 * Reads committed batches back from objects: the per-stream list of committed object ranges
 * (rebuilt from `objects/` on start), a bounded cache of decoded object indexes, block reads
 * through the BlockCache (one ranged GET for the uncached blocks of a fetch, shared with any
 * prefetch of the same blocks), a cap on concurrent GETs, and adaptive read-ahead for
 * sequential catch-up readers.
 */
import { BlockCache } from '../cache/block-cache.ts';
import { ReadAheadTracker } from '../cache/readahead.ts';
import type { MetadataStore } from '../metadata/types.ts';
import type { ObjectIndexEntry } from '../object-format/format.ts';
import type { ObjectIndex } from '../object-format/object-index.ts';
import { blocksRange } from '../object-format/object-index.ts';
import {
  joinIndex,
  parseFooter,
  parseIndex,
  type ReadBatch,
  readBlock,
  selectBatches,
  tailRange,
} from '../object-format/reader.ts';
import type { ObjectStore } from '../object-store/types.ts';
import { decodeObjectRecord, OBJECTS_PREFIX, parseObjectRecordKey } from './codec.ts';
import { withBackoff } from './state.ts';

/** One committed range of a stream: offsets [startOffset, endOffset) in object `objectId`. */
export interface CommittedRange {
  readonly objectId: number;
  readonly key: string;
  readonly objectSize: number;
  readonly startOffset: number;
  readonly endOffset: number;
  /** Bytes of the range's blocks in the object. */
  readonly size: number;
  /** Newest batch timestamp of the range (ms, 0 when unknown). */
  readonly maxTimestamp: number;
}

/** Most decoded indexes kept. */
const INDEX_CACHE_ENTRIES_MAX = 1024;

/** The committed object ranges of every stream, sorted by offset. */
export class CommittedRanges {
  private readonly byStream = new Map<number, CommittedRange[]>();
  /** Streams with ranges in each object. */
  private readonly byObject = new Map<number, Set<number>>();

  /** Rebuilds the lists from every `objects/` record (paged range reads). */
  static async load(metadata: MetadataStore): Promise<CommittedRanges> {
    const out = new CommittedRanges();
    await out.scan(metadata, undefined);
    return out;
  }

  /**
   * Re-reads one stream's ranges (another store may have committed or compacted objects of
   * it). A scan that raced a change made here (a commit or compaction of this store) is
   * discarded and done again, so a stale scan never replaces newer ranges.
   */
  async reload(metadata: MetadataStore, streamId: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const before = this.changes;
      const fresh = new CommittedRanges();
      await fresh.scan(metadata, streamId);
      if (this.changes !== before && attempt < 5) continue;
      this.forget(streamId);
      for (const r of fresh.list(streamId)) this.add(streamId, r);
      return;
    }
  }

  /** Counts changes (add, removeObject, forget), for {@link reload}. */
  private changes = 0;

  private async scan(metadata: MetadataStore, only: number | undefined): Promise<void> {
    let after: string | undefined;
    for (;;) {
      const page = await withBackoff(() =>
        metadata.range(OBJECTS_PREFIX, after === undefined ? {} : { after }),
      );
      for (const kv of page.kvs) {
        const { objectId } = parseObjectRecordKey(kv.key);
        const rec = decodeObjectRecord(kv.value);
        for (const s of rec.streams) {
          if (only !== undefined && s.streamId !== only) continue;
          this.add(s.streamId, {
            objectId,
            key: rec.key,
            objectSize: rec.size,
            startOffset: s.startOffset,
            endOffset: s.endOffset,
            size: s.size,
            maxTimestamp: s.maxTimestamp,
          });
        }
      }
      if (!page.more || page.kvs.length === 0) break;
      after = page.kvs[page.kvs.length - 1]!.key;
    }
  }

  /**
   * Adds a range (kept sorted by start offset). Ranges of other objects overlapping it are
   * superseded (a consistent view never has two objects for one offset) and dropped; the same
   * range of the same object is not added twice.
   */
  add(streamId: number, range: CommittedRange): void {
    this.changes++;
    let list = this.byStream.get(streamId);
    if (!list) {
      list = [];
      this.byStream.set(streamId, list);
    }
    if (list.some((r) => r.objectId === range.objectId && r.startOffset === range.startOffset)) return;
    const overlapping = list.filter(
      (r) => r.startOffset < range.endOffset && range.startOffset < r.endOffset,
    );
    if (overlapping.length > 0) {
      list = list.filter((r) => !overlapping.includes(r));
      this.byStream.set(streamId, list);
      for (const r of overlapping) {
        if (!list.some((x) => x.objectId === r.objectId)) this.byObject.get(r.objectId)?.delete(streamId);
      }
    }
    let i = list.length;
    while (i > 0 && list[i - 1]!.startOffset > range.startOffset) i--;
    list.splice(i, 0, range);
    let streams = this.byObject.get(range.objectId);
    if (!streams) {
      streams = new Set();
      this.byObject.set(range.objectId, streams);
    }
    streams.add(streamId);
  }

  /** Drops every range of an object (compacted or deleted). */
  removeObject(objectId: number): void {
    this.changes++;
    const streams = this.byObject.get(objectId);
    if (!streams) return;
    this.byObject.delete(objectId);
    for (const id of streams) {
      const list = this.byStream.get(id);
      if (!list) continue;
      const kept = list.filter((r) => r.objectId !== objectId);
      if (kept.length > 0) this.byStream.set(id, kept);
      else this.byStream.delete(id);
    }
  }

  /** The range holding `offset`, or undefined. */
  find(streamId: number, offset: number): CommittedRange | undefined {
    const list = this.byStream.get(streamId);
    if (!list) return undefined;
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = list[mid]!;
      if (offset < r.startOffset) hi = mid - 1;
      else if (offset >= r.endOffset) lo = mid + 1;
      else return r;
    }
    return undefined;
  }

  /** The stream's ranges in offset order (do not modify). */
  list(streamId: number): readonly CommittedRange[] {
    return this.byStream.get(streamId) ?? [];
  }

  /** Forgets a stream's ranges (before reloading them). */
  forget(streamId: number): void {
    this.changes++;
    const list = this.byStream.get(streamId);
    if (!list) return;
    this.byStream.delete(streamId);
    for (const r of list) {
      const streams = this.byObject.get(r.objectId);
      if (!streams) continue;
      streams.delete(streamId);
      if (streams.size === 0) this.byObject.delete(r.objectId);
    }
  }
}

/** Options of {@link ObjectReader}. */
export interface ObjectReaderOptions {
  /** Bytes of decoded blocks cached. */
  blockCacheBytes: number;
  /** GETs in flight at most (reads beyond wait; prefetches beyond are skipped). */
  getConcurrency: number;
  /** Largest read-ahead window in bytes (0: no read-ahead). */
  readAheadBytesMax: number;
  /** Typical block size: the first read-ahead window. */
  blockBytes: number;
}

/** Counters of an {@link ObjectReader}. */
export interface ObjectReaderStats {
  /** Ranged GETs of data blocks (foreground). */
  blockGets: number;
  /** Ranged GETs of indexes. */
  indexGets: number;
  /** Ranged GETs started by read-ahead. */
  prefetchGets: number;
  /** GETs in flight now. */
  getsInFlight: number;
}

/** A counting semaphore with a FIFO queue. */
class Limiter {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(private readonly max: number) {}
  get inUse(): number {
    return this.active;
  }
  get saturated(): boolean {
    return this.active >= this.max;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiters.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiters.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** Reads batches of committed objects. */
export class ObjectReader {
  private readonly indexes = new Map<number, Promise<ObjectIndex>>();
  private readonly blocks: BlockCache<ReadBatch[]>;
  private readonly limiter: Limiter;
  private readonly readAhead: ReadAheadTracker | undefined;
  private readonly counters = { blockGets: 0, indexGets: 0, prefetchGets: 0 };

  private readonly store: Pick<ObjectStore, 'get'>;

  constructor(
    store: ObjectStore,
    options: ObjectReaderOptions,
    /** The next committed range of a stream after `offset` (for read-ahead across objects). */
    private readonly nextRange: (streamId: number, offset: number) => CommittedRange | undefined,
  ) {
    // Reads retry transient failures a few times (bounded: the caller is waiting).
    this.store = { get: (key, o) => withBackoff(() => store.get(key, o)) };
    this.blocks = new BlockCache<ReadBatch[]>({
      bytesMax: options.blockCacheBytes,
      sizeOf: (batches) =>
        Math.max(
          1,
          batches.reduce((n, b) => n + b.data.length + 32, 0),
        ),
    });
    this.limiter = new Limiter(Math.max(1, options.getConcurrency));
    this.readAhead =
      options.readAheadBytesMax > 0
        ? new ReadAheadTracker({
            blockBytes: Math.min(options.blockBytes, options.readAheadBytesMax),
            windowBytesMax: options.readAheadBytesMax,
            entriesMax: 4096,
          })
        : undefined;
  }

  /** Current counters. */
  stats(): ObjectReaderStats & { blockCache: ReturnType<BlockCache<ReadBatch[]>['stats']> } {
    return { ...this.counters, getsInFlight: this.limiter.inUse, blockCache: this.blocks.stats() };
  }

  /**
   * Caches the blocks of an object just written (write-through): readers right behind the
   * log cache then read them without a GET. `batches` are the object's batches of each stream.
   */
  prime(
    objectId: number,
    entries: readonly ObjectIndexEntry[],
    batches: (e: ObjectIndexEntry) => ReadBatch[],
  ): void {
    for (const e of entries) this.blocks.set({ objectId, position: e.position }, batches(e));
  }

  /** Forgets what is cached of an object (it was deleted). */
  forgetObject(objectId: number): void {
    this.indexes.delete(objectId);
  }

  /**
   * The batches of `streamId` in `range`'s object from the one holding `startOffset` on, at
   * least one, then more while their total stays within `maxBytes`. `readerId` identifies a
   * sequential reader for read-ahead.
   */
  async read(
    range: CommittedRange,
    streamId: number,
    startOffset: number,
    maxBytes: number,
    readerId = '',
  ): Promise<ReadBatch[]> {
    const index = await this.index(range);
    const entries = index.findBlocks(streamId, startOffset, maxBytes);
    const lists = await this.loadBlocks(range, entries, false);
    const selected = selectBatches(lists.flat(), startOffset, range.endOffset);
    const out: ReadBatch[] = [];
    let bytes = 0;
    for (const b of selected) {
      if (out.length > 0 && bytes + b.data.length > maxBytes) break;
      out.push(b);
      bytes += b.data.length;
    }
    if (this.readAhead !== undefined && out.length > 0) {
      const last = out[out.length - 1]!;
      const end = last.baseOffset + last.count;
      const advice = this.readAhead.onRead(readerId, streamId, startOffset, end);
      if (advice.windowBytes > 0) this.prefetch(range, streamId, end, advice.windowBytes);
    }
    return out;
  }

  /** Loads blocks after `offset` into the block cache in the background, within `bytes`. */
  private prefetch(range: CommittedRange, streamId: number, offset: number, bytes: number): void {
    const run = async () => {
      let r: CommittedRange | undefined = range;
      let at = offset;
      let left = bytes;
      while (r !== undefined && left > 0 && !this.limiter.saturated) {
        if (at >= r.endOffset) {
          r = this.nextRange(streamId, at);
          continue;
        }
        const index = await this.index(r);
        const entries = index.findBlocks(streamId, at, left).filter((e) => e.startOffset < r!.endOffset);
        if (entries.length === 0) break;
        await this.loadBlocks(r, entries, true);
        for (const e of entries) left -= e.size;
        at = entries[entries.length - 1]!.endOffset;
      }
    };
    run().catch(() => {});
  }

  /** The decoded blocks of `entries` (adjacent, in order): cached, joined in flight, or one GET. */
  private loadBlocks(
    range: CommittedRange,
    entries: ObjectIndexEntry[],
    prefetch: boolean,
  ): Promise<ReadBatch[][]> {
    const key = (e: ObjectIndexEntry) => ({ objectId: range.objectId, position: e.position });
    const missing = entries.filter((e) => !this.blocks.has(key(e)) && !this.blocks.loading(key(e)));
    let span: Promise<{ buf: Buffer; start: number }> | undefined;
    if (missing.length > 0) {
      const r = blocksRange(missing);
      if (prefetch) this.counters.prefetchGets++;
      else this.counters.blockGets++;
      span = this.limiter.run(() => this.store.get(range.key, r)).then((buf) => ({ buf, start: r.start }));
      span.catch(() => {});
    }
    return Promise.all(
      entries.map((e) =>
        this.blocks.getOrLoad(key(e), async () => {
          if (span !== undefined && missing.includes(e)) {
            const { buf, start } = await span;
            return readBlock(buf, e, start).batches;
          }
          // Evicted between the check and now: read it on its own.
          this.counters.blockGets++;
          const buf = await this.limiter.run(() =>
            this.store.get(range.key, { start: e.position, end: e.position + e.size }),
          );
          return readBlock(buf, e, e.position).batches;
        }),
      ),
    );
  }

  private index(range: CommittedRange): Promise<ObjectIndex> {
    let p = this.indexes.get(range.objectId);
    if (p === undefined) {
      p = this.loadIndex(range);
      p.catch(() => this.indexes.delete(range.objectId));
      if (this.indexes.size >= INDEX_CACHE_ENTRIES_MAX) {
        const oldest = this.indexes.keys().next().value;
        if (oldest !== undefined) this.indexes.delete(oldest);
      }
      this.indexes.set(range.objectId, p);
    }
    return p;
  }

  private async loadIndex(range: CommittedRange): Promise<ObjectIndex> {
    const tr = tailRange(range.objectSize);
    this.counters.indexGets++;
    const tail = await this.limiter.run(() => this.store.get(range.key, { start: tr.start, end: tr.end }));
    const footer = parseFooter(tail, range.objectSize);
    let buf: Buffer;
    if (footer.complete) buf = footer.index;
    else {
      this.counters.indexGets++;
      const rest = await this.limiter.run(() =>
        this.store.get(range.key, { start: footer.missing.start, end: footer.missing.end }),
      );
      buf = joinIndex(footer, rest);
    }
    return parseIndex(buf, footer.footer);
  }
}
