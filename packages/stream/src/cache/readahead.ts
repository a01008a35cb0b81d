/**
 * Adaptive read-ahead for catch-up reads from object storage. A reader that reads a stream
 * sequentially gets a prefetch window that doubles with every sequential read, from one block
 * up to `windowBytesMax`; a jump elsewhere (a seek, a random read) drops it back to nothing.
 * Pure logic: no I/O, no clock.
 */
import { LRUCache } from 'lru-cache';

/** Options of {@link ReadAhead}. */
export interface ReadAheadOptions {
  /** First window once reads look sequential (typically one object block). */
  blockBytes: number;
  /** Largest window. */
  windowBytesMax: number;
}

/** What the policy says after a read. */
export interface ReadAheadAdvice {
  /** Bytes to prefetch past the end of the read just done (0: none). */
  windowBytes: number;
  /** Whether the read continued the previous one. */
  sequential: boolean;
}

/**
 * Read-ahead state of one (reader, stream). Call {@link onRead} after each read of offsets
 * [startOffset, endOffset); it returns how far to prefetch.
 */
export class ReadAhead {
  readonly blockBytes: number;
  readonly windowBytesMax: number;
  private lastStart = -1;
  private lastEnd = -1;
  private window = 0;

  constructor(options: ReadAheadOptions) {
    if (!Number.isSafeInteger(options.blockBytes) || options.blockBytes <= 0) {
      throw new RangeError(`blockBytes must be a positive integer, got ${options.blockBytes}`);
    }
    if (!Number.isSafeInteger(options.windowBytesMax) || options.windowBytesMax < options.blockBytes) {
      throw new RangeError(`windowBytesMax must be an integer >= blockBytes, got ${options.windowBytesMax}`);
    }
    this.blockBytes = options.blockBytes;
    this.windowBytesMax = options.windowBytesMax;
  }

  /** The current window in bytes. */
  get windowBytes(): number {
    return this.window;
  }

  /**
   * Records a read of offsets [startOffset, endOffset). A read starting exactly where the
   * previous one ended is sequential and grows the window (one block, then doubling, capped at
   * `windowBytesMax`); a read starting inside the previous one (a retry, a partial re-read)
   * keeps the window; an empty read where the previous one ended changes nothing; anything
   * else, and the very first read, resets it to 0.
   */
  onRead(startOffset: number, endOffset: number): ReadAheadAdvice {
    if (!Number.isSafeInteger(startOffset) || startOffset < 0 || !Number.isSafeInteger(endOffset)) {
      throw new RangeError(`bad read range [${startOffset}, ${endOffset})`);
    }
    if (endOffset < startOffset) throw new RangeError(`bad read range [${startOffset}, ${endOffset})`);
    const known = this.lastEnd >= 0;
    // An empty read where the last one ended (caught up, nothing new): no change.
    if (known && startOffset === this.lastEnd && endOffset === startOffset) {
      return { windowBytes: this.window, sequential: false };
    }
    const sequential = known && startOffset === this.lastEnd;
    if (sequential) {
      this.window = this.window === 0 ? this.blockBytes : Math.min(this.windowBytesMax, this.window * 2);
    } else if (!(known && startOffset >= this.lastStart && startOffset < this.lastEnd)) {
      this.window = 0;
    }
    this.lastStart = startOffset;
    this.lastEnd = endOffset;
    return { windowBytes: this.window, sequential };
  }

  /** Forgets the history (e.g. the reader seeked). */
  reset(): void {
    this.lastStart = -1;
    this.lastEnd = -1;
    this.window = 0;
  }
}

/** Options of {@link ReadAheadTracker}. */
export interface ReadAheadTrackerOptions extends ReadAheadOptions {
  /** (reader, stream) pairs tracked at most; the least recently used is forgotten. */
  entriesMax: number;
}

/** The read-ahead states of many (reader, stream) pairs, bounded by `entriesMax` (LRU). */
export class ReadAheadTracker {
  private readonly states: LRUCache<string, ReadAhead>;
  private readonly options: ReadAheadOptions;

  constructor(options: ReadAheadTrackerOptions) {
    if (!Number.isSafeInteger(options.entriesMax) || options.entriesMax <= 0) {
      throw new RangeError(`entriesMax must be a positive integer, got ${options.entriesMax}`);
    }
    this.options = { blockBytes: options.blockBytes, windowBytesMax: options.windowBytesMax };
    new ReadAhead(this.options); // validates the options now
    this.states = new LRUCache({ max: options.entriesMax });
  }

  /** Records a read by `readerId` of [startOffset, endOffset) of `streamId`; see {@link ReadAhead.onRead}. */
  onRead(readerId: string, streamId: number, startOffset: number, endOffset: number): ReadAheadAdvice {
    const key = `${streamId}/${readerId}`;
    let state = this.states.get(key);
    if (!state) {
      state = new ReadAhead(this.options);
      this.states.set(key, state);
    }
    return state.onRead(startOffset, endOffset);
  }

  /** Forgets one pair (the reader went away). */
  forget(readerId: string, streamId: number): void {
    this.states.delete(`${streamId}/${readerId}`);
  }

  /** Pairs tracked now. */
  get size(): number {
    return this.states.size;
  }
}
