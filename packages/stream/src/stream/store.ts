/**
 * StreamStore: one per broker process. Owns the WAL, the log cache and the uploader, and
 * hands out {@link Stream} handles. See packages/stream/README.md, "Streams (first cut)".
 */
import type { WriteAheadLog } from '@tributary/wal';
import { LogCache } from '../cache/log-cache.ts';
import type { MetadataStore } from '../metadata/types.ts';
import { DEFAULT_BLOCK_BYTES_TARGET } from '../object-format/format.ts';
import type { ObjectStore } from '../object-store/types.ts';
import {
  decodeStreamRecord,
  decodeWalMeta,
  encodeStreamRecord,
  encodeWalMeta,
  type StreamRecord,
  streamKey,
} from './codec.ts';
import { FencedError, StreamStoreError } from './errors.ts';
import { CommittedRanges, ObjectReader } from './object-reads.ts';
import { Mutex, StreamState, withBackoff } from './state.ts';
import { type FetchedBatch, Stream, type StreamHost } from './stream.ts';
import { Uploader } from './uploader.ts';

/** Options of {@link StreamStore.start}. */
export interface StreamStoreOptions {
  /** A WAL not yet recovered: `start` iterates `recover()`. Not closed by the store. */
  wal: WriteAheadLog;
  /** Where objects go (not closed by the store). */
  objectStore: ObjectStore;
  /** Stream and object records (not closed by the store). */
  metadata: MetadataStore;
  /** This broker's id, stored as the `owner` of the streams it opens. */
  nodeId: string;
  /** Bytes of unuploaded batches held in memory at most (appends wait beyond). */
  cacheBytesMax: number;
  /** Seal and upload once this many bytes were appended since the last seal. */
  uploadBytesThreshold: number;
  /** Also seal and upload whatever is cached this often (default: never). */
  uploadIntervalMs?: number;
  /** Target size of an object's data blocks (default 512 KiB). */
  blockBytesTarget?: number;
  /** Key prefix of the objects (default `objects`, no trailing slash). */
  objectKeyPrefix?: string;
  /** Bytes of decoded object blocks cached for cold reads (default 64 MiB). */
  blockCacheBytes?: number;
}

/** What recovery did at start. */
export interface RecoveryStats {
  /** WAL records fed back into the cache (then uploaded). */
  replayed: number;
  /** WAL records already committed (skipped). */
  skipped: number;
  /** WAL records of streams now owned by another node or deleted (dropped). */
  dropped: number;
}

/** The stream layer of one broker process. */
export class StreamStore implements StreamHost {
  /** What the start-up recovery did. */
  readonly recovery: RecoveryStats = { replayed: 0, skipped: 0, dropped: 0 };
  private readonly cache: LogCache;
  private readonly uploader: Uploader;
  private readonly reader: ObjectReader;
  private readonly states = new Map<number, StreamState>();
  private readonly metaLock = new Mutex();
  private timer: NodeJS.Timeout | undefined;
  private closing = false;
  private failure: Error | undefined;

  private constructor(
    private readonly o: StreamStoreOptions,
    private readonly ranges: CommittedRanges,
  ) {
    this.cache = new LogCache({ bytesMax: o.cacheBytesMax, blockBytesTarget: o.uploadBytesThreshold });
    this.reader = new ObjectReader(o.objectStore, o.blockCacheBytes ?? 64 * 1024 * 1024);
    this.uploader = new Uploader({
      cache: this.cache,
      wal: o.wal,
      objectStore: o.objectStore,
      metadata: o.metadata,
      ranges,
      state: (id) => this.states.get(id),
      metaLock: this.metaLock,
      objectKeyPrefix: o.objectKeyPrefix ?? 'objects',
      blockBytesTarget: o.blockBytesTarget ?? DEFAULT_BLOCK_BYTES_TARGET,
      onFailure: (err) => this.fail(err),
    });
  }

  /**
   * Loads the committed object ranges, replays the WAL (records above each stream's committed
   * end go back into the cache in WAL order), uploads and commits them, trims the WAL, then
   * returns the running store.
   */
  static async start(options: StreamStoreOptions): Promise<StreamStore> {
    const ranges = await CommittedRanges.load(options.metadata);
    const store = new StreamStore(options, ranges);
    await store.recover();
    const every = options.uploadIntervalMs;
    if (every !== undefined && every > 0) {
      store.timer = setInterval(() => {
        if (store.cache.stats().activeBytes > 0) store.uploader.kick(true);
      }, every);
      store.timer.unref();
    }
    return store;
  }

  /** The error that stopped the store (uploads or the WAL failed), if any. */
  get error(): Error | undefined {
    return this.failure;
  }

