/**
 * The durable log of the group coordinator: the internal topic `__consumer_offsets` on the
 * same stream storage as every topic. A group's records go to partition
 * `abs(javaHashCode(groupId)) % partitions` (Kafka's mapping), as ordinary record batches (so
 * the topic can be read with any client); the coordinator rebuilds its state by replaying a
 * partition. Writes resolve once durable in the WAL.
 */
import {
  buildRecordBatch,
  ErrorCode,
  iterateBatches,
  readBatchHeader,
  readRecords,
} from '@tributary/protocol';
import type { Broker } from '../broker.ts';
import { KafkaError } from '../errors.ts';
import type { Partition } from '../partition.ts';

export const OFFSETS_TOPIC = '__consumer_offsets';

/** One record of the log. A null value is a tombstone. */
export interface GroupLogRecord {
  key: Buffer;
  value: Buffer | null;
}

/** What the coordinator needs from storage. */
export interface GroupLog {
  /** Partitions of the log. */
  readonly partitions: number;
  /** The partition holding `groupId`'s records. */
  partitionFor(groupId: string): number;
  /** Appends records to a partition as one batch; resolves with its base offset once durable. */
  append(partition: number, records: readonly GroupLogRecord[]): Promise<number>;
  /** The records of a partition from its start up to `end` (default: its end), in offset order. */
  replay(
    partition: number,
    end?: number,
  ): AsyncIterable<GroupLogRecord & { offset: number; timestamp: number }>;
  /**
   * Compaction support (optional): the durable end offset of an open partition, known without
   * waiting (undefined when not open), and removing the records below an offset.
   */
  endOffset?(partition: number): number | undefined;
  trim?(partition: number, before: number): Promise<void>;
}

/** Java's String.hashCode (UTF-16 code units, 32-bit wrap). */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** The group log on the broker's `__consumer_offsets` topic (created on first use). */
export class TopicGroupLog implements GroupLog {
  private ready: Promise<void> | undefined;
  private readonly open = new Map<number, Partition>();

  constructor(
    private readonly b: Broker,
    readonly partitions = 50,
  ) {}

  partitionFor(groupId: string): number {
    const h = javaStringHash(groupId);
    // Kafka's Utils.abs: Integer.MIN_VALUE maps to 0.
    return (h === -2147483648 ? 0 : Math.abs(h)) % this.partitions;
  }

  private ensureTopic(): Promise<void> {
    this.ready ??= (async () => {
      if (this.b.topics.get(OFFSETS_TOPIC)) return;
      try {
        await this.b.topics.create(OFFSETS_TOPIC, this.partitions, { 'cleanup.policy': 'compact' });
      } catch (err) {
        if (!(err instanceof KafkaError && err.code === ErrorCode.TOPIC_ALREADY_EXISTS)) throw err;
      }
    })();
    this.ready.catch(() => {
      this.ready = undefined;
    });
    return this.ready;
  }

  private async partition(p: number): Promise<Partition> {
    await this.ensureTopic();
    const part = await this.b.partition(OFFSETS_TOPIC, p);
    if (part === undefined)
      throw new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `${OFFSETS_TOPIC}-${p} is missing`);
    this.open.set(p, part);
    return part;
  }

  async append(p: number, records: readonly GroupLogRecord[]): Promise<number> {
    const part = await this.partition(p);
    const batch = buildRecordBatch(records.map((r) => ({ key: r.key, value: r.value })));
    const rec = this.b.topics.get(OFFSETS_TOPIC)!;
    const res = await part.append(batch, this.b.settings(rec), Date.now());
    return res.baseOffset;
  }

  endOffset(p: number): number | undefined {
    return this.open.get(p)?.highWatermark;
  }

  async trim(p: number, before: number): Promise<void> {
    const part = await this.partition(p);
    await part.deleteRecordsBefore(before);
  }

  async *replay(
    p: number,
    until?: number,
  ): AsyncIterable<GroupLogRecord & { offset: number; timestamp: number }> {
    const part = await this.partition(p);
    let at = part.logStartOffset;
    const end = Math.min(part.highWatermark, until ?? Number.MAX_SAFE_INTEGER);
    while (at < end) {
      const r = await part.read(at, 1 << 20);
      if (r.records === null) break;
      for (const batch of iterateBatches(r.records)) {
        const h = readBatchHeader(batch);
        if (h.isControl) continue;
        for (const rec of readRecords(batch)) {
          const offset = Number(rec.offset);
          if (offset < at) continue;
          if (offset >= end) return;
          if (rec.key === null) continue;
          yield { key: rec.key, value: rec.value, offset, timestamp: rec.timestamp };
        }
        at = Math.max(at, Number(h.baseOffset) + h.lastOffsetDelta + 1);
      }
    }
  }
}
