/**
 * The log cache: every appended batch, in WAL order, until the object holding it has been
 * uploaded and committed. Tail reads are served from here without copying.
 *
 * Ordering contract: WAL order = insertion order = seal order = free order. `append` takes
 * batches in increasing WAL offset; `seal` cuts everything appended since the previous seal
 * into a {@link SealedBlock} (the upload unit); `free` drops the oldest sealed block only, and
 * returns the WAL offset below which the WAL may be trimmed.
 *
 * Buffer ownership: the cache keeps the `Buffer` passed to `append` (no copy) and hands the
 * same object out of `fetch` and `seal`; nobody may modify it afterwards.
 */
import { ByteBudget } from './byte-budget.ts';

/** One batch held by the cache: offsets [baseOffset, baseOffset + count). */
export interface CachedBatch {
  readonly streamId: number;
  readonly baseOffset: number;
  readonly count: number;
  /** The appended buffer itself (zero copy). */
  readonly batch: Buffer;
  /** WAL offset of the record holding this batch. */
  readonly walOffset: number;
  /** WAL offset just past that record. */
  readonly walNextOffset: number;
  /** Newest timestamp of the batch (ms; 0 when unknown). */
  readonly timestamp: number;
}

/** Everything appended between two seals: the unit uploaded as one object. */
export interface SealedBlock {
  /** Increasing from 1, in seal order. */
  readonly id: number;
  /** Per stream, its batches in offset order. Map iteration order = first append order. */
  readonly streams: ReadonlyMap<number, readonly CachedBatch[]>;
  /** Sum of the batches' byte lengths. */
  readonly bytes: number;
  /** WAL offset of the first batch's record. */
  readonly walStart: number;
  /** WAL offset just past the last batch's record: trim point once this block is uploaded. */
  readonly walEnd: number;
}

/** Options of {@link LogCache}. */
export interface LogCacheOptions {
  /** Bytes of batch data held (appended + reserved) at most. */
  bytesMax: number;
  /** `shouldSeal()` is true once this many bytes were appended since the last seal. */
  blockBytesTarget: number;
  /** Most pending reserve() calls. Default 65536. */
  waitersMax?: number;
}

/** Counters of a {@link LogCache}. */
export interface LogCacheStats {
  /** Bytes of batches held (sealed and not). */
  bytes: number;
  /** Bytes reserved and not yet appended. */
  reservedBytes: number;
  /** Bytes appended since the last seal. */
  activeBytes: number;
  /** Sealed blocks not yet freed. */
  sealedCount: number;
  /** Pending reserve() calls. */
  waiters: number;
  /** Streams the cache knows the end of. */
  streams: number;
}

interface MutableBlock {
  id: number;
  streams: Map<number, CachedBatch[]>;
  bytes: number;
  walStart: number;
  walEnd: number;
}

interface StreamRange {
  /** First offset still cached (= end when nothing is). */
  start: number;
  /** Offset the next append must start at. */
  end: number;
}

/** Error for appends that break WAL order or stream continuity. */
export class LogCacheOrderError extends Error {
  override name = 'LogCacheOrderError';
}

/** In-memory, bounded cache of the stream tail. Not thread-safe (single event loop). */
export class LogCache {
  readonly bytesMax: number;
  readonly blockBytesTarget: number;
  private readonly budget: ByteBudget;
  private readonly ranges = new Map<number, StreamRange>();
  /** Sealed, not freed blocks, oldest first. */
  private readonly sealed: MutableBlock[] = [];
  private active: MutableBlock;
  private nextBlockId = 1;
  /** WAL offset the next append must start at or after. */
  private walNext = 0;

  constructor(options: LogCacheOptions) {
    this.budget = new ByteBudget({
      bytesMax: options.bytesMax,
      waitersMax: options.waitersMax,
      name: 'log cache',
    });
    if (!Number.isSafeInteger(options.blockBytesTarget) || options.blockBytesTarget <= 0) {
      throw new RangeError(`blockBytesTarget must be a positive integer, got ${options.blockBytesTarget}`);
    }
    this.bytesMax = options.bytesMax;
    this.blockBytesTarget = options.blockBytesTarget;
    this.active = this.newBlock();
  }

  /**
   * Resolves once `bytes` of room are set aside (FIFO among callers); call before writing the
   * batch to the WAL, then `append` it. Rejects with RangeError when `bytes > bytesMax`.
   * Room only comes back through `free`, so while callers wait the owner must keep sealing
   * and uploading: `shouldSeal()` is true whenever reservers wait and anything is unsealed.
   */
  reserve(bytes: number): Promise<void> {
    return this.budget.reserve(bytes);
  }

