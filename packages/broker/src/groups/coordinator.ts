/**
 * The group coordinator: the {@link GroupCoordinator} API the handlers use, over the shards it
 * owns. The unit of ownership is a partition of the group log (`__consumer_offsets`): a
 * {@link Shard} (shard.ts) holds the groups whose ids map to it, is loaded by replaying that
 * partition on first use (replay.ts), writes through it and is compacted (compaction.ts); on
 * a single broker every shard is local, in a cluster a shard moves with its partition (load on
 * gaining it, {@link GroupCoordinator.unloadPartition} on losing it). Here: ownership, closing,
 * DescribeGroups/ListGroups/DeleteGroups; the classic protocol is in classic.ts and
 * rebalance.ts, offsets in offsets.ts, KIP-848 in consumer-protocol.ts. Offsets and group
 * metadata are acknowledged only once the log append is durable.
 */
import { ErrorCode } from '@tributary/protocol';
import { KafkaError } from '../errors.ts';
import { ClassicProtocol, type JoinParams, type MemberRef, type SyncParams } from './classic.ts';
import { runCompaction } from './compaction.ts';
import { CONSUMER_PROTOCOL_DEFAULTS, ConsumerProtocol, type TopicView } from './consumer-protocol.ts';
import type { Group, GroupState, JoinResult, SyncResult } from './group.ts';
import type { GroupLog, GroupLogRecord } from './log.ts';
import { type CommitParams, type FetchedOffset, GroupOffsets, type OffsetDeleteResult } from './offsets.ts';
import { GROUP_DEFAULTS, type GroupCoordinatorOptions } from './options.ts';
import { answerJoin, answerSync, EMPTY, joinError, syncError, touch } from './rebalance.ts';
import { encodeGroupKey, encodeOffsetKey } from './records.ts';
import { replayShard } from './replay.ts';
import { Shard, type ShardEnv, storeErrorCode } from './shard.ts';

export type { JoinParams, MemberRef, SyncParams } from './classic.ts';
export type { CommitParams, FetchedOffset } from './offsets.ts';
export { GROUP_DEFAULTS, type GroupCoordinatorOptions } from './options.ts';

const NO_TOPICS: TopicView = { byName: () => undefined, nameOfId: () => undefined, names: () => [] };

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  /** Classic: Empty, PreparingRebalance, CompletingRebalance, Stable; consumer: Empty, Assigning, Reconciling, Stable. */
  state: string;
  type: 'classic' | 'consumer';
}

export interface GroupDescription {
  groupId: string;
  state: GroupState;
  protocolType: string;
  protocolData: string;
  members: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    metadata: Buffer;
    assignment: Buffer;
  }[];
}

