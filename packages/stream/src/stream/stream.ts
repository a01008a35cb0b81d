/**
 * A stream handle: appends and reads of one stream owned (at one epoch) by a StreamStore.
 */
import { FencedError, StreamStoreError } from './errors.ts';
import type { StreamState } from './state.ts';

/** One batch read back by {@link Stream.fetch}: offsets [baseOffset, baseOffset + count). */
export interface FetchedBatch {
  readonly baseOffset: number;
  readonly count: number;
  /** The batch bytes as appended (shared: do not modify). */
  readonly data: Buffer;
}

/** Options of {@link Stream.fetch}. */
export interface FetchOptions {
  /**
   * Identifies one sequential reader (e.g. a consumer connection) for read-ahead: reads of
   * one reader that continue where its previous read ended grow its prefetch window.
   */
  readerId?: string;
}

/** A committed range of a stream (see {@link Stream.committedRanges}). */
export interface CommittedRangeInfo {
  readonly startOffset: number;
  readonly endOffset: number;
  /** Bytes of the range in its object. */
  readonly size: number;
  /** Newest batch timestamp of the range (ms; 0 when unknown). */
  readonly maxTimestamp: number;
}

/** What {@link Stream.applyRetention} keeps. */
export interface RetentionPolicy {
  /** Drop committed ranges whose newest timestamp is older than now minus this (ms). */
  retentionMs?: number;
  /** Drop the oldest committed ranges while at least this many bytes remain. */
  retentionBytes?: number;
}

/** What a handle needs from its store (implemented by StreamStore). */
export interface StreamHost {
  appendBatch(
    state: StreamState,
    batch: Buffer,
    count: number,
    timestamp?: number,
  ): Promise<{ baseOffset: number }>;
  fetchBatches(
    state: StreamState,
    startOffset: number,
    maxBytes: number,
    options?: FetchOptions,
  ): Promise<FetchedBatch[]>;
  trimStream(state: StreamState, newStartOffset: number): Promise<void>;
  rangesOf(state: StreamState): readonly CommittedRangeInfo[];
  applyRetention(state: StreamState, policy: RetentionPolicy): Promise<number>;
  flush(): Promise<void>;
}

/**
 * An open stream. Appends get consecutive offsets in call order and resolve once durable in
 * the WAL; fetches read the log cache or, below it, committed objects. Once the stream is
 * taken over by a newer epoch (here or in another store) every call rejects with
 * {@link FencedError}.
 */
export class Stream {
  private closed = false;

  /** @internal Created by `StreamStore.open`. */
  constructor(
    private readonly host: StreamHost,
    private readonly state: StreamState,
    /** The epoch this handle was opened with. */
    readonly epoch: number,
  ) {}

  /** The stream id. */
  get id(): number {
    return this.state.id;
  }

  /** The offset the next append will get (appends still in flight included). */
  get endOffset(): number {
    return this.state.nextOffset;
  }

  /** The first offset still readable (moved up by {@link trim} and retention). */
  get startOffset(): number {
    return this.state.record.startOffset;
  }

  /** The end of what is committed to object storage (exclusive). */
  get committedOffset(): number {
    return this.state.record.endOffset;
  }

  /**
   * Appends a batch of `count` records; resolves with its base offset once it is durable in
   * the WAL (and readable). Waits while the log cache is full (backpressure). `timestampMs`
   * is the newest timestamp in the batch (default: the store clock), kept for time retention.
   */
  append(batch: Buffer, count: number, timestampMs?: number): Promise<{ baseOffset: number }> {
    try {
      this.check();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.host.appendBatch(this.state, batch, count, timestampMs);
  }

  /**
   * Batches from the one holding `startOffset` on: at least one, then more while their total
   * stays within `maxBytes`; empty at or past the end of what is acknowledged. May return
   * fewer batches than exist (one object at a time); call again from the next offset.
   */
  async fetch(startOffset: number, maxBytes: number, options?: FetchOptions): Promise<FetchedBatch[]> {
    this.check();
    return this.host.fetchBatches(this.state, startOffset, maxBytes, options);
  }

  /**
   * The committed ranges at or above the start offset, in offset order, with their sizes
   * and newest timestamps: a sparse time index (ranges above `committedOffset` are still
   * in the log cache and not listed).
   */
  committedRanges(): readonly CommittedRangeInfo[] {
    this.check();
    return this.host.rangesOf(this.state);
  }

  /**
   * Moves the start of the stream up to `newStartOffset` (at most the end; never down):
   * offsets below it can no longer be read, and compaction drops their data.
   */
  async trim(newStartOffset: number): Promise<void> {
    this.check();
    await this.host.trimStream(this.state, newStartOffset);
  }

  /**
   * Trims whole committed ranges by time and size (Kafka's retention.ms / retention.bytes at
   * the granularity of uploaded ranges); resolves with the new start offset.
   */
  async applyRetention(policy: RetentionPolicy): Promise<number> {
    this.check();
    return this.host.applyRetention(this.state, policy);
  }

  /**
   * Waits for this stream's appends in flight, then, if any of them is not committed yet,
   * uploads and commits the cache (other streams' cached batches go in the same object)
   * before resolving. Later calls on the handle reject.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.state.drain();
    if (this.state.fenced) return;
    if (this.state.nextOffset > this.state.record.endOffset) await this.host.flush();
  }

  private check(): void {
    if (this.closed) throw new StreamStoreError(`stream ${this.state.id} handle is closed`);
    if (this.state.fenced) throw this.state.fenced;
    if (this.state.record.epoch !== this.epoch) {
      throw new FencedError(
        this.state.id,
        `stream ${this.state.id} was reopened with epoch ${this.state.record.epoch}`,
      );
    }
  }
}