  /** Gives back a reservation that will not be appended (e.g. the WAL write failed). */
  release(bytes: number): void {
    this.budget.release(bytes);
  }

  /**
   * Adds a batch, written to the WAL at [walOffset, walNextOffset), covering offsets
   * [baseOffset, baseOffset + count) of the stream. Its bytes come out of the caller's
   * reservation (or free room). Throws LogCacheOrderError if walOffset is below the previous
   * append's walNextOffset or baseOffset is not the stream's end (the first append of a
   * stream sets it); throws RangeError on bad numbers or when the bytes do not fit.
   */
  append(
    streamId: number,
    baseOffset: number,
    count: number,
    batch: Buffer,
    walOffset: number,
    walNextOffset: number,
    timestamp = 0,
  ): void {
    checkId('streamId', streamId);
    checkId('baseOffset', baseOffset);
    checkId('walOffset', walOffset);
    if (!Number.isSafeInteger(count) || count <= 0 || !Number.isSafeInteger(baseOffset + count)) {
      throw new RangeError(`count must be a positive integer with base + count < 2^53, got ${count}`);
    }
    if (!Number.isSafeInteger(walNextOffset) || walNextOffset <= walOffset) {
      throw new RangeError(`walNextOffset ${walNextOffset} must be above walOffset ${walOffset}`);
    }
    if (walOffset < this.walNext) {
      throw new LogCacheOrderError(
        `WAL offset ${walOffset} is below the previous append's end ${this.walNext}`,
      );
    }
    const range = this.ranges.get(streamId);
    if (range && range.end !== baseOffset) {
      const what = baseOffset > range.end ? 'gap' : 'overlap';
      throw new LogCacheOrderError(
        `stream ${streamId}: ${what}, batch starts at ${baseOffset} but the stream ends at ${range.end}`,
      );
    }
    this.budget.commit(batch.length);
    const entry: CachedBatch = { streamId, baseOffset, count, batch, walOffset, walNextOffset, timestamp };
    const block = this.active;
    if (block.streams.size === 0) block.walStart = walOffset;
    block.walEnd = walNextOffset;
    block.bytes += batch.length;
    const list = block.streams.get(streamId);
    if (list) list.push(entry);
    else block.streams.set(streamId, [entry]);
    if (range) range.end = baseOffset + count;
    else this.ranges.set(streamId, { start: baseOffset, end: baseOffset + count });
    this.walNext = walNextOffset;
  }

  /** Offset the stream's next append must start at, or undefined if the stream is unknown. */
  streamEnd(streamId: number): number | undefined {
    return this.ranges.get(streamId)?.end;
  }

  /** First offset of the stream still cached (= its end when none is), or undefined. */
  streamStart(streamId: number): number | undefined {
    return this.ranges.get(streamId)?.start;
  }

  /**
   * The cached batches of the stream from the one holding `startOffset` onwards, in offset
   * order, at least one and then more while their total stays within `maxBytes`. The buffers
   * are the appended ones (zero copy). Empty when `startOffset` is at or past the stream's
   * end; undefined when the stream is unknown or `startOffset` is below its cached start
   * (read it from object storage instead).
   */
  fetch(streamId: number, startOffset: number, maxBytes: number): CachedBatch[] | undefined {
    const range = this.ranges.get(streamId);
    if (!range || startOffset < range.start) return undefined;
    const out: CachedBatch[] = [];
    if (startOffset >= range.end) return out;
    let bytes = 0;
    for (const block of this.blocksInOrder()) {
      const list = block.streams.get(streamId);
      if (!list) continue;
      const last = list[list.length - 1]!;
      if (last.baseOffset + last.count <= startOffset) continue;
      let i = out.length === 0 ? findBatch(list, startOffset) : 0;
      for (; i < list.length; i++) {
        const b = list[i]!;
        if (out.length > 0 && bytes + b.batch.length > maxBytes) return out;
        out.push(b);
        bytes += b.batch.length;
      }
    }
    return out;
  }

  /**
   * True once `blockBytesTarget` bytes were appended since the last seal, or under memory
   * pressure: reservers wait, something is unsealed and no sealed block is left to free room.
   * (Sealing at every wait would turn a slow object store into many tiny objects.)
   */
  shouldSeal(): boolean {
    if (this.active.bytes >= this.blockBytesTarget) return true;
    return this.budget.waiting > 0 && this.active.bytes > 0 && this.sealed.length === 0;
  }

