/**
 * Compaction of the objects: drop objects whose data is all trimmed, merge small stream-set
 * objects, split streams with much data into stream objects. Superseded objects are only
 * marked in `garbage/`; the collector (garbage.ts) deletes them after the retention window.
 *
 * Every change is one metadata txn guarded by the exact values of the object records it
 * replaces, so concurrent compactors, uploaders and trims never lose a range: a lost race
 * abandons the round (its outputs become garbage) and the next round starts over.
 */
import type { Compare, MetadataStore, TxnOp } from '../metadata/types.ts';
import { objectKey } from '../object-format/keys.ts';
import { parseFooter, parseIndex, type ReadBatch, readBlock } from '../object-format/reader.ts';
import { ObjectWriter } from '../object-format/writer.ts';
import { type ObjectStore, ObjectStoreError } from '../object-store/types.ts';
import {
  decodeObjectRecord,
  decodeStreamRecord,
  encodeObjectRecord,
  encodePendingRecord,
  garbageKey,
  OBJECTS_PREFIX,
  type ObjectRecord,
  type ObjectStreamRecord,
  objectRecordKey,
  parseObjectRecordKey,
  preparedKey,
  type StreamRecord,
  streamKey,
} from './codec.ts';
import { StreamStoreError } from './errors.ts';
import { GarbageCollector, type GarbageStats, rangeAll } from './garbage.ts';
import type { CommittedRanges, ObjectReader } from './object-reads.ts';
import { retryForever } from './state.ts';
import { abandonPrepared, prepareObject } from './uploader.ts';

/** Tuning of compaction. */
export interface CompactionOptions {
  /** Objects smaller than this are merged (stream objects only below `streamObjectBytes`). Default 64 MiB. */
  smallObjectBytes?: number;
  /** A stream with at least this many live bytes among the inputs gets its own object. Default 16 MiB. */
  streamObjectBytes?: number;
  /** Most bytes of input objects read in one round (they are held in memory). Default 256 MiB. */
  inputBytesMax?: number;
  /** Most input objects in one round. Default 24. */
  inputObjectsMax?: number;
  /** Objects with less than this fraction of live data are rewritten whatever their size. Default 0.5. */
  liveFractionMin?: number;
}

/** What one compaction round did. */
export interface CompactionStats {
  /** Objects whose data was all trimmed (or of deleted streams): marked without rewriting. */
  droppedObjects: number;
  /** Objects read and rewritten. */
  inputObjects: number;
  /** Objects written. */
  outputObjects: number;
  bytesRead: number;
  bytesWritten: number;
  /** Rounds given up because another writer changed an input first. */
  conflicts: number;
}

/** What maintenance needs from its store. */
export interface MaintenanceDeps {
  metadata: MetadataStore;
  objectStore: ObjectStore;
  ranges: CommittedRanges;
  reader: ObjectReader;
  objectKeyPrefix: string;
  blockBytesTarget: number;
  now(): number;
  garbageRetentionMs: number;
  preparedTimeoutMs: number;
  /** How often collectGarbage also sweeps orphaned objects (lists the whole prefix). */
  orphanSweepIntervalMs: number;
  stopped(): Error | undefined;
}

/** Most metadata ops per txn (the store limit is 128; keep room). */
const TXN_OPS_MAX = 120;

interface ObjectInfo {
  objectId: number;
  key: string;
  size: number;
  /** The part records as read (compared in the txn that replaces them). */
  parts: { key: string; value: Buffer }[];
  streams: ObjectStreamRecord[];
  /** Bytes of ranges above their stream's start offset. */
  liveBytes: number;
  /** Bytes of all committed ranges (the object without index, footer and uncommitted parts). */
  dataBytes: number;
  distinctStreams: number;
}

/** Runs compaction rounds and garbage collection for one store. */
export class Maintenance {
  private readonly gc: GarbageCollector;

  constructor(private readonly d: MaintenanceDeps) {
    this.gc = new GarbageCollector(d);
  }

