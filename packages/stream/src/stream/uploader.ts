/**
 * The uploader: turns sealed log-cache blocks into committed objects, one at a time in seal
 * order: allocate an id and a `prepared/` record (one txn) → ObjectWriter over the block's
 * streams (sorted by id) → put → commit txn(s) → free the block → trim the WAL. The commit
 * decides: an object put but not committed is garbage (its `prepared/` record lets the
 * collector delete it after a timeout), and a committed range is skipped on WAL replay.
 *
 * A block with more streams than fit one metadata txn is committed in parts (one object,
 * several `objects/<id>/<part>` records); the first part also deletes the prepared record.
 * Transient failures of the object or metadata store are retried without limit: an outage
 * stalls uploads (the log cache fills and appends wait) but loses and fails nothing.
 */

import { randomUUID } from 'node:crypto';
import type { WriteAheadLog } from '@tributary/wal';
import type { CachedBatch, LogCache, SealedBlock } from '../cache/log-cache.ts';
import type { Compare, MetadataStore, TxnOp } from '../metadata/types.ts';
import type { ObjectIndexEntry } from '../object-format/format.ts';
import { objectKey } from '../object-format/keys.ts';
import type { ReadBatch } from '../object-format/reader.ts';
import { type ObjectWriteResult, ObjectWriter } from '../object-format/writer.ts';
import type { ObjectStore } from '../object-store/types.ts';
import {
  decodeStreamRecord,
  encodeObjectRecord,
  encodePendingRecord,
  encodeStreamRecord,
  garbageKey,
  NEXT_OBJECT_ID_KEY,
  type ObjectStreamRecord,
  objectRecordKey,
  preparedKey,
  streamKey,
} from './codec.ts';
import { FencedError, StreamStoreError } from './errors.ts';
import type { CommittedRanges, ObjectReader } from './object-reads.ts';
import { type Mutex, retryForever, type StreamState } from './state.ts';

/** Streams committed per metadata txn (a txn holds at most 128 operations). */
export const COMMIT_STREAMS_MAX = 100;

/** What the uploader needs from its store. */
export interface UploaderDeps {
  cache: LogCache;
  wal: WriteAheadLog;
  objectStore: ObjectStore;
  metadata: MetadataStore;
  ranges: CommittedRanges;
  reader: ObjectReader;
  /** The state of a stream the cache holds batches of. */
  state(streamId: number): StreamState | undefined;
  /** Serialises writes of stream records. */
  metaLock: Mutex;
  objectKeyPrefix: string;
  blockBytesTarget: number;
  now(): number;
  /** Put the uploaded blocks into the read block cache. */
  writeThrough: boolean;
  /** The error that stops all I/O (halt, store failure), if any. */
  stopped(): Error | undefined;
  /** Called once when uploading stops for good. */
  onFailure(err: Error): void;
}

/** Counters of the uploader. */
export interface UploaderStats {
  /** Objects committed. */
  objects: number;
  /** Metadata commit txns that succeeded. */
  commitTxns: number;
  /** Bytes of objects put. */
  bytes: number;
}

/** Allocates an object id and records it as prepared (one txn); retried without limit. */
export async function prepareObject(
  metadata: MetadataStore,
  keyOf: (objectId: number) => string,
  now: number,
  stopped: () => Error | undefined,
): Promise<{ objectId: number; key: string }> {
  for (;;) {
    const kv = await retryForever(() => metadata.get(NEXT_OBJECT_ID_KEY), stopped);
    const objectId = kv === undefined ? 1 : Number(kv.value.toString('utf8'));
    const guard: Compare =
      kv === undefined
        ? { key: NEXT_OBJECT_ID_KEY, target: 'exists', op: '==', value: false }
        : { key: NEXT_OBJECT_ID_KEY, target: 'revision', op: '==', value: kv.revision };
    const key = keyOf(objectId);
    // A nonce makes the record ours alone: a retried txn that did apply is recognised by it.
    const value = encodePendingRecord({ key, at: now, nonce: randomUUID() });
    const res = await retryForever(
      () =>
        metadata.txn({
          compare: [guard],
          success: [
            { type: 'put', key: NEXT_OBJECT_ID_KEY, value: Buffer.from(String(objectId + 1)) },
            { type: 'put', key: preparedKey(objectId), value },
          ],
        }),
      stopped,
    );
    if (res.succeeded) return { objectId, key };
    const p = await retryForever(() => metadata.get(preparedKey(objectId)), stopped);
    if (p?.value.equals(value)) return { objectId, key };
  }
}

