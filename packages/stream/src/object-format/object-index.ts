/**
 * The decoded index of a stream object, with lookups by (stream id, offset).
 */
import type { ObjectFooter, ObjectIndexEntry } from './format.ts';

/** A decoded, checked index (built by `parseIndex`). Entries are sorted by (stream, start). */
export class ObjectIndex {
  /** One entry per data block. */
  readonly entries: readonly ObjectIndexEntry[];
  readonly footer: ObjectFooter;

  constructor(entries: readonly ObjectIndexEntry[], footer: ObjectFooter) {
    this.entries = entries;
    this.footer = footer;
  }

  /**
   * The adjacent blocks of `streamId` to read from `startOffset` on: the block holding
   * `startOffset` (or the first one after it), then following blocks of the stream until
   * their total size reaches `maxBytes` (at least one block is always returned when any
   * matches). Empty when the object holds nothing of the stream at or after `startOffset`.
   * The blocks are contiguous in the object: {@link blocksRange} gives one range to GET.
   */
  findBlocks(streamId: number, startOffset: number, maxBytes: number): ObjectIndexEntry[] {
    const e = this.entries;
    // First entry with (streamId, endOffset) > (streamId, startOffset).
    let lo = 0;
    let hi = e.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = e[mid] as ObjectIndexEntry;
      if (m.streamId < streamId || (m.streamId === streamId && m.endOffset <= startOffset)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    const out: ObjectIndexEntry[] = [];
    let bytes = 0;
    for (let i = lo; i < e.length; i++) {
      const entry = e[i] as ObjectIndexEntry;
      if (entry.streamId !== streamId) break;
      if (out.length > 0 && bytes >= maxBytes) break;
      out.push(entry);
      bytes += entry.size;
    }
    return out;
  }

  /** The offsets [start, end) the object holds for `streamId`, or undefined. */
  streamRange(streamId: number): { startOffset: number; endOffset: number } | undefined {
    const blocks = this.findBlocks(streamId, 0, 0);
    const first = blocks[0];
    if (first === undefined) return undefined;
    let last = first;
    for (let i = this.entries.indexOf(first); i < this.entries.length; i++) {
      const entry = this.entries[i] as ObjectIndexEntry;
      if (entry.streamId !== streamId) break;
      last = entry;
    }
    return { startOffset: first.startOffset, endOffset: last.endOffset };
  }
}

/** The single byte range covering adjacent blocks (as returned by `findBlocks`). */
export function blocksRange(blocks: readonly ObjectIndexEntry[]): { start: number; end: number } {
  const first = blocks[0];
  const last = blocks[blocks.length - 1];
  if (first === undefined || last === undefined) return { start: 0, end: 0 };
  return { start: first.position, end: last.position + last.size };
}
