/**
 * Committed offsets of the groups: OffsetCommit (the committer checked, the offsets durable
 * before they are visible), OffsetFetch, OffsetDelete, the removal of a deleted topic's
 * offsets, and offset retention. The {@link GroupCoordinator} exposes them.
 */
import { ErrorCode } from '@tributary/protocol';
import { KafkaError } from '../errors.ts';
import type { ConsumerProtocol } from './consumer-protocol.ts';
import { Group } from './group.ts';
import type { GroupLogRecord } from './log.ts';
import type { GroupCoordinatorOptions } from './options.ts';
import { fencedError, touch } from './rebalance.ts';
import { decodeKey, encodeOffsetKey, encodeOffsetValue, type OffsetValue } from './records.ts';
import { type Shard, storeErrorCode } from './shard.ts';

export interface CommitParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** -1: the group's retention. */
  retentionTimeMs: number;
  /** The error for a commit with a generation to a group that does not exist (v9+: GROUP_ID_NOT_FOUND). */
  unknownGroupError?: number;
  /** The request's version (a KIP-848 member must commit with v9+). */
  apiVersion?: number;
  offsets: { topic: string; partition: number; offset: bigint; leaderEpoch: number; metadata: string }[];
}

export interface FetchedOffset {
  topic: string;
  partition: number;
  offset: bigint;
  leaderEpoch: number;
  metadata: string;
}

/** OffsetDelete's answer: top-level error and per (topic, partition) errors. */
export type OffsetDeleteResult = {
  errorCode: number;
  topics: { name: string; partitions: { partition: number; errorCode: number }[] }[];
};

/** What the coordinator lends the offsets. */
export interface OffsetsHost {
  readonly options: GroupCoordinatorOptions;
  readonly consumer: ConsumerProtocol;
  /** The shard of a group, loaded. */
  shardFor(groupId: string): Promise<Shard>;
  /** The shards now held. */
  shards(): Iterable<Shard>;
  groupCount(): number;
  /** Loads every partition and lists the groups ({@link GroupCoordinator.list}). */
  list(): Promise<unknown>;
  /** Deletes an empty group: tombstones of its offsets and records, durable. */
  removeGroup(s: Shard, g: Group): Promise<number>;
}

export class GroupOffsets {
  constructor(private readonly host: OffsetsHost) {}

