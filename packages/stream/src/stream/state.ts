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

/** True for failures worth retrying: ObjectStoreError 'retriable', MetadataError 'unavailable'. */
export function isTransient(err: unknown): boolean {
  return (
    (err instanceof ObjectStoreError && err.kind === 'retriable') ||
    (err instanceof MetadataError && err.kind === 'unavailable')
  );
}

/**
 * Runs `fn` until it succeeds, retrying transient failures without limit (exponential backoff
 * capped at `maxDelayMs`) while `stopped()` returns undefined; throws other errors, or the
 * error `stopped()` returns once it does. Background work (uploads, compaction) uses it: an
 * outage of the object store stalls them (and backpressure stops appends) instead of failing.
 */
export async function retryForever<T>(
  fn: () => Promise<T>,
  stopped: () => Error | undefined,
  maxDelayMs = 2000,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const stop = stopped();
    if (stop) throw stop;
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err)) throw err;
      const stop2 = stopped();
      if (stop2) throw stop2;
      const delay = Math.min(maxDelayMs, 10 * 2 ** Math.min(attempt - 1, 20));
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random() / 2)));
    }
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
      if (!isTransient(err) || attempt >= ATTEMPTS_MAX) throw err;
      await new Promise((r) => setTimeout(r, Math.min(1000, baseDelayMs * 2 ** (attempt - 1))));
    }
  }
}
