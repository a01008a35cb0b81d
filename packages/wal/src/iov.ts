/** Buffer lists handed to writev: zero-copy splitting, and a group's list built over slabs. */
import { RECORD_HEADER_BYTES, writeRecordHeader } from './format.ts';

/** Splits a buffer list at byte `n` (zero-copy). */
export function splitIov(iov: readonly Uint8Array[], n: number): [Uint8Array[], Uint8Array[]] {
  const a: Uint8Array[] = [];
  const b: Uint8Array[] = [];
  let left = n;
  for (const buf of iov) {
    if (left >= buf.length) a.push(buf);
    else if (left === 0) b.push(buf);
    else {
      a.push(buf.subarray(0, left));
      b.push(buf.subarray(left));
    }
    left = Math.max(0, left - buf.length);
  }
  return [a, b];
}

/** Data no larger than this is copied next to its record's header instead of referenced. */
export const COPY_DATA_MAX_BYTES = 2048;

/** What {@link GroupIov.addRecord} lays out: a record whose body CRC is known. */
export interface RecordParts {
  meta: Buffer | undefined;
  data: Buffer | readonly Buffer[];
  metaLength: number;
  dataLength: number;
  bodyCrc: number;
  /** Logical offset of the record's header. */
  offset: number;
}

/** Bytes per slab: holds the largest inline part of a record (header, meta, copied small data). */
export const SLAB_BYTES = 64 * 1024;

/** Slabs kept for reuse by {@link SlabPool}; more are dropped to the garbage collector. */
const POOL_MAX = 16;

/** Free slabs, reused once every write that referenced them has completed. */
export class SlabPool {
  private readonly free: Buffer[] = [];

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES);
  }

  give(slabs: readonly Buffer[]): void {
    for (const s of slabs) if (this.free.length < POOL_MAX) this.free.push(s);
  }
}

/**
 * The buffer list of one group: the bytes a record owns (header, meta, small data) are written
 * into slabs, back to back, so consecutive inline bytes make a single list entry; large data
 * buffers are referenced, never copied.
 */
export class GroupIov {
  /** The list so far (the open run of slab bytes is added by {@link closeRun}). */
  readonly list: Uint8Array[] = [];
  /** Every slab this group used (returned to the pool once the group is durable). */
  readonly slabs: Buffer[] = [];
  private slab: Buffer | null = null;
  private used = 0;
  private runStart = 0;

  constructor(private readonly pool: SlabPool) {}

  /** The slab of the last {@link reserve}. */
  get current(): Buffer {
    return this.slab!;
  }

  /**
   * Reserves `n` contiguous bytes (n <= SLAB_BYTES) in the current slab, or in a new one when
   * they do not fit; returns where they start in {@link current}.
   */
  reserve(n: number): number {
    const s = this.slab;
    if (s === null || this.used + n > s.length) {
      this.closeRun();
      this.slab = this.pool.take();
      this.slabs.push(this.slab);
      this.used = 0;
      this.runStart = 0;
    }
    const at = this.used;
    this.used += n;
    return at;
  }

  /**
   * Appends a record (flags 0): header and meta, and data up to COPY_DATA_MAX_BYTES, are
   * written into the slab; larger data buffers are referenced. Returns where the header
   * starts in {@link current}.
   */
  addRecord(r: RecordParts, incarnation: number): number {
    const copy = r.dataLength <= COPY_DATA_MAX_BYTES;
    const at = this.reserve(RECORD_HEADER_BYTES + r.metaLength + (copy ? r.dataLength : 0));
    const slab = this.slab!;
    writeRecordHeader(slab, at, 0, r.metaLength, r.dataLength, r.offset, incarnation, r.bodyCrc);
    let pos = at + RECORD_HEADER_BYTES;
    if (r.metaLength > 0) {
      slab.set(r.meta!, pos);
      pos += r.metaLength;
    }
    const data = r.data;
    if (Buffer.isBuffer(data)) {
      if (copy) slab.set(data, pos);
      else this.ref(data);
      return at;
    }
    for (const b of data) {
      if (copy) {
        slab.set(b, pos);
        pos += b.length;
      } else if (b.length > 0) this.ref(b);
    }
    return at;
  }

  /** Appends `n` zero bytes (in the slab when they fit, else a view of `zero`). */
  pad(n: number, zero: Buffer): void {
    if (n > SLAB_BYTES) this.ref(zero.subarray(0, n));
    else if (n > 0) {
      const at = this.reserve(n);
      this.slab!.fill(0, at, at + n);
    }
  }

  /** Appends a referenced (not copied) buffer. */
  ref(b: Uint8Array): void {
    this.closeRun();
    this.list.push(b);
  }

  /** Ends the open run of slab bytes: it becomes one list entry. */
  closeRun(): void {
    if (this.slab !== null && this.used > this.runStart) {
      this.list.push(this.slab.subarray(this.runStart, this.used));
      this.runStart = this.used;
    }
  }
}