  /**
   * Opens `streamId` at `epoch`: creates it if missing, rejects with {@link FencedError} if
   * its stored epoch is newer, and otherwise takes it over (stores `epoch` and this node as
   * owner with a compare-and-swap). Older handles of the stream become fenced.
   */
  async open(streamId: number, epoch: number): Promise<Stream> {
    this.checkRunning();
    if (!Number.isSafeInteger(streamId) || streamId < 0) throw new RangeError(`bad stream id ${streamId}`);
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`bad epoch ${epoch}`);
    for (let attempt = 0; attempt < OPEN_ATTEMPTS_MAX; attempt++) {
      const old = this.states.get(streamId);
      if (old !== undefined && !old.fenced && mustCommitBeforeEpochChange(old, epoch)) {
        // WAL replay keeps only records of the stored epoch: commit the current one's first.
        await old.drain();
        await this.flush();
      }
      const stream = await this.metaLock.run(() => this.openLocked(streamId, epoch));
      if (stream !== undefined) return stream;
    }
    throw new StreamStoreError(`open of stream ${streamId}: appends of the previous epoch keep coming`);
  }

  /** Undefined when the stream has uncommitted batches of another epoch (commit them first). */
  private async openLocked(streamId: number, epoch: number): Promise<Stream | undefined> {
    const key = streamKey(streamId);
    for (;;) {
      const kv = await withBackoff(() => this.o.metadata.get(key));
      const stored = kv === undefined ? undefined : decodeStreamRecord(kv.value);
      if (stored !== undefined && stored.epoch > epoch) {
        throw new FencedError(streamId, `stream ${streamId} is at epoch ${stored.epoch}, above ${epoch}`);
      }
      const old = this.states.get(streamId);
      const continuing = old !== undefined && !old.fenced && kv?.value.equals(old.recordBytes);
      if (continuing && mustCommitBeforeEpochChange(old, epoch)) return undefined;
      if (old !== undefined && !continuing) {
        old.fenced ??= new FencedError(streamId, `stream ${streamId} was taken over`);
        if (!this.cache.forgetStream(streamId)) {
          throw new StreamStoreError(`stream ${streamId} still has cached batches of a fenced handle`);
        }
      }
      const base = continuing
        ? old.record
        : (stored ?? { epoch, owner: this.o.nodeId, startOffset: 0, endOffset: 0 });
      const next: StreamRecord = {
        epoch,
        owner: this.o.nodeId,
        startOffset: base.startOffset,
        endOffset: base.endOffset,
      };
      const res = await withBackoff(() =>
        this.o.metadata.txn({
          compare: [
            kv === undefined
              ? { key, target: 'exists', op: '==', value: false }
              : { key, target: 'value', op: '==', value: kv.value },
          ],
          success: [{ type: 'put', key, value: encodeStreamRecord(next) }],
        }),
      );
      if (!res.succeeded) continue;
      if (continuing) {
        old.setRecord(next);
        return new Stream(this, old, epoch);
      }
      const state = new StreamState(streamId, next);
      this.states.set(streamId, state);
      if (next.endOffset > next.startOffset && this.ranges.find(streamId, next.endOffset - 1) === undefined) {
        await this.ranges.reload(this.o.metadata, streamId);
      }
      return new Stream(this, state, epoch);
    }
  }

  /** Seals everything cached and resolves once it is uploaded and committed. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    await this.uploader.flush();
  }

  /**
   * Stops the timer, waits for appends in flight, uploads and commits everything cached.
   * Later calls reject. The WAL, object store and metadata store stay open (the caller's).
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    for (const state of this.states.values()) await state.drain();
    try {
      await this.flush();
    } finally {
      this.cache.close(new StreamStoreError('stream store closed'));
    }
  }

  /** @internal See {@link Stream.append}. */
  appendBatch(state: StreamState, batch: Buffer, count: number): Promise<{ baseOffset: number }> {
    try {
      this.checkRunning();
      if (!Number.isSafeInteger(count) || count < 1 || count > 0xffff_ffff) {
        throw new RangeError(`bad batch count ${count}`);
      }
      if (batch.length > this.cache.bytesMax) {
        throw new RangeError(`batch of ${batch.length} bytes exceeds cacheBytesMax ${this.cache.bytesMax}`);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const baseOffset = state.nextOffset;
    state.nextOffset += count;
    const p = this.appendAt(state, state.record.epoch, baseOffset, count, batch);
    state.pending.add(p);
    const done = () => state.pending.delete(p);
    p.then(done, done);
    return p;
  }

  private async appendAt(
    state: StreamState,
    epoch: number,
    baseOffset: number,
    count: number,
    batch: Buffer,
  ): Promise<{ baseOffset: number }> {
    const reserved = this.cache.reserve(batch.length);
    this.uploader.kick();
    try {
      await reserved;
    } catch (err) {
      // Offsets were handed out: a lost append leaves a gap, so the store stops.
      this.fail(asError(err));
      throw this.failure;
    }
    let res: { offset: number; nextOffset: number };
    try {
      res = await this.o.wal.append(batch, encodeWalMeta({ streamId: state.id, baseOffset, count, epoch }));
    } catch (err) {
      this.cache.release(batch.length);
      this.fail(new StreamStoreError(`WAL append failed: ${asError(err).message}`, err));
      throw this.failure;
    }
    if (state.fenced) {
      this.cache.release(batch.length);
      throw state.fenced;
    }
    this.cache.append(state.id, baseOffset, count, batch, res.offset, res.nextOffset);
    this.uploader.kick();
    return { baseOffset };
  }

  /** @internal See {@link Stream.fetch}. */
  async fetchBatches(state: StreamState, startOffset: number, maxBytes: number): Promise<FetchedBatch[]> {
    if (!Number.isSafeInteger(startOffset) || startOffset < 0)
      throw new RangeError(`bad offset ${startOffset}`);
    const cached = this.cache.fetch(state.id, startOffset, maxBytes);
    if (cached !== undefined)
      return cached.map((b) => ({ baseOffset: b.baseOffset, count: b.count, data: b.batch }));
    if (startOffset >= state.record.endOffset) return [];
    if (startOffset < state.record.startOffset) {
      throw new RangeError(`offset ${startOffset} is below the stream start ${state.record.startOffset}`);
    }
    const range = this.ranges.find(state.id, startOffset);
    if (range === undefined) {
      throw new StreamStoreError(`stream ${state.id}: no committed object holds offset ${startOffset}`);
    }
    const batches = await this.reader.read(range, state.id, startOffset, maxBytes);
    return batches.map((b) => ({ baseOffset: b.baseOffset, count: b.count, data: b.data }));
  }

  private async recover(): Promise<void> {
    const seen = new Set<number>();
    let replayedEnd = 0;
    for await (const rec of this.o.wal.recover()) {
      replayedEnd = rec.nextOffset;
      const m = decodeWalMeta(rec.meta);
      let state = this.states.get(m.streamId);
      if (state === undefined && !seen.has(m.streamId)) {
        seen.add(m.streamId);
        const kv = await withBackoff(() => this.o.metadata.get(streamKey(m.streamId)));
        const stored = kv === undefined ? undefined : decodeStreamRecord(kv.value);
        if (stored !== undefined && stored.owner === this.o.nodeId) {
          state = new StreamState(m.streamId, stored);
          this.states.set(m.streamId, state);
        }
      }
      if (state === undefined) {
        this.recovery.dropped++;
        continue;
      }
      if (m.baseOffset + m.count <= state.nextOffset) {
        this.recovery.skipped++;
        continue;
      }
      if (state.record.epoch !== m.epoch) {
        // Appended by a handle of another epoch that never committed it (it was fenced).
        this.recovery.dropped++;
        continue;
      }
      if (m.baseOffset !== state.nextOffset) {
        throw new StreamStoreError(
          `WAL replay: stream ${m.streamId} record at ${m.baseOffset}, expected ${state.nextOffset}`,
        );
      }
      const st = this.cache.stats();
      if (st.bytes + st.reservedBytes + rec.data.length > this.cache.bytesMax) await this.uploader.flush();
      this.cache.append(m.streamId, m.baseOffset, m.count, rec.data, rec.offset, rec.nextOffset);
      state.nextOffset += m.count;
      this.recovery.replayed++;
      this.uploader.kick();
    }
    await this.uploader.flush();
    await this.uploader.enableTrim(replayedEnd);
  }

  private checkRunning(): void {
    if (this.failure) throw this.failure;
    if (this.closing) throw new StreamStoreError('stream store is closed');
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err instanceof StreamStoreError ? err : new StreamStoreError(err.message, err);
    if (this.timer) clearInterval(this.timer);
    this.cache.close(this.failure);
  }
}

/** Most rounds of commit-then-open in {@link StreamStore.open}. */
const OPEN_ATTEMPTS_MAX = 100;

/** True when `state` holds batches not yet committed and `epoch` would change its epoch. */
function mustCommitBeforeEpochChange(state: StreamState, epoch: number): boolean {
  return state.record.epoch !== epoch && state.nextOffset !== state.record.endOffset;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
