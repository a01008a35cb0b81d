/**
 * The uploader: turns sealed log-cache blocks into committed objects, one at a time in seal
 * order: ObjectWriter over the block's streams (sorted by id) → put → commit txn → free the
 * block → trim the WAL. The commit decides: an object put but not committed is garbage, and a
 * committed range is skipped when the WAL is replayed.
 */

import type { WriteAheadLog } from '@tributary/wal';
import type { LogCache, SealedBlock } from '../cache/log-cache.ts';
import type { Compare, MetadataStore, TxnOp } from '../metadata/types.ts';
import { objectKey } from '../object-format/keys.ts';
import { ObjectWriter } from '../object-format/writer.ts';
import type { ObjectStore } from '../object-store/types.ts';
import {
  decodeStreamRecord,
  encodeObjectRecord,
  encodeStreamRecord,
  NEXT_OBJECT_ID_KEY,
  type ObjectStreamRecord,
  objectRecordKey,
  streamKey,
} from './codec.ts';
import { FencedError, StreamStoreError } from './errors.ts';
import type { CommittedRanges } from './object-reads.ts';
import { type Mutex, type StreamState, withBackoff } from './state.ts';

/** What the uploader needs from its store. */
export interface UploaderDeps {
  cache: LogCache;
  wal: WriteAheadLog;
  objectStore: ObjectStore;
  metadata: MetadataStore;
  ranges: CommittedRanges;
  /** The state of a stream the cache holds batches of. */
  state(streamId: number): StreamState | undefined;
  /** Serialises writes of stream records. */
  metaLock: Mutex;
  objectKeyPrefix: string;
  blockBytesTarget: number;
  /** Called once when uploading stops for good. */
  onFailure(err: Error): void;
}

/** Serialised uploader of sealed blocks. */
export class Uploader {
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

  /**
   * Seals the cache when it asks for it (or always with `force`) and makes sure an upload
   * runs while sealed blocks wait.
   */
  kick(force = false): void {
    if (this.failure) return;
    if (force || this.d.cache.shouldSeal()) {
      const block = this.d.cache.seal();
      if (block) this.queue.push(block);
    }
    if (this.running === undefined && this.queue.length > 0) {
      this.running = this.drain().finally(() => {
        this.running = undefined;
        if (this.queue.length > 0 || this.d.cache.shouldSeal()) this.kick();
      });
    }
  }

  /** Seals everything cached and resolves once it is all committed (rejects if uploading failed). */
  async flush(): Promise<void> {
    this.kick(true);
    // Wait for the blocks sealed so far only (later appends may keep coming).
    const last = this.queue[this.queue.length - 1];
    while (last !== undefined && this.queue.includes(last) && !this.failure) {
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
        this.queue.shift();
        const walEnd = this.d.cache.free(block.id);
        if (this.trimEnabled) await this.d.wal.trim(walEnd);
        else this.trimPending = Math.max(this.trimPending, walEnd);
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        this.failure = new StreamStoreError(`upload stopped: ${e.message}`, e);
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
    for (const id of live) {
      for (const b of block.streams.get(id)!) writer.add(id, b.baseOffset, b.count, b.batch);
    }
    const result = writer.finish();
    const objectId = await this.allocateId();
    const key = objectKey(this.d.objectKeyPrefix, objectId);
    await withBackoff(() => this.d.objectStore.put(key, result.buffers));
    let ranges: ObjectStreamRecord[] = result.streams.map((s) => ({
      streamId: s.streamId,
      startOffset: s.startOffset,
      endOffset: s.endOffset,
      position: s.position,
      size: s.size,
    }));
    // Each failed attempt fences at least one stream (or throws), so this ends.
    while (ranges.length > 0) {
      const done = await this.d.metaLock.run(() => this.commit(objectId, key, result.size, ranges));
      if (done) return;
      ranges = await this.dropFenced(ranges);
    }
  }

  /** One commit attempt; false when a stream record compare failed. */
  private async commit(
    objectId: number,
    key: string,
    size: number,
    ranges: ObjectStreamRecord[],
  ): Promise<boolean> {
    const compare: Compare[] = [{ key: objectRecordKey(objectId), target: 'exists', op: '==', value: false }];
    const success: TxnOp[] = [
      {
        type: 'put',
        key: objectRecordKey(objectId),
        value: encodeObjectRecord({ key, size, streams: ranges }),
      },
    ];
    const updates: { state: StreamState; endOffset: number }[] = [];
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
      success.push({ type: 'put', key: streamKey(r.streamId), value: encodeStreamRecord(next) });
      updates.push({ state, endOffset: r.endOffset });
    }
    const res = await withBackoff(() => this.d.metadata.txn({ compare, success }));
    if (!res.succeeded) return false;
    for (const { state, endOffset } of updates) {
      state.setRecord({ ...state.record, endOffset });
    }
    for (const r of ranges) {
      this.d.ranges.add(r.streamId, {
        objectId,
        key,
        objectSize: size,
        startOffset: r.startOffset,
        endOffset: r.endOffset,
      });
    }
    return true;
  }

  /** Marks the streams whose record changed under us as fenced; returns the others. */
  private async dropFenced(ranges: ObjectStreamRecord[]): Promise<ObjectStreamRecord[]> {
    const keep: ObjectStreamRecord[] = [];
    for (const r of ranges) {
      const state = this.d.state(r.streamId)!;
      const kv = await withBackoff(() => this.d.metadata.get(streamKey(r.streamId)));
      if (kv?.value.equals(state.recordBytes)) {
        keep.push(r);
        continue;
      }
      const stored = kv === undefined ? undefined : decodeStreamRecord(kv.value);
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

  /** Allocates an object id with a compare-and-swap on the counter. */
  private async allocateId(): Promise<number> {
    for (;;) {
      const kv = await withBackoff(() => this.d.metadata.get(NEXT_OBJECT_ID_KEY));
      const id = kv === undefined ? 1 : Number(kv.value.toString('utf8'));
      const guard: Compare =
        kv === undefined
          ? { key: NEXT_OBJECT_ID_KEY, target: 'exists', op: '==', value: false }
          : { key: NEXT_OBJECT_ID_KEY, target: 'revision', op: '==', value: kv.revision };
      const res = await withBackoff(() =>
        this.d.metadata.txn({
          compare: [guard],
          success: [{ type: 'put', key: NEXT_OBJECT_ID_KEY, value: Buffer.from(String(id + 1)) }],
        }),
      );
      if (res.succeeded) return id;
    }
  }
}