/** Turns a prepared object that will not be committed into garbage (deleted right away by GC). */
export async function abandonPrepared(
  metadata: MetadataStore,
  objectId: number,
  key: string,
  stopped: () => Error | undefined,
): Promise<void> {
  await retryForever(
    () =>
      metadata.txn({
        compare: [{ key: preparedKey(objectId), target: 'exists', op: '==', value: true }],
        success: [
          { type: 'delete', key: preparedKey(objectId) },
          { type: 'put', key: garbageKey(objectId), value: encodePendingRecord({ key, at: 0 }) },
        ],
      }),
    stopped,
  );
}

/** Serialised uploader of sealed blocks. */
export class Uploader {
  readonly stats: UploaderStats = { objects: 0, commitTxns: 0, bytes: 0 };
  private readonly queue: SealedBlock[] = [];
  private running: Promise<void> | undefined;
  private failure: Error | undefined;
  /** While false (during recovery) WAL trims are remembered, not done. */
  private trimEnabled = false;
  private trimPending = 0;

  constructor(private readonly d: UploaderDeps) {}

  /** The error that stopped uploading, if any. */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Sealed blocks waiting or being uploaded. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Seals the cache when it asks for it (or always with `force`) and makes sure an upload
   * runs while sealed blocks wait.
   */
  kick(force = false): void {
    if (this.failure || this.d.stopped()) return;
    if (force || this.d.cache.shouldSeal() || this.walPressure()) {
      const block = this.d.cache.seal();
      if (block) this.queue.push(block);
    }
    if (this.running === undefined && this.queue.length > 0) {
      this.running = this.drain().finally(() => {
        this.running = undefined;
        if (this.queue.length > 0 || this.d.cache.shouldSeal() || this.walPressure()) this.kick();
      });
    }
  }

  /**
   * True when the WAL is at least half full with nothing sealed left to upload: small batches
   * take far more WAL space (group alignment) than cache bytes, so the WAL can fill long before
   * the cache reaches the upload threshold; sealing then lets the next trim free it.
   */
  private walPressure(): boolean {
    const wal = this.d.wal;
    return (
      this.queue.length === 0 &&
      this.d.cache.stats().activeBytes > 0 &&
      wal.state === 'open' &&
      wal.usedBytes * 2 >= wal.capacityBytes
    );
  }

  /** Seals everything cached and resolves once it is all committed (rejects if uploading failed). */
  async flush(): Promise<void> {
    this.kick(true);
    // Wait for the blocks sealed so far only (later appends may keep coming).
    const last = this.queue[this.queue.length - 1];
    while (last !== undefined && this.queue.includes(last) && !this.failure) {
      const stop = this.d.stopped();
      if (stop) throw stop;
      if (this.running === undefined) this.kick();
      await this.running;
    }
    if (this.failure) throw this.failure;
  }

