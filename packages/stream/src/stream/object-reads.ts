/**
 * Reads committed batches back from objects: the per-stream list of committed object ranges
 * (rebuilt from `objects/` on start), a bounded cache of decoded object indexes, and block
 * reads through the BlockCache (one ranged GET for the uncached blocks of a fetch).
 */
import { BlockCache } from '../cache/block-cache.ts';
import type { MetadataStore } from '../metadata/types.ts';
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
import { decodeObjectRecord, OBJECTS_PREFIX } from './codec.ts';

/** One committed range of a stream: offsets [startOffset, endOffset) in object `objectId`. */
export interface CommittedRange {
  readonly objectId: number;
  readonly key: string;
  readonly objectSize: number;
  readonly startOffset: number;
  readonly endOffset: number;
}

/** Most decoded indexes kept. */
const INDEX_CACHE_ENTRIES_MAX = 1024;

/** The committed object ranges of every stream, sorted by offset. */
export class CommittedRanges {
  private readonly byStream = new Map<number, CommittedRange[]>();

  /** Rebuilds the lists from every `objects/` record (paged range reads). */
  static async load(metadata: MetadataStore): Promise<CommittedRanges> {
    const out = new CommittedRanges();
    await out.scan(metadata, undefined);
    return out;
  }

  /** Re-reads one stream's ranges (another store may have committed objects of it). */
  async reload(metadata: MetadataStore, streamId: number): Promise<void> {
    this.byStream.delete(streamId);
    await this.scan(metadata, streamId);
  }

  private async scan(metadata: MetadataStore, only: number | undefined): Promise<void> {
    let after: string | undefined;
    for (;;) {
      const page = await metadata.range(OBJECTS_PREFIX, after === undefined ? {} : { after });
      for (const kv of page.kvs) {
        const objectId = Number(kv.key.slice(OBJECTS_PREFIX.length));
        const rec = decodeObjectRecord(kv.value);
        for (const s of rec.streams) {
          if (only !== undefined && s.streamId !== only) continue;
          this.add(s.streamId, {
            objectId,
            key: rec.key,
            objectSize: rec.size,
            startOffset: s.startOffset,
            endOffset: s.endOffset,
          });
        }
      }
      if (!page.more || page.kvs.length === 0) break;
      after = page.kvs[page.kvs.length - 1]!.key;
    }
  }

  /** Adds a range (kept sorted by start offset). */
  add(streamId: number, range: CommittedRange): void {
    let list = this.byStream.get(streamId);
    if (!list) {
      list = [];
      this.byStream.set(streamId, list);
    }
    let i = list.length;
    while (i > 0 && list[i - 1]!.startOffset > range.startOffset) i--;
    list.splice(i, 0, range);
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

  /** Forgets a stream's ranges (before reloading them). */
  forget(streamId: number): void {
    this.byStream.delete(streamId);
  }
}

/** Reads batches of committed objects. */
export class ObjectReader {
  private readonly indexes = new Map<number, Promise<ObjectIndex>>();
  private readonly blocks: BlockCache<ReadBatch[]>;

  constructor(
    private readonly store: ObjectStore,
    blockCacheBytes: number,
  ) {
    this.blocks = new BlockCache<ReadBatch[]>({
      bytesMax: blockCacheBytes,
      sizeOf: (batches) =>
        Math.max(
          1,
          batches.reduce((n, b) => n + b.data.length + 32, 0),
        ),
    });
  }

  /**
   * The batches of `streamId` in `range`'s object from the one holding `startOffset` on, at
   * least one, then more while their total stays within `maxBytes`.
   */
  async read(
    range: CommittedRange,
    streamId: number,
    startOffset: number,
    maxBytes: number,
  ): Promise<ReadBatch[]> {
    const index = await this.index(range);
    const entries = index.findBlocks(streamId, startOffset, maxBytes);
    const batches: ReadBatch[] = [];
    const missing = entries.filter(
      (e) => !this.blocks.has({ objectId: range.objectId, position: e.position }),
    );
    if (missing.length > 0) {
      const span = blocksRange(missing);
      const buf = await this.store.get(range.key, { start: span.start, end: span.end });
      for (const e of missing) {
        this.blocks.set(
          { objectId: range.objectId, position: e.position },
          readBlock(buf, e, span.start).batches,
        );
      }
    }
    for (const e of entries) {
      const key = { objectId: range.objectId, position: e.position };
      const cached = this.blocks.get(key);
      // A block larger than the cache is not kept: read it again on its own.
      const list =
        cached ??
        readBlock(await this.store.get(range.key, { start: e.position, end: e.position + e.size }), e)
          .batches;
      batches.push(...list);
    }
    const selected = selectBatches(batches, startOffset, range.endOffset);
    const out: ReadBatch[] = [];
    let bytes = 0;
    for (const b of selected) {
      if (out.length > 0 && bytes + b.data.length > maxBytes) break;
      out.push(b);
      bytes += b.data.length;
    }
    return out;
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
    const tail = await this.store.get(range.key, { start: tr.start, end: tr.end });
    const footer = parseFooter(tail, range.objectSize);
    const buf = footer.complete
      ? footer.index
      : joinIndex(
          footer,
          await this.store.get(range.key, { start: footer.missing.start, end: footer.missing.end }),
        );
    return parseIndex(buf, footer.footer);
  }
}
