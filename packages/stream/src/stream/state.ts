/**
 * Shared internal state of the stream layer: per-stream ownership state, a small async mutex
 * and a bounded retry helper.
 */
import { MetadataError } from '../metadata/types.ts';
import { ObjectStoreError } from '../object-store/types.ts';
import { encodeStreamRecord, type StreamRecord } from './codec.ts';
import type { FencedError } from './errors.ts';

/** What a StreamStore knows of one stream it owns. */
export class StreamState {
  /** The stream record as last read or written by this store (compared in every commit). */
  record: StreamRecord;
  recordBytes: Buffer;
  /** Offset the next append gets (appends in flight included). */
  nextOffset: number;
  /** Set once a commit or an open found the stream taken over. */
  fenced: FencedError | undefined;
  /** Appends in flight (settled ones removed). */
  readonly pending = new Set<Promise<unknown>>();

  constructor(
    readonly id: number,
    record: StreamRecord,
  ) {
    this.record = record;
    this.recordBytes = encodeStreamRecord(record);
    this.nextOffset = record.endOffset;
  }

  /** Replaces the expected record (after a successful write of it). */
  setRecord(record: StreamRecord): void {
    this.record = record;
    this.recordBytes = encodeStreamRecord(record);
  }

  /** Resolves once every append in flight now has settled. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}

/** A FIFO async mutex. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` once every earlier `run` has finished. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => {});
    return p;
  }
}

/** Attempts of {@link withBackoff}. */
const ATTEMPTS_MAX = 6;

/**
 * Runs `fn`, retrying transient failures (ObjectStoreError 'retriable', MetadataError
 * 'unavailable') with exponential backoff; other errors and the last failure are thrown.
 */
export async function withBackoff<T>(fn: () => Promise<T>, baseDelayMs = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const transient =
        (err instanceof ObjectStoreError && err.kind === 'retriable') ||
        (err instanceof MetadataError && err.kind === 'unavailable');
      if (!transient || attempt >= ATTEMPTS_MAX) throw err;
      await new Promise((r) => setTimeout(r, Math.min(1000, baseDelayMs * 2 ** (attempt - 1))));
    }
  }
}
