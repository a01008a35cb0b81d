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

/** What a handle needs from its store (implemented by StreamStore). */
export interface StreamHost {
  appendBatch(state: StreamState, batch: Buffer, count: number): Promise<{ baseOffset: number }>;
  fetchBatches(state: StreamState, startOffset: number, maxBytes: number): Promise<FetchedBatch[]>;
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

  /** The end of what is committed to object storage (exclusive). */
  get committedOffset(): number {
    return this.state.record.endOffset;
  }

  /**
   * Appends a batch of `count` records; resolves with its base offset once it is durable in
   * the WAL (and readable). Waits while the log cache is full (backpressure).
   */
  append(batch: Buffer, count: number): Promise<{ baseOffset: number }> {
    try {
      this.check();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.host.appendBatch(this.state, batch, count);
  }

  /**
   * Batches from the one holding `startOffset` on: at least one, then more while their total
   * stays within `maxBytes`; empty at or past the end of what is acknowledged. May return
   * fewer batches than exist (one object at a time); call again from the next offset.
   */
  async fetch(startOffset: number, maxBytes: number): Promise<FetchedBatch[]> {
    this.check();
    return this.host.fetchBatches(this.state, startOffset, maxBytes);
  }

  /**
   * Waits for this stream's appends in flight, then uploads and commits everything cached
   * (the whole cache is sealed) before resolving. Later calls on the handle reject.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.state.drain();
    await this.host.flush();
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