  /** One compaction round, then a garbage collection. */
  async compact(options: CompactionOptions = {}): Promise<CompactionStats> {
    const o = {
      smallObjectBytes: options.smallObjectBytes ?? 64 * 1024 * 1024,
      streamObjectBytes: options.streamObjectBytes ?? 16 * 1024 * 1024,
      inputBytesMax: options.inputBytesMax ?? 256 * 1024 * 1024,
      inputObjectsMax: options.inputObjectsMax ?? 24,
      liveFractionMin: options.liveFractionMin ?? 0.5,
    };
    const stats: CompactionStats = {
      droppedObjects: 0,
      inputObjects: 0,
      outputObjects: 0,
      bytesRead: 0,
      bytesWritten: 0,
      conflicts: 0,
    };
    const objects = await this.listObjects();
    const streams = await this.loadStreams(objects);
    for (const obj of objects) {
      obj.liveBytes = 0;
      obj.dataBytes = 0;
      for (const r of obj.streams) {
        obj.dataBytes += r.size;
        const s = streams.get(r.streamId);
        if (s !== undefined && r.endOffset > s.startOffset) obj.liveBytes += r.size;
      }
    }
    // Phase 1: objects with nothing live are only marked.
    const dead = objects.filter((obj) => obj.liveBytes === 0);
    await this.dropObjects(dead, stats);
    // Phase 2: merge / split / rewrite.
    const candidates = objects.filter((obj) => {
      if (obj.liveBytes === 0) return false;
      // Live data against committed data (index and footer overhead would never shrink).
      if (obj.liveBytes < obj.dataBytes * o.liveFractionMin) return true;
      if (obj.size >= o.smallObjectBytes) return false;
      return obj.distinctStreams > 1 || obj.size < o.streamObjectBytes;
    });
    const inputs: ObjectInfo[] = [];
    let bytes = 0;
    let parts = 0;
    for (const obj of candidates) {
      if (inputs.length >= o.inputObjectsMax) break;
      if (inputs.length > 0 && bytes + obj.size > o.inputBytesMax) break;
      // Ops: compare + delete per part, a garbage mark per input, 2 per output (≥ 1 output).
      if (parts + obj.parts.length + inputs.length + 1 + 2 > TXN_OPS_MAX / 2) break;
      inputs.push(obj);
      bytes += obj.size;
      parts += obj.parts.length;
    }
    const worth =
      inputs.length > 1 ||
      (inputs.length === 1 && inputs[0]!.liveBytes < inputs[0]!.dataBytes * o.liveFractionMin);
    if (worth) await this.rewrite(inputs, streams, o.streamObjectBytes, stats);
    await this.collectGarbage();
    return stats;
  }

  /** See {@link GarbageCollector.sweepOrphans}. */
  sweepOrphans(): Promise<{ deletedObjects: number }> {
    return this.gc.sweepOrphans();
  }

  /** See {@link GarbageCollector.collectGarbage}. */
  collectGarbage(): Promise<GarbageStats> {
    return this.gc.collectGarbage();
  }

  private retry<T>(fn: () => Promise<T>): Promise<T> {
    return retryForever(fn, () => this.d.stopped());
  }

  private rangeAll(prefix: string): Promise<{ key: string; value: Buffer }[]> {
    return rangeAll(this.d, prefix);
  }

  private async listObjects(): Promise<ObjectInfo[]> {
    const byId = new Map<number, ObjectInfo>();
    for (const kv of await this.rangeAll(OBJECTS_PREFIX)) {
      const { objectId } = parseObjectRecordKey(kv.key);
      const rec: ObjectRecord = decodeObjectRecord(kv.value);
      let info = byId.get(objectId);
      if (!info) {
        info = {
          objectId,
          key: rec.key,
          size: rec.size,
          parts: [],
          streams: [],
          liveBytes: 0,
          dataBytes: 0,
          distinctStreams: 0,
        };
        byId.set(objectId, info);
      }
      info.parts.push(kv);
      info.streams.push(...rec.streams);
    }
    for (const info of byId.values())
      info.distinctStreams = new Set(info.streams.map((s) => s.streamId)).size;
    return [...byId.values()].sort((a, b) => a.objectId - b.objectId);
  }

