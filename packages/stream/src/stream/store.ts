/**
 * StreamStore: one per broker process. Owns the WAL, the log cache and the uploader, and
 * hands out {@link Stream} handles. See packages/stream/README.md, "Streams (first cut)".
 */
import type { WriteAheadLog } from '@tributary/wal';
import { LogCache } from '../cache/log-cache.ts';
import type { MetadataStore } from '../metadata/types.ts';
import { DEFAULT_BLOCK_BYTES_TARGET } from '../object-format/format.ts';
import { type ObjectStore, ObjectStoreError } from '../object-store/types.ts';
import {
  decodeStreamRecord,
  decodeWalMeta,
  encodeStreamRecord,
  encodeWalMeta,
  type StreamRecord,
  streamKey,
} from './codec.ts';
import { FencedError, StreamStoreError } from './errors.ts';
import type { GarbageStats } from './garbage.ts';
import { type CompactionOptions, type CompactionStats, Maintenance } from './maintenance.ts';
import { CommittedRanges, ObjectReader, type ObjectReaderStats } from './object-reads.ts';
import { Mutex, StreamState, withBackoff } from './state.ts';
import {
  type CommittedRangeInfo,
  type FetchedBatch,
  type FetchOptions,
  type RetentionPolicy,
  Stream,
  type StreamHost,
} from './stream.ts';
import { Uploader, type UploaderStats } from './uploader.ts';

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
  /**
   * Largest batch accepted by `append` (default 16 MiB minus the WAL meta: the FileWal's
   * default record limit). Larger ones are refused with a RangeError before taking an offset;
   * set it to what the WAL given accepts.
   */
  batchBytesMax?: number;
  /** Object-store GETs of reads in flight at most (default 16); log-cache reads never wait. */
  readConcurrency?: number;
  /** Largest read-ahead window of a sequential reader in bytes (default 8 MiB; 0: none). */
  readAheadBytesMax?: number;
  /** Put uploaded blocks into the block cache (default true). */
  writeThrough?: boolean;
  /** Time source (default `Date.now`): batch timestamps, retention, the garbage timers. */
  clock?: { now(): number };
  /** How long a superseded object stays readable before it is deleted (default 10 min). */
  garbageRetentionMs?: number;
  /** Prepared objects never committed are deleted after this long (default 30 min). */
  preparedTimeoutMs?: number;
  /** Garbage collection also deletes objects no record names this often (default 1 h). */
  orphanSweepIntervalMs?: number;
  /** Run a compaction round (and garbage collection) this often (default: never, call compact()). */
  compactionIntervalMs?: number;
  /** Tuning of the compaction rounds. */
  compaction?: CompactionOptions;
}

/** Counters of a {@link StreamStore}. */
export interface StreamStoreStats {
  upload: UploaderStats;
  read: ObjectReaderStats;
  cache: ReturnType<LogCache['stats']>;
  /** Sealed blocks waiting for (or in) upload. */
  uploadQueue: number;
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
  private readonly maintenance: Maintenance;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private compactionTimer: NodeJS.Timeout | undefined;
  private compacting: Promise<CompactionStats> | undefined;
  /** The last error of a background compaction round, if the last round failed. */
  maintenanceError: Error | undefined;
  private closing = false;
  private failure: Error | undefined;