  /**
   * Starts trimming the WAL (after recovery), first to the remembered point or `replayedEnd`
   * (the end of the replayed records: all committed, skipped or dropped by then).
   */
  async enableTrim(replayedEnd: number): Promise<void> {
    this.trimEnabled = true;
    this.trimPending = Math.max(this.trimPending, replayedEnd);
    if (this.trimPending > 0) await this.d.wal.trim(this.trimPending);
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.failure) {
      const block = this.queue[0]!;
      try {
        await this.upload(block);
        const stop = this.d.stopped();
        if (stop) throw stop;
        this.queue.shift();
        const walEnd = this.d.cache.free(block.id);
        if (this.trimEnabled) await this.d.wal.trim(walEnd);
        else this.trimPending = Math.max(this.trimPending, walEnd);
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        this.failure =
          e instanceof StreamStoreError ? e : new StreamStoreError(`upload stopped: ${e.message}`, e);
        this.d.onFailure(this.failure);
        return;
      }
    }
  }

  private async upload(block: SealedBlock): Promise<void> {
    const ids = [...block.streams.keys()].sort((a, b) => a - b);
    const live = ids.filter((id) => this.d.state(id)?.fenced === undefined);
    if (live.length === 0) return;
    const writer = new ObjectWriter({ blockBytesTarget: this.d.blockBytesTarget });
    const maxTs = new Map<number, number>();
    for (const id of live) {
      let ts = 0;
      for (const b of block.streams.get(id)!) {
        writer.add(id, b.baseOffset, b.count, b.batch);
        if (b.timestamp > ts) ts = b.timestamp;
      }
      maxTs.set(id, ts);
    }
    const result = writer.finish();
    const stopped = () => this.d.stopped();
    for (;;) {
      const { objectId, key } = await prepareObject(
        this.d.metadata,
        (id) => objectKey(this.d.objectKeyPrefix, id),
        this.d.now(),
        stopped,
      );
      await retryForever(() => this.d.objectStore.put(key, result.buffers), stopped);
      this.stats.bytes += result.size;
      const ranges: ObjectStreamRecord[] = result.streams.map((s) => ({
        streamId: s.streamId,
        startOffset: s.startOffset,
        endOffset: s.endOffset,
        position: s.position,
        size: s.size,
        maxTimestamp: maxTs.get(s.streamId) ?? 0,
      }));
      const outcome = await this.commitParts(objectId, key, result.size, ranges);
      if (outcome === 'committed') {
        this.stats.objects++;
        if (this.d.writeThrough) this.prime(objectId, result, block);
        return;
      }
      if (outcome === 'fenced') {
        await abandonPrepared(this.d.metadata, objectId, key, stopped);
        return;
      }
      // 'expired': the collector took the prepared object (a stall longer than the timeout):
      // make sure no late PUT of ours survives it, then upload again under a new id. An
      // object with a garbage record is the collector's to delete (it may still be read).
      const marked = await retryForever(() => this.d.metadata.get(garbageKey(objectId)), stopped);
      if (marked === undefined) await retryForever(() => this.d.objectStore.delete(key), stopped);
    }
  }

  /** Commits the ranges in parts of at most {@link COMMIT_STREAMS_MAX} streams. */
  private async commitParts(
    objectId: number,
    key: string,
    size: number,
    all: ObjectStreamRecord[],
  ): Promise<'committed' | 'fenced' | 'expired'> {
    let part = 0;
    let preparedLive = true;
    for (let i = 0; i < all.length; i += COMMIT_STREAMS_MAX) {
      let chunk = all.slice(i, i + COMMIT_STREAMS_MAX);
      while (chunk.length > 0) {
        const done = await this.d.metaLock.run(() =>
          this.commitChunk(objectId, part, key, size, chunk, preparedLive),
        );
        if (done) {
          part++;
          preparedLive = false;
          break;
        }
        if (preparedLive) {
          const p = await retryForever(
            () => this.d.metadata.get(preparedKey(objectId)),
            () => this.d.stopped(),
          );
          if (p === undefined) return 'expired';
        }
        // Under the lock: a trim of this store is then already in the state it compares with.
        const current = chunk;
        chunk = await this.d.metaLock.run(() => this.dropFenced(current));
      }
    }
    return preparedLive ? 'fenced' : 'committed';
  }

  /** One commit attempt of one part; false when a compare failed. */
  private async commitChunk(
    objectId: number,
    part: number,
    key: string,
    size: number,
    ranges: ObjectStreamRecord[],
    first: boolean,
  ): Promise<boolean> {
    const recordKey = objectRecordKey(objectId, part);
    const compare: Compare[] = [{ key: recordKey, target: 'exists', op: '==', value: false }];
    const value = encodeObjectRecord({ key, size, createdAt: this.d.now(), streams: ranges });
    const success: TxnOp[] = [{ type: 'put', key: recordKey, value }];
    if (first) {
      compare.push({ key: preparedKey(objectId), target: 'exists', op: '==', value: true });
      success.push({ type: 'delete', key: preparedKey(objectId) });
    }
    const updates: { state: StreamState; endOffset: number; nextBytes: Buffer }[] = [];
    for (const r of ranges) {
      const state = this.d.state(r.streamId);
      if (!state) throw new StreamStoreError(`no state for stream ${r.streamId}`);
      if (r.startOffset !== state.record.endOffset) {
        throw new StreamStoreError(
          `stream ${r.streamId}: object starts at ${r.startOffset}, committed end is ${state.record.endOffset}`,
        );
      }
      compare.push({ key: streamKey(r.streamId), target: 'value', op: '==', value: state.recordBytes });
      const next = { ...state.record, endOffset: r.endOffset };
      const nextBytes = encodeStreamRecord(next);
      success.push({ type: 'put', key: streamKey(r.streamId), value: nextBytes });
      updates.push({ state, endOffset: r.endOffset, nextBytes });
    }
    const res = await retryForever(
      () => this.d.metadata.txn({ compare, success }),
      () => this.d.stopped(),
    );
    let compacted = false;
    if (!res.succeeded) {
      // A retried txn that had applied (answer lost) fails its compares. Our part record tells;
      // if a compaction has already replaced it, a stream record holding exactly the end this
      // txn wrote does (nobody else writes that value).
      const stopped = () => this.d.stopped();
      const kv = await retryForever(() => this.d.metadata.get(recordKey), stopped);
      if (kv === undefined || !kv.value.equals(value)) {
        let applied = false;
        for (const u of updates) {
          const sk = await retryForever(() => this.d.metadata.get(streamKey(u.state.id)), stopped);
          if (sk?.value.equals(u.nextBytes)) applied = true;
        }
        if (!applied) return false;
        compacted = true;
      }
    }
    this.stats.commitTxns++;
    for (const { state, endOffset } of updates) {
      state.setRecord({ ...state.record, endOffset });
    }
    if (compacted) {
      // The object is already replaced: read the streams' ranges as they are now.
      for (const u of updates) await this.d.ranges.reload(this.d.metadata, u.state.id);
      return true;
    }
    for (const r of ranges) {
      this.d.ranges.add(r.streamId, {
        objectId,
        key,
        objectSize: size,
        startOffset: r.startOffset,
        endOffset: r.endOffset,
        size: r.size,
        maxTimestamp: r.maxTimestamp,
      });
    }
    return true;
  }

  /** Marks the streams whose record changed under us as fenced; returns the others. */
  private async dropFenced(ranges: ObjectStreamRecord[]): Promise<ObjectStreamRecord[]> {
    const keep: ObjectStreamRecord[] = [];
    for (const r of ranges) {
      const state = this.d.state(r.streamId)!;
      const kv = await retryForever(
        () => this.d.metadata.get(streamKey(r.streamId)),
        () => this.d.stopped(),
      );
      if (kv?.value.equals(state.recordBytes)) {
        keep.push(r);
        continue;
      }
      const stored = kv === undefined ? undefined : decodeStreamRecord(kv.value);
      if (
        stored !== undefined &&
        stored.epoch === state.record.epoch &&
        stored.owner === state.record.owner
      ) {
        // Still ours (only this store writes it at this epoch): adopt what is stored.
        state.setRecord(stored);
        keep.push(r);
        continue;
      }
      state.fenced = new FencedError(
        r.streamId,
        `stream ${r.streamId} was taken over (epoch ${stored?.epoch ?? 'deleted'}, owner ${stored?.owner ?? '-'}); ` +
          `this handle had epoch ${state.record.epoch}`,
      );
    }
    if (keep.length === ranges.length) {
      throw new StreamStoreError('commit failed although no stream record changed');
    }
    return keep;
  }

  /** Write-through: the uploaded blocks go into the read cache, decoded from the cached batches. */
  private prime(objectId: number, result: ObjectWriteResult, block: SealedBlock): void {
    let streamId = -1;
    let list: readonly CachedBatch[] = [];
    let i = 0;
    this.d.reader.prime(objectId, result.blocks, (e: ObjectIndexEntry) => {
      if (e.streamId !== streamId) {
        streamId = e.streamId;
        list = block.streams.get(streamId) ?? [];
        i = 0;
      }
      const out: ReadBatch[] = [];
      while (i < list.length && list[i]!.baseOffset < e.startOffset) i++;
      while (i < list.length && list[i]!.baseOffset < e.endOffset) {
        const b = list[i]!;
        out.push({ baseOffset: b.baseOffset, count: b.count, data: b.batch });
        i++;
      }
      return out;
    });
  }
}