  private async loadStreams(objects: ObjectInfo[]): Promise<Map<number, StreamRecord>> {
    const out = new Map<number, StreamRecord>();
    const ids = new Set<number>();
    for (const obj of objects) for (const r of obj.streams) ids.add(r.streamId);
    for (const id of ids) {
      const kv = await this.retry(() => this.d.metadata.get(streamKey(id)));
      if (kv !== undefined) out.set(id, decodeStreamRecord(kv.value));
    }
    return out;
  }

  /** Marks dead objects as garbage, in txns that fit the op limit. */
  private async dropObjects(dead: ObjectInfo[], stats: CompactionStats): Promise<void> {
    let i = 0;
    while (i < dead.length) {
      const batch: ObjectInfo[] = [];
      let ops = 0;
      while (i < dead.length && (batch.length === 0 || ops + dead[i]!.parts.length + 1 <= TXN_OPS_MAX / 2)) {
        ops += dead[i]!.parts.length + 1;
        batch.push(dead[i]!);
        i++;
      }
      const compare: Compare[] = [];
      const success: TxnOp[] = [];
      const now = this.d.now();
      for (const obj of batch) {
        for (const p of obj.parts) {
          compare.push({ key: p.key, target: 'value', op: '==', value: p.value });
          success.push({ type: 'delete', key: p.key });
        }
        success.push({
          type: 'put',
          key: garbageKey(obj.objectId),
          value: encodePendingRecord({ key: obj.key, at: now + this.d.garbageRetentionMs }),
        });
      }
      const res = await this.retry(() => this.d.metadata.txn({ compare, success }));
      if (!res.succeeded) {
        stats.conflicts++;
        continue;
      }
      for (const obj of batch) this.d.ranges.removeObject(obj.objectId);
      stats.droppedObjects += batch.length;
    }
  }