export class GroupCoordinator {
  readonly options: GroupCoordinatorOptions;
  private readonly shards = new Map<number, Shard>();
  private readonly shardEnv: ShardEnv;
  /** The KIP-848 consumer group protocol (ConsumerGroupHeartbeat, ConsumerGroupDescribe). */
  readonly consumer: ConsumerProtocol;
  /** The classic protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup). */
  private readonly classic: ClassicProtocol;
  private readonly offsets: GroupOffsets;
  private retentionTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly log: GroupLog,
    options: Partial<GroupCoordinatorOptions> = {},
  ) {
    this.options = {
      ...GROUP_DEFAULTS,
      logExists: () => true,
      topics: NO_TOPICS,
      logger: { warn() {}, info() {} },
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
      consumer: {
        ...CONSUMER_PROTOCOL_DEFAULTS,
        ...Object.fromEntries(Object.entries(options.consumer ?? {}).filter(([, v]) => v !== undefined)),
      },
    };
    this.shardEnv = { log, options: this.options, closed: () => this.closed };
    this.consumer = new ConsumerProtocol(
      {
        shardFor: (groupId) => this.shardFor(groupId),
        write: (s, records) => (s as Shard).write(records),
        groupCount: () => this.groupCount(),
        storeErrorCode: (err) => storeErrorCode(err, false),
        logger: this.options.logger,
      },
      this.options.topics,
      this.options.consumer,
    );
    const host = {
      options: this.options,
      consumer: this.consumer,
      shardFor: (groupId: string) => this.shardFor(groupId),
      shards: () => this.shards.values(),
      groupCount: () => this.groupCount(),
      list: () => this.list(),
      removeGroup: (s: Shard, g: Group) => this.removeGroup(s, g),
    };
    this.classic = new ClassicProtocol(host, this.options);
    this.offsets = new GroupOffsets(host);
    const every = this.options.offsetsRetentionCheckIntervalMs;
    if (every > 0) {
      this.retentionTimer = setInterval(() => {
        this.expireOffsets(Date.now()).catch((err: unknown) =>
          this.options.logger.warn({ err: String(err) }, 'offset expiry failed'),
        );
      }, every);
      this.retentionTimer.unref();
    }
  }

  // ---- ownership -------------------------------------------------------------------------

  /** The shard of a group, loaded. */
  private async shardFor(groupId: string): Promise<Shard> {
    return this.loadPartition(this.log.partitionFor(groupId));
  }

  /** Loads (once) the groups of a log partition by replaying it. */
  async loadPartition(partition: number): Promise<Shard> {
    if (this.closed) throw new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'coordinator closed');
    let shard = this.shards.get(partition);
    if (!shard) {
      shard = new Shard(partition, this.shardEnv);
      this.shards.set(partition, shard);
    }
    const s = shard;
    if (!s.loaded) {
      s.loaded = replayShard(s, (g) => {
        for (const m of g.members.values()) touch(s, g, m);
        for (const m of g.consumer?.members.values() ?? []) this.consumer.resume(s, g, m);
      });
      s.loaded.catch((err: unknown) => {
        this.options.logger.warn({ partition, err: String(err) }, 'group log partition failed to load');
        if (this.shards.get(partition) === s) this.shards.delete(partition);
      });
    }
    try {
      await s.loaded;
    } catch (err) {
      throw new KafkaError(
        ErrorCode.COORDINATOR_NOT_AVAILABLE,
        `group log partition ${partition}: ${String(err)}`,
      );
    }
    return s;
  }

  /** The coordinator is ready for `groupId` (FindCoordinator): its partition is loaded. */
  async ensureLoaded(groupId: string): Promise<void> {
    await this.shardFor(groupId);
  }

  /** Gives up a partition (a cluster moved it elsewhere): pending requests get NOT_COORDINATOR. */
  unloadPartition(partition: number): void {
    const s = this.shards.get(partition);
    if (!s) return;
    this.shards.delete(partition);
    s.unloaded = true;
    for (const g of s.groups.values()) this.shutGroup(g, ErrorCode.NOT_COORDINATOR);
  }

  /** Compacts one partition now (tests, operators); undefined when the log does not support it. */
  async compactPartition(partition: number): Promise<{ before: number; kept: number } | undefined> {
    return runCompaction(await this.loadPartition(partition));
  }

  private groupCount(): number {
    let n = 0;
    for (const s of this.shards.values()) n += s.groups.size;
    return n;
  }

  /** Stops timers; pending joins and syncs get COORDINATOR_NOT_AVAILABLE. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    for (const s of this.shards.values()) {
      s.unloaded = true;
      for (const g of s.groups.values()) this.shutGroup(g, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
    this.shards.clear();
  }

  private shutGroup(g: Group, errorCode: number): void {
    this.consumer.shut(g);
    clearTimeout(g.joinTimer);
    clearTimeout(g.syncTimer);
    for (const t of g.pending.values()) clearTimeout(t);
    for (const m of g.members.values()) {
      clearTimeout(m.heartbeatTimer);
      answerJoin(m, joinError(errorCode, m.memberId));
      answerSync(m, syncError(errorCode));
    }
  }

  // ---- the classic protocol (classic.ts) -------------------------------------------------

  join(p: JoinParams): Promise<JoinResult> {
    return this.classic.join(p);
  }

  sync(p: SyncParams): Promise<SyncResult> {
    return this.classic.sync(p);
  }

  heartbeat(
    groupId: string,
    generationId: number,
    memberId: string,
    groupInstanceId: string | null,
  ): Promise<number> {
    return this.classic.heartbeat(groupId, generationId, memberId, groupInstanceId);
  }

  /** Removes members; per member error codes in order. */
  leave(groupId: string, members: MemberRef[]): Promise<number[]> {
    return this.classic.leave(groupId, members);
  }

  // ---- offsets (offsets.ts) --------------------------------------------------------------

  /** Validates the committer, writes the offsets durably; one error code for all partitions. */
  commit(p: CommitParams): Promise<number> {
    return this.offsets.commit(p);
  }

  /** Committed offsets (-1 where none); `topics` null: every committed offset of the group. */
  fetchOffsets(
    groupId: string,
    topics: { name: string; partitions: number[] }[] | null,
    member?: { memberId: string | null; memberEpoch: number },
  ): Promise<{ name: string; partitions: FetchedOffset[] }[]> {
    return this.offsets.fetch(groupId, topics, member);
  }

  /** OffsetDelete: top-level error and per (topic, partition) errors. */
  deleteOffsets(
    groupId: string,
    topics: { name: string; partitions: number[] }[],
  ): Promise<OffsetDeleteResult> {
    return this.offsets.delete(groupId, topics);
  }

  /** A topic was deleted: its committed offsets are removed from every group (as Kafka does). */
  deleteTopicOffsets(topic: string): Promise<number> {
    return this.offsets.deleteTopic(topic);
  }

  /**
   * Offset retention: offsets of a group that has been empty for offsetsRetentionMs (counted
   * from the commit for offset-only groups), and offsets past an explicit expiry, are removed
   * (tombstones); an empty group with no offsets left is removed.
   */
  expireOffsets(now: number): Promise<number> {
    return this.offsets.expire(now);
  }

  // ---- admin -----------------------------------------------------------------------------

  async describe(groupId: string): Promise<GroupDescription> {
    const s = await this.shardFor(groupId);
    const g = s.groups.get(groupId);
    // A KIP-848 group is described by ConsumerGroupDescribe; here it looks absent (as in Kafka).
    if (!g || g.consumer) return { groupId, state: 'Dead', protocolType: '', protocolData: '', members: [] };
    const stable = g.state === 'Stable';
    return {
      groupId,
      state: g.state,
      protocolType: g.protocolType ?? '',
      protocolData: stable ? (g.protocolName ?? '') : '',
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? m.metadataFor(g.protocolName) : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    };
  }

  /** Loads every partition (when the log exists) and lists the groups. */
  async list(): Promise<ListedGroup[]> {
    if (this.options.logExists()) {
      const all: Promise<unknown>[] = [];
      for (let p = 0; p < this.log.partitions; p++) all.push(this.loadPartition(p));
      await Promise.all(all);
    }
    const out: ListedGroup[] = [];
    for (const s of this.shards.values())
      for (const g of s.groups.values())
        if (g.state !== 'Dead')
          out.push(
            g.consumer
              ? { groupId: g.groupId, protocolType: 'consumer', state: g.consumer.state(), type: 'consumer' }
              : { groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state, type: 'classic' },
          );
    return out;
  }

  /** DeleteGroups of one group: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP or NONE once the tombstones are durable. */
  async deleteGroup(groupId: string): Promise<number> {
    const s = await this.shardFor(groupId);
    const g = s.groups.get(groupId);
    if (!g || g.state === 'Dead') return ErrorCode.GROUP_ID_NOT_FOUND;
    if (g.state !== 'Empty') return ErrorCode.NON_EMPTY_GROUP;
    return this.removeGroup(s, g);
  }

  private async removeGroup(s: Shard, g: Group): Promise<number> {
    const records: GroupLogRecord[] = [];
    const keys = new Set(g.committing.keys());
    for (const [topic, byPartition] of g.offsets)
      for (const p of byPartition.keys()) keys.add(`${topic}\u0000${p}`);
    for (const k of keys) {
      const at = k.lastIndexOf('\u0000');
      records.push({ key: encodeOffsetKey(g.groupId, k.slice(0, at), Number(k.slice(at + 1))), value: null });
    }
    if (g.consumer) records.push(...this.consumer.groupTombstones(g));
    else records.push({ key: encodeGroupKey(g.groupId), value: null });
    g.transition('Dead', Date.now());
    s.groups.delete(g.groupId);
    this.shutGroup(g, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    try {
      await s.write(records);
    } catch (err) {
      // Not durable: the group stays (as it will after a restart).
      if (!s.groups.has(g.groupId)) {
        g.transition('Empty', Date.now());
        s.groups.set(g.groupId, g);
      }
      return storeErrorCode(err, false);
    }
    return ErrorCode.NONE;
  }
}