  private constructor(
    private readonly o: StreamStoreOptions,
    private readonly ranges: CommittedRanges,
  ) {
    const clock = o.clock;
    this.now = clock ? () => clock.now() : Date.now;
    const blockBytesTarget = o.blockBytesTarget ?? DEFAULT_BLOCK_BYTES_TARGET;
    const objectKeyPrefix = o.objectKeyPrefix ?? 'objects';
    const stopped = () => this.failure;
    this.cache = new LogCache({ bytesMax: o.cacheBytesMax, blockBytesTarget: o.uploadBytesThreshold });
    this.reader = new ObjectReader(
      o.objectStore,
      {
        blockCacheBytes: o.blockCacheBytes ?? 64 * 1024 * 1024,
        getConcurrency: o.readConcurrency ?? 16,
        readAheadBytesMax: o.readAheadBytesMax ?? 8 * 1024 * 1024,
        blockBytes: blockBytesTarget,
      },
      (streamId, offset) => ranges.find(streamId, offset),
    );
    this.uploader = new Uploader({
      cache: this.cache,
      wal: o.wal,
      objectStore: o.objectStore,
      metadata: o.metadata,
      ranges,
      reader: this.reader,
      state: (id) => this.states.get(id),
      metaLock: this.metaLock,
      objectKeyPrefix,
      blockBytesTarget,
      now: this.now,
      writeThrough: o.writeThrough ?? true,
      stopped,
      onFailure: (err) => this.fail(err),
    });
    this.maintenance = new Maintenance({
      metadata: o.metadata,
      objectStore: o.objectStore,
      ranges,
      reader: this.reader,
      objectKeyPrefix,
      blockBytesTarget,
      now: this.now,
      garbageRetentionMs: o.garbageRetentionMs ?? 10 * 60 * 1000,
      preparedTimeoutMs: o.preparedTimeoutMs ?? 30 * 60 * 1000,
      orphanSweepIntervalMs: o.orphanSweepIntervalMs ?? 60 * 60 * 1000,
      stopped,
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
    const compactEvery = options.compactionIntervalMs;
    if (compactEvery !== undefined && compactEvery > 0) {
      store.compactionTimer = setInterval(() => {
        if (store.compacting !== undefined || store.failure) return;
        store.compact().then(
          () => {
            store.maintenanceError = undefined;
          },
          (err: unknown) => {
            store.maintenanceError = asError(err);
          },
        );
      }, compactEvery);
      store.compactionTimer.unref();
    }
    return store;
  }

  /**
   * One compaction round (see maintenance.ts): marks objects whose data is all trimmed, merges
   * small objects, splits streams with much data into their own objects, then collects
   * garbage. Superseded objects stay readable for `garbageRetentionMs`. Rounds do not overlap:
   * a call during a running round waits for it and returns its result.
   */
  compact(options?: CompactionOptions): Promise<CompactionStats> {
    try {
      this.checkRunning();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.compacting === undefined) {
      this.compacting = this.maintenance.compact(options ?? this.o.compaction).finally(() => {
        this.compacting = undefined;
      });
    }
    return this.compacting;
  }

  /** Deletes objects marked longer than the retention window ago and expired prepared objects. */
  collectGarbage(): Promise<GarbageStats> {
    try {
      this.checkRunning();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.track(this.maintenance.collectGarbage());
  }

  /** Deletes objects no metadata record names (see garbage.ts); collectGarbage does it hourly. */
  sweepOrphans(): Promise<{ deletedObjects: number }> {
    try {
      this.checkRunning();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.track(this.maintenance.sweepOrphans());
  }

  /** Maintenance calls in flight (close waits for them). */
  private readonly background = new Set<Promise<unknown>>();

  private track<T>(p: Promise<T>): Promise<T> {
    this.background.add(p);
    const done = () => this.background.delete(p);
    p.then(done, done);
    return p;
  }

  /** Current counters. */
  stats(): StreamStoreStats {
    return {
      upload: { ...this.uploader.stats },
      read: this.reader.stats(),
      cache: this.cache.stats(),
      uploadQueue: this.uploader.queued,
    };
  }

  /**
   * Stops all I/O of the store at once, as a crash would: nothing more is uploaded, committed
   * or trimmed, and every call rejects. Cached, uncommitted batches stay only in the WAL (a
   * new store over the same WAL recovers them). For tests and drills.
   */
  halt(): void {
    this.fail(new StreamStoreError('stream store halted'));
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
        // A takeover that lost the old owner's uncommitted batches after a trim past the
        // committed end continues at the start: offsets stay dense from the start on.
        endOffset: continuing ? base.endOffset : Math.max(base.endOffset, base.startOffset),
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

  /**
   * Deletes a stream: its record goes (handles of it become fenced, here and in any other
   * store at their next commit) and compaction drops its objects. Idempotent.
   */
  async deleteStream(streamId: number): Promise<void> {
    this.checkRunning();
    if (!Number.isSafeInteger(streamId) || streamId < 0) throw new RangeError(`bad stream id ${streamId}`);
    const key = streamKey(streamId);
    await this.metaLock.run(async () => {
      for (;;) {
        const kv = await withBackoff(() => this.o.metadata.get(key));
        if (kv === undefined) break;
        const res = await withBackoff(() =>
          this.o.metadata.txn({
            compare: [{ key, target: 'value', op: '==', value: kv.value }],
            success: [{ type: 'delete', key }],
          }),
        );
        if (res.succeeded) break;
      }
      const state = this.states.get(streamId);
      if (state) state.fenced ??= new FencedError(streamId, `stream ${streamId} was deleted`);
    });
    this.ranges.forget(streamId);
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
    if (this.compactionTimer) clearInterval(this.compactionTimer);
    await this.compacting?.catch(() => {});
    await Promise.allSettled([...this.background]);
    for (const state of this.states.values()) await state.drain();
    try {
      await this.flush();
    } finally {
      this.cache.close(new StreamStoreError('stream store closed'));
    }
  }

  /** @internal See {@link Stream.append}. */
  appendBatch(
    state: StreamState,
    batch: Buffer,
    count: number,
    timestamp?: number,
  ): Promise<{ baseOffset: number }> {
    try {
      this.checkRunning();
      if (!Number.isSafeInteger(count) || count < 1 || count > 0xffff_ffff) {
        throw new RangeError(`bad batch count ${count}`);
      }
      const batchMax = this.o.batchBytesMax ?? DEFAULT_BATCH_BYTES_MAX;
      if (batch.length > batchMax) {
        throw new RangeError(`batch of ${batch.length} bytes exceeds batchBytesMax ${batchMax}`);
      }
      if (batch.length > this.cache.bytesMax) {
        throw new RangeError(`batch of ${batch.length} bytes exceeds cacheBytesMax ${this.cache.bytesMax}`);
      }
      if (timestamp !== undefined && !Number.isSafeInteger(timestamp)) {
        throw new RangeError(`bad timestamp ${timestamp}`);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const baseOffset = state.nextOffset;
    state.nextOffset += count;
    const ts = timestamp ?? this.now();
    const p = this.appendAt(state, state.record.epoch, baseOffset, count, batch, ts);
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
    timestamp: number,
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
      res = await this.o.wal.append(
        batch,
        encodeWalMeta({ streamId: state.id, baseOffset, count, epoch, timestamp }),
      );
    } catch (err) {
      this.cache.release(batch.length);
      this.fail(new StreamStoreError(`WAL append failed: ${asError(err).message}`, err));
      throw this.failure;
    }
    if (state.fenced) {
      this.cache.release(batch.length);
      throw state.fenced;
    }
    if (this.failure) {
      this.cache.release(batch.length);
      throw this.failure;
    }
    this.cache.append(state.id, baseOffset, count, batch, res.offset, res.nextOffset, timestamp);
    this.uploader.kick();
    return { baseOffset };
  }

  /** @internal See {@link Stream.fetch}. */
  async fetchBatches(
    state: StreamState,
    startOffset: number,
    maxBytes: number,
    options: FetchOptions = {},
  ): Promise<FetchedBatch[]> {
    if (!Number.isSafeInteger(startOffset) || startOffset < 0)
      throw new RangeError(`bad offset ${startOffset}`);
    if (startOffset < state.record.startOffset) {
      throw new RangeError(`offset ${startOffset} is below the stream start ${state.record.startOffset}`);
    }
    // Fast path: the log cache (synchronous, never waits behind object reads).
    const cached = this.cache.fetch(state.id, startOffset, maxBytes);
    if (cached !== undefined)
      return cached.map((b) => ({ baseOffset: b.baseOffset, count: b.count, data: b.batch }));
    if (startOffset >= state.record.endOffset) return [];
    // Slow path: committed objects (block cache, then ranged GETs under the read limit).
    for (let attempt = 0; ; attempt++) {
      let range = this.ranges.find(state.id, startOffset);
      if (range === undefined) {
        await this.ranges.reload(this.o.metadata, state.id);
        range = this.ranges.find(state.id, startOffset);
      }
      if (range === undefined) {
        if (startOffset < state.record.startOffset) {
          throw new RangeError(`offset ${startOffset} is below the stream start ${state.record.startOffset}`);
        }
        throw new StreamStoreError(`stream ${state.id}: no committed object holds offset ${startOffset}`);
      }
      try {
        const batches = await this.reader.read(range, state.id, startOffset, maxBytes, options.readerId);
        return batches.map((b) => ({ baseOffset: b.baseOffset, count: b.count, data: b.data }));
      } catch (err) {
        // The object was compacted away and collected (by this or another store): re-read the
        // stream's ranges and try again.
        if (!(err instanceof ObjectStoreError && err.kind === 'not-found') || attempt >= READ_RETRIES_MAX)
          throw err;
        this.reader.forgetObject(range.objectId);
        this.ranges.removeObject(range.objectId);
        await this.ranges.reload(this.o.metadata, state.id);
      }
    }
  }

  /** @internal See {@link Stream.trim}. */
  async trimStream(state: StreamState, newStartOffset: number): Promise<void> {
    this.checkRunning();
    if (!Number.isSafeInteger(newStartOffset) || newStartOffset < 0) {
      throw new RangeError(`bad start offset ${newStartOffset}`);
    }
    await this.metaLock.run(async () => {
      if (state.fenced) throw state.fenced;
      if (newStartOffset <= state.record.startOffset) return;
      if (newStartOffset > state.nextOffset) {
        throw new RangeError(`start offset ${newStartOffset} is above the stream end ${state.nextOffset}`);
      }
      const next: StreamRecord = { ...state.record, startOffset: newStartOffset };
      const key = streamKey(state.id);
      const value = encodeStreamRecord(next);
      const res = await withBackoff(() =>
        this.o.metadata.txn({
          compare: [{ key, target: 'value', op: '==', value: state.recordBytes }],
          success: [{ type: 'put', key, value }],
        }),
      );
      if (!res.succeeded) {
        // A retried txn whose first attempt applied (answer lost) fails its compare: the
        // stored record then is exactly ours.
        const kv = await withBackoff(() => this.o.metadata.get(key));
        if (!kv?.value.equals(value)) {
          state.fenced ??= new FencedError(state.id, `stream ${state.id} was taken over`);
          throw state.fenced;
        }
      }
      state.setRecord(next);
    });
  }

  /** @internal See {@link Stream.committedRanges}. */
  rangesOf(state: StreamState): readonly CommittedRangeInfo[] {
    const start = state.record.startOffset;
    return this.ranges
      .list(state.id)
      .filter((r) => r.endOffset > start && r.endOffset <= state.record.endOffset)
      .map((r) => ({
        startOffset: r.startOffset,
        endOffset: r.endOffset,
        size: r.size,
        maxTimestamp: r.maxTimestamp,
      }));
  }

  /** @internal See {@link Stream.applyRetention}. */
  async applyRetention(state: StreamState, policy: RetentionPolicy): Promise<number> {
    const start = state.record.startOffset;
    const list = this.ranges
      .list(state.id)
      .filter((r) => r.endOffset > start && r.endOffset <= state.record.endOffset);
    let newStart = start;
    const { retentionMs, retentionBytes } = policy;
    if (retentionMs !== undefined && retentionMs >= 0) {
      const limit = this.now() - retentionMs;
      for (const r of list) {
        if (r.maxTimestamp >= limit) break;
        newStart = r.endOffset;
      }
    }
    if (retentionBytes !== undefined && retentionBytes >= 0) {
      let total = list.reduce((n, r) => n + r.size, 0);
      for (const r of list) {
        if (total - r.size < retentionBytes) break;
        total -= r.size;
        newStart = Math.max(newStart, r.endOffset);
      }
    }
    if (newStart > start) await this.trimStream(state, newStart);
    return state.record.startOffset;
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
      this.cache.append(
        m.streamId,
        m.baseOffset,
        m.count,
        rec.data,
        rec.offset,
        rec.nextOffset,
        m.timestamp ?? this.now(),
      );
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
    if (this.compactionTimer) clearInterval(this.compactionTimer);
    this.cache.close(this.failure);
  }
}

/** Default {@link StreamStoreOptions.batchBytesMax}: FileWal's default record limit minus the meta. */
const DEFAULT_BATCH_BYTES_MAX = 16 * 1024 * 1024 - 64;

/** Re-reads of a stream's ranges when its object vanished under a read. */
const READ_RETRIES_MAX = 3;

/** Most rounds of commit-then-open in {@link StreamStore.open}. */
const OPEN_ATTEMPTS_MAX = 100;

/** True when `state` holds batches not yet committed and `epoch` would change its epoch. */
function mustCommitBeforeEpochChange(state: StreamState, epoch: number): boolean {
  return state.record.epoch !== epoch && state.nextOffset !== state.record.endOffset;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