  /** Reads the inputs' live batches and writes them as stream objects and one stream-set object. */
  private async rewrite(
    inputs: ObjectInfo[],
    streams: Map<number, StreamRecord>,
    streamObjectBytes: number,
    stats: CompactionStats,
  ): Promise<void> {
    interface Piece {
      batch: ReadBatch;
      maxTimestamp: number;
    }
    const perStream = new Map<number, Piece[]>();
    for (const obj of inputs) {
      let buf: Buffer;
      try {
        buf = await this.retry(() => this.d.objectStore.get(obj.key));
      } catch (err) {
        // Another compactor replaced and collected it since we listed: start over next round.
        if (err instanceof ObjectStoreError && err.kind === 'not-found') {
          stats.conflicts++;
          return;
        }
        throw err;
      }
      stats.bytesRead += buf.length;
      const footer = parseFooter(buf, obj.size);
      if (!footer.complete) throw new StreamStoreError(`object ${obj.key}: index not in the object`);
      const index = parseIndex(footer.index, footer.footer);
      for (const r of obj.streams) {
        const s = streams.get(r.streamId);
        if (s === undefined || r.endOffset <= s.startOffset) continue;
        const from = Math.max(r.startOffset, s.startOffset);
        let list = perStream.get(r.streamId);
        if (!list) {
          list = [];
          perStream.set(r.streamId, list);
        }
        for (const e of index.findBlocks(r.streamId, from, Number.MAX_SAFE_INTEGER)) {
          if (e.startOffset >= r.endOffset) break;
          for (const b of readBlock(buf, e, 0).batches) {
            if (b.baseOffset + b.count <= from || b.baseOffset >= r.endOffset) continue;
            list.push({ batch: b, maxTimestamp: r.maxTimestamp });
          }
        }
      }
    }
    // Split: streams with much data get their own objects (as many as the txn has room for).
    const inputParts = inputs.reduce((n, o) => n + o.parts.length, 0);
    let outputsLeft = Math.floor((TXN_OPS_MAX - 2 * inputParts - inputs.length) / 2);
    const groups: number[][] = [];
    const rest: number[] = [];
    for (const id of [...perStream.keys()].sort((a, b) => a - b)) {
      const list = perStream.get(id)!;
      list.sort((a, b) => a.batch.baseOffset - b.batch.baseOffset);
      const size = list.reduce((n, p) => n + p.batch.data.length, 0);
      if (size >= streamObjectBytes && outputsLeft > 1) {
        groups.push([id]);
        outputsLeft--;
      } else if (list.length > 0) rest.push(id);
    }
    if (rest.length > 0) groups.push(rest);
    // On an error the outputs stay prepared: the collector deletes them after the timeout.
    const outputs: { objectId: number; key: string; record: ObjectRecord }[] = [];
    {
      for (const group of groups) {
        const writer = new ObjectWriter({ blockBytesTarget: this.d.blockBytesTarget });
        for (const id of group)
          for (const p of perStream.get(id)!) writer.add(id, p.batch.baseOffset, p.batch.count, p.batch.data);
        const result = writer.finish();
        const { objectId, key } = await prepareObject(
          this.d.metadata,
          (oid) => objectKey(this.d.objectKeyPrefix, oid),
          this.d.now(),
          () => this.d.stopped(),
        );
        outputs.push({
          objectId,
          key,
          record: {
            key,
            size: result.size,
            createdAt: this.d.now(),
            streams: result.streams.map((s) => ({
              streamId: s.streamId,
              startOffset: s.startOffset,
              endOffset: s.endOffset,
              position: s.position,
              size: s.size,
              maxTimestamp: maxTimestampOf(perStream.get(s.streamId)!, s.startOffset, s.endOffset),
            })),
          },
        });
        await this.retry(() => this.d.objectStore.put(key, result.buffers));
        stats.bytesWritten += result.size;
      }
      const compare: Compare[] = [];
      const success: TxnOp[] = [];
      const now = this.d.now();
      for (const obj of inputs) {
        for (const p of obj.parts) {
          compare.push({ key: p.key, target: 'value', op: '==', value: p.value });
          success.push({ type: 'delete', key: p.key });
        }
        success.push({
          type: 'put',
          key: garbageKey(obj.objectId),
          value: encodePendingRecord({ key: obj.key, at: now + this.d.garbageRetentionMs }),
        });
      }
      const values = outputs.map((out) => encodeObjectRecord(out.record));
      outputs.forEach((out, i) => {
        compare.push({ key: preparedKey(out.objectId), target: 'exists', op: '==', value: true });
        success.push({ type: 'delete', key: preparedKey(out.objectId) });
        success.push({ type: 'put', key: objectRecordKey(out.objectId), value: values[i]! });
      });
      const res = await this.retry(() => this.d.metadata.txn({ compare, success }));
      if (!res.succeeded) {
        // A retried txn whose first attempt applied (answer lost) fails its compares: our
        // output records are then there.
        const first = outputs[0];
        const kv = first && (await this.retry(() => this.d.metadata.get(objectRecordKey(first.objectId))));
        if (!kv?.value.equals(values[0]!)) {
          stats.conflicts++;
          for (const out of outputs) {
            const prepared = await this.retry(() => this.d.metadata.get(preparedKey(out.objectId)));
            if (prepared !== undefined) {
              await abandonPrepared(this.d.metadata, out.objectId, out.key, () => this.d.stopped());
            } else {
              // The collector expired it while our PUT was retried: the late object is ours to delete.
              await this.retry(() => this.d.objectStore.delete(out.key));
            }
          }
          return;
        }
      }
    }
    for (const obj of inputs) this.d.ranges.removeObject(obj.objectId);
    for (const out of outputs) {
      for (const s of out.record.streams) {
        this.d.ranges.add(s.streamId, {
          objectId: out.objectId,
          key: out.key,
          objectSize: out.record.size,
          startOffset: s.startOffset,
          endOffset: s.endOffset,
          size: s.size,
          maxTimestamp: s.maxTimestamp,
        });
      }
    }
    stats.inputObjects += inputs.length;
    stats.outputObjects += outputs.length;
  }
}

function maxTimestampOf(
  pieces: readonly { batch: ReadBatch; maxTimestamp: number }[],
  start: number,
  end: number,
): number {
  let ts = 0;
  for (const p of pieces) {
    if (p.batch.baseOffset >= start && p.batch.baseOffset < end && p.maxTimestamp > ts) ts = p.maxTimestamp;
  }
  return ts;
}