  /** Validates the committer, writes the offsets durably; one error code for all partitions. */
  async commit(p: CommitParams): Promise<number> {
    const s = await this.host.shardFor(p.groupId);
    let g = s.groups.get(p.groupId);
    if (!g) {
      if (p.generationId >= 0) return p.unknownGroupError ?? ErrorCode.ILLEGAL_GENERATION;
      if (this.host.groupCount() >= this.host.options.maxGroups) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
      g = new Group(p.groupId, Date.now());
      s.groups.set(p.groupId, g);
    } else if (g.state === 'Dead') {
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    } else if (g.consumer) {
      const code = this.host.consumer.commitError(g, p.memberId, p.generationId, p.apiVersion ?? 9);
      if (code !== ErrorCode.NONE) return code;
    } else if (!(p.generationId < 0 && g.state === 'Empty')) {
      const fenced = fencedError(g, p.memberId, p.groupInstanceId);
      if (fenced !== ErrorCode.NONE) return fenced;
      const m = g.members.get(p.memberId);
      if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (p.generationId !== g.generation) return ErrorCode.ILLEGAL_GENERATION;
      if (g.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
      touch(s, g, m);
    }
    if (p.offsets.length === 0) return ErrorCode.NONE;
    const now = Date.now();
    const expire = p.retentionTimeMs >= 0 ? now + p.retentionTimeMs : -1;
    const values = p.offsets.map(
      (o): OffsetValue => ({
        offset: o.offset,
        leaderEpoch: o.leaderEpoch,
        metadata: o.metadata,
        commitTimestamp: now,
        expireTimestamp: expire,
      }),
    );
    const records = p.offsets.map((o, i) => ({
      key: encodeOffsetKey(p.groupId, o.topic, o.partition),
      value: encodeOffsetValue(values[i]!),
    }));
    const keys = p.offsets.map((o) => `${o.topic}\u0000${o.partition}`);
    for (const k of keys) g.committing.set(k, (g.committing.get(k) ?? 0) + 1);
    try {
      await s.write(records);
    } catch (err) {
      return storeErrorCode(err, true);
    } finally {
      for (const k of keys) {
        const n = (g.committing.get(k) ?? 1) - 1;
        if (n <= 0) g.committing.delete(k);
        else g.committing.set(k, n);
      }
    }
    // Deleted meanwhile: its tombstones (written after this commit) covered these keys.
    if (s.groups.get(p.groupId) !== g || g.state === 'Dead') return ErrorCode.NONE;
    p.offsets.forEach((o, i) => {
      let byPartition = g.offsets.get(o.topic);
      if (!byPartition) {
        byPartition = new Map();
        g.offsets.set(o.topic, byPartition);
      }
      byPartition.set(o.partition, values[i]!);
    });
    return ErrorCode.NONE;
  }

  /** Committed offsets (-1 where none); `topics` null: every committed offset of the group. */
  async fetch(
    groupId: string,
    topics: { name: string; partitions: number[] }[] | null,
    member?: { memberId: string | null; memberEpoch: number },
  ): Promise<{ name: string; partitions: FetchedOffset[] }[]> {
    const s = await this.host.shardFor(groupId);
    const g = s.groups.get(groupId);
    if (member) {
      const code = this.host.consumer.fetchError(g, member.memberId, member.memberEpoch);
      if (code !== ErrorCode.NONE) throw new KafkaError(code, 'the member or its epoch is not current');
    }
    const found = (topic: string, partition: number): FetchedOffset => {
      const v = g?.offsets.get(topic)?.get(partition);
      return v
        ? { topic, partition, offset: v.offset, leaderEpoch: v.leaderEpoch, metadata: v.metadata }
        : { topic, partition, offset: -1n, leaderEpoch: -1, metadata: '' };
    };
    if (topics !== null)
      return topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => found(t.name, p)) }));
    const out: { name: string; partitions: FetchedOffset[] }[] = [];
    for (const [name, byPartition] of g?.offsets ?? []) {
      if (byPartition.size === 0) continue;
      out.push({
        name,
        partitions: [...byPartition.keys()].sort((a, b) => a - b).map((p) => found(name, p)),
      });
    }
    return out;
  }

  /** OffsetDelete: top-level error and per (topic, partition) errors. */
  async delete(
    groupId: string,
    topics: { name: string; partitions: number[] }[],
  ): Promise<OffsetDeleteResult> {
    const s = await this.host.shardFor(groupId);
    const g = s.groups.get(groupId);
    if (!g || g.state === 'Dead') return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] };
    const empty = g.state === 'Empty';
    if (!empty && g.protocolType !== 'consumer') return { errorCode: ErrorCode.NON_EMPTY_GROUP, topics: [] };
    const subscribed = empty
      ? new Set<string>()
      : g.consumer
        ? this.host.consumer.subscribedTopics(g)
        : (g.subscribedTopics() ?? new Set<string>());
    const records: GroupLogRecord[] = [];
    const result = topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((partition) => {
        if (subscribed.has(t.name)) return { partition, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC };
        if (g.offsets.get(t.name)?.has(partition))
          records.push({ key: encodeOffsetKey(groupId, t.name, partition), value: null });
        return { partition, errorCode: ErrorCode.NONE };
      }),
    }));
    if (records.length > 0) {
      try {
        await s.write(records);
      } catch (err) {
        return { errorCode: storeErrorCode(err, false), topics: [] };
      }
      for (const r of records) {
        const k = decodeKey(r.key);
        if (k?.type === 'offset') g.offsets.get(k.topic)?.delete(k.partition);
      }
    }
    return { errorCode: ErrorCode.NONE, topics: result };
  }

  /** A topic was deleted: its committed offsets are removed from every group (as Kafka does). */
  async deleteTopic(topic: string): Promise<number> {
    if (this.host.options.logExists()) await this.host.list(); // every partition loaded
    let removed = 0;
    for (const s of [...this.host.shards()]) {
      for (const g of [...s.groups.values()]) {
        const byPartition = g.offsets.get(topic);
        if (!byPartition || byPartition.size === 0) continue;
        const records = [...byPartition.keys()].map((p) => ({
          key: encodeOffsetKey(g.groupId, topic, p),
          value: null,
        }));
        try {
          await s.write(records);
        } catch (err) {
          this.host.options.logger.warn(
            { group: g.groupId, topic, err: String(err) },
            'removing offsets of a deleted topic failed',
          );
          continue;
        }
        g.offsets.delete(topic);
        removed += records.length;
      }
    }
    return removed;
  }

  /**
   * Offset retention: offsets of a group that has been empty for offsetsRetentionMs (counted
   * from the commit for offset-only groups), and offsets past an explicit expiry, are removed
   * (tombstones); an empty group with no offsets left is removed.
   */
  async expire(now: number): Promise<number> {
    let expired = 0;
    if (this.host.options.logExists()) await this.host.list(); // every partition loaded
    for (const s of [...this.host.shards()]) {
      if (s.loaded === undefined) continue;
      await s.loaded.catch(() => {});
      for (const g of [...s.groups.values()]) {
        if (g.state === 'Dead') continue;
        const empty = g.state === 'Empty';
        // A stable consumer group's offsets of topics no member subscribes to expire from their commit (KIP-496).
        const subscribed =
          g.state !== 'Stable'
            ? undefined
            : g.consumer
              ? this.host.consumer.subscribedTopics(g)
              : g.subscribedTopics();
        const records: GroupLogRecord[] = [];
        const gone: [string, number][] = [];
        for (const [topic, byPartition] of g.offsets) {
          const unsubscribed = subscribed !== undefined && !subscribed.has(topic);
          for (const [p, v] of byPartition) {
            const base =
              g.protocolType === null || unsubscribed
                ? v.commitTimestamp
                : Math.max(g.stateTimestamp, v.commitTimestamp);
            const dead =
              (v.expireTimestamp >= 0 && now >= v.expireTimestamp) ||
              (v.expireTimestamp < 0 &&
                (empty || unsubscribed) &&
                now - base >= this.host.options.offsetsRetentionMs);
            if (dead) {
              records.push({ key: encodeOffsetKey(g.groupId, topic, p), value: null });
              gone.push([topic, p]);
            }
          }
        }
        if (records.length > 0) {
          try {
            await s.write(records);
          } catch {
            continue;
          }
          for (const [t, p] of gone) {
            g.offsets.get(t)?.delete(p);
            if (g.offsets.get(t)?.size === 0) g.offsets.delete(t);
          }
          expired += records.length;
        }
        if (g.state === 'Empty' && g.offsetCount() === 0 && g.members.size === 0 && g.pending.size === 0)
          await this.host.removeGroup(s, g);
      }
    }
    return expired;
  }
}