  /**
   * Cuts everything appended since the last seal into a block (O(1): the per-stream lists are
   * built while appending), or returns undefined if nothing was appended. The block's batches
   * stay readable by `fetch` until `free(block.id)`.
   */
  seal(): SealedBlock | undefined {
    const block = this.active;
    if (block.streams.size === 0) return undefined;
    this.sealed.push(block);
    this.active = this.newBlock();
    return block;
  }

  /**
   * Drops the oldest sealed block, whose upload has committed, and returns its `walEnd`: the
   * WAL may now be trimmed below it. Throws LogCacheOrderError if `sealedId` is not the
   * oldest sealed block (free order = seal order = WAL order).
   */
  free(sealedId: number): number {
    const oldest = this.sealed[0];
    if (!oldest || oldest.id !== sealedId) {
      throw new LogCacheOrderError(
        `free(${sealedId}) out of order: the oldest sealed block is ${oldest ? oldest.id : 'none'}`,
      );
    }
    this.sealed.shift();
    for (const [streamId, list] of oldest.streams) {
      const range = this.ranges.get(streamId)!;
      const last = list[list.length - 1]!;
      range.start = last.baseOffset + last.count;
    }
    this.budget.free(oldest.bytes);
    return oldest.walEnd;
  }

  /** Forgets a stream that holds no cached batch (e.g. closed); false if it still holds some. */
  forgetStream(streamId: number): boolean {
    const range = this.ranges.get(streamId);
    if (!range) return true;
    if (range.start !== range.end) return false;
    this.ranges.delete(streamId);
    return true;
  }

  /** Rejects pending and later reserve() calls (the cache is shutting down). */
  close(err: Error = new Error('log cache closed')): void {
    this.budget.close(err);
  }

  /** Current counters. */
  stats(): LogCacheStats {
    return {
      bytes: this.budget.used,
      reservedBytes: this.budget.reserved,
      activeBytes: this.active.bytes,
      sealedCount: this.sealed.length,
      waiters: this.budget.waiting,
      streams: this.ranges.size,
    };
  }

  /**
   * Checks the internal invariants (for tests and debug builds; O(cached batches)): blocks in
   * WAL order without overlap, bytes accounted exactly, memory within bytesMax, per-stream
   * batches contiguous from the stream's start to its end.
   */
  assertInvariants(): void {
    const fail = (msg: string): never => {
      throw new Error(`log cache invariant: ${msg}`);
    };
    let bytes = 0;
    let walPrev = -1;
    let idPrev = 0;
    const next = new Map<number, number>();
    for (const block of this.blocksInOrder()) {
      if (block.id <= idPrev) fail(`block ids not increasing at ${block.id}`);
      idPrev = block.id;
      let blockBytes = 0;
      const entries = [...block.streams.values()].flat().sort((a, b) => a.walOffset - b.walOffset);
      for (const e of entries) {
        if (e.walOffset < walPrev) fail(`WAL order broken at ${e.walOffset}`);
        walPrev = e.walNextOffset;
        blockBytes += e.batch.length;
      }
      if (entries.length > 0 && (entries[0]!.walOffset !== block.walStart || walPrev !== block.walEnd)) {
        fail(`block ${block.id} WAL bounds`);
      }
      if (blockBytes !== block.bytes) fail(`block ${block.id} bytes ${block.bytes} != ${blockBytes}`);
      bytes += blockBytes;
      for (const [streamId, list] of block.streams) {
        for (const e of list) {
          const expect = next.get(streamId) ?? this.ranges.get(streamId)?.start;
          if (e.baseOffset !== expect) fail(`stream ${streamId} not contiguous at ${e.baseOffset}`);
          next.set(streamId, e.baseOffset + e.count);
        }
      }
    }
    for (const [streamId, end] of next) {
      if (this.ranges.get(streamId)?.end !== end) fail(`stream ${streamId} end`);
    }
    if (bytes !== this.budget.used) fail(`bytes ${this.budget.used} != ${bytes}`);
    if (this.budget.used + this.budget.reserved > this.bytesMax) fail('memory above bytesMax');
  }

  private *blocksInOrder(): Iterable<MutableBlock> {
    yield* this.sealed;
    yield this.active;
  }

  private newBlock(): MutableBlock {
    return {
      id: this.nextBlockId++,
      streams: new Map(),
      bytes: 0,
      walStart: this.walNext,
      walEnd: this.walNext,
    };
  }
}

/** Index of the batch holding `offset` in a contiguous list (offset must be within it). */
function findBatch(list: readonly CachedBatch[], offset: number): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (list[mid]!.baseOffset <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function checkId(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be an integer in [0, 2^53), got ${value}`);
  }
}
