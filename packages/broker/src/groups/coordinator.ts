/**
 * The classic group coordinator (JoinGroup/SyncGroup/Heartbeat/LeaveGroup, offsets). The unit
 * of ownership is a partition of the group log (`__consumer_offsets`): a {@link Shard} holds
 * the groups whose ids map to it, is loaded by replaying that partition on first use, and
 * writes through it; on a single broker every shard is local, in a cluster a shard moves with
 * its partition (load on gaining it, {@link GroupCoordinator.unloadPartition} on losing it).
 * Offsets and group metadata are acknowledged only once the log append is durable.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '@tributary/protocol';
import { KafkaError } from '../errors.ts';
import {
  CONSUMER_PROTOCOL_DEFAULTS,
  ConsumerProtocol,
  type ConsumerProtocolOptions,
  ConsumerReplay,
  type TopicView,
} from './consumer-protocol.ts';
import { Group, type GroupState, type JoinResult, Member, type Protocol, type SyncResult } from './group.ts';
import type { GroupLog, GroupLogRecord } from './log.ts';
import {
  decodeGroupValue,
  decodeKey,
  decodeOffsetValue,
  encodeGroupKey,
  encodeGroupValue,
  encodeOffsetKey,
  encodeOffsetValue,
  type GroupValue,
  type OffsetValue,
} from './records.ts';

export interface GroupCoordinatorOptions {
  /** group.initial.rebalance.delay.ms: how long a new group waits for more members. */
  initialRebalanceDelayMs: number;
  /** group.min.session.timeout.ms / group.max.session.timeout.ms. */
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  /** group.max.size: members (and pending members) per group. */
  maxGroupSize: number;
  /** Groups per broker (memory bound); a join that would create one more gets COORDINATOR_NOT_AVAILABLE. */
  maxGroups: number;
  /** offset.metadata.max.bytes. */
  offsetMetadataMaxBytes: number;
  /** How long a new member may wait in its first JoinGroup before it is dropped (Kafka: 5 minutes). */
  newMemberJoinTimeoutMs: number;
  /**
   * Log compaction of a group log partition starts once this many bytes were appended since the
   * last one, and at least as many as that compaction kept (so the log stays under about twice
   * its live size plus this).
   */
  logCompactMinBytes: number;
  /** Bytes of one member's protocol metadata (all protocols) and of one assignment. */
  memberMetadataMaxBytes: number;
  /** offsets.retention.minutes, in ms: offsets of a group that stays empty this long expire. */
  offsetsRetentionMs: number;
  /** offsets.retention.check.interval.ms (0: no periodic check). */
  offsetsRetentionCheckIntervalMs: number;
  /** False while the log does not exist yet (listings then need not create and load it). */
  logExists: () => boolean;
  /** The KIP-848 protocol's settings (group.consumer.*). */
  consumer: ConsumerProtocolOptions;
  /** The topics (for KIP-848 subscriptions and server-side assignment). */
  topics: TopicView;
  logger: { warn(o: object, msg?: string): void; info(o: object, msg?: string): void };
}

export const GROUP_DEFAULTS = {
  initialRebalanceDelayMs: 3000,
  minSessionTimeoutMs: 6000,
  maxSessionTimeoutMs: 1_800_000,
  maxGroupSize: 1000,
  maxGroups: 100_000,
  offsetMetadataMaxBytes: 4096,
  newMemberJoinTimeoutMs: 300_000,
  logCompactMinBytes: 16 << 20,
  memberMetadataMaxBytes: 1 << 20,
  offsetsRetentionMs: 7 * 24 * 60 * 60 * 1000,
  offsetsRetentionCheckIntervalMs: 600_000,
} as const;

export interface JoinParams {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: Protocol[];
  /** JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED and its id. */
  requireKnownMemberId: boolean;
  /** JoinGroup v9+: a rejoining static leader of a stable group gets the members with skipAssignment. */
  supportsSkipAssignment?: boolean;
}

export interface SyncParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface MemberRef {
  memberId: string;
  groupInstanceId: string | null;
}

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

const EMPTY = Buffer.alloc(0);

function joinError(errorCode: number, memberId = ''): JoinResult {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leader: '',
    skipAssignment: false,
    memberId,
    members: [],
  };
}

function syncError(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

/** The error a client sees when the log append of a group operation fails. */
export function storeErrorCode(err: unknown, forCommit: boolean): number {
  const code = err instanceof KafkaError ? err.code : -1;
  if (
    forCommit &&
    (code === ErrorCode.MESSAGE_TOO_LARGE ||
      code === ErrorCode.RECORD_LIST_TOO_LARGE ||
      code === ErrorCode.INVALID_FETCH_SIZE)
  )
    return ErrorCode.INVALID_COMMIT_OFFSET_SIZE;
  if (code === ErrorCode.NOT_LEADER_OR_FOLLOWER) return ErrorCode.NOT_COORDINATOR;
  if (code === ErrorCode.MESSAGE_TOO_LARGE || code === ErrorCode.RECORD_LIST_TOO_LARGE)
    return ErrorCode.UNKNOWN_SERVER_ERROR;
  return ErrorCode.COORDINATOR_NOT_AVAILABLE;
}

/** The groups of one log partition. */
class Shard {
  readonly groups = new Map<string, Group>();
  /** Appends are applied in the order they were issued. */
  tail: Promise<unknown> = Promise.resolve();
  loaded: Promise<void> | undefined;
  unloaded = false;
  /** Appends issued to the log and not yet settled. */
  readonly issued = new Set<Promise<unknown>>();
  /** Set while a compaction waits for a moment with nothing in flight: appends queue behind it. */
  pause: Promise<void> | undefined;
  /** During a compaction: keys appended since its start offset (latin1 of the key bytes). */
  dirty: Set<string> | undefined;
  /** Bytes appended (or replayed) since the last compaction, and what that compaction kept. */
  appendedBytes = 0;
  keptBytes = 0;
  compacting: Promise<void> | undefined;
  constructor(readonly partition: number) {}
}

export class GroupCoordinator {
  readonly options: GroupCoordinatorOptions;
  private readonly shards = new Map<number, Shard>();
  /** The KIP-848 consumer group protocol (ConsumerGroupHeartbeat, ConsumerGroupDescribe). */
  readonly consumer: ConsumerProtocol;
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
    this.consumer = new ConsumerProtocol(
      {
        shardFor: (groupId) => this.shardFor(groupId),
        write: (s, records) => this.write(s as Shard, records),
        groupCount: () => this.groupCount(),
        storeErrorCode: (err) => storeErrorCode(err, false),
        logger: this.options.logger,
      },
      this.options.topics,
      this.options.consumer,
    );
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
      shard = new Shard(partition);
      this.shards.set(partition, shard);
    }
    const s = shard;
    if (!s.loaded) {
      s.loaded = this.replay(s);
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

  private async replay(s: Shard): Promise<void> {
    const values = new Map<string, { value: GroupValue; timestamp: number } | null>();
    const offsets = new Map<string, Map<string, Map<number, OffsetValue>>>();
    const consumers = new ConsumerReplay();
    let records = 0;
    for await (const r of this.log.replay(s.partition)) {
      records++;
      s.appendedBytes += r.key.length + (r.value?.length ?? 0);
      let key: ReturnType<typeof decodeKey>;
      try {
        key = decodeKey(r.key);
      } catch {
        continue;
      }
      if (key === undefined) continue;
      try {
        if (consumers.apply(key, r.value)) continue;
      } catch (err) {
        this.options.logger.warn(
          { partition: s.partition, err: String(err) },
          'skipped an unreadable group record',
        );
        continue;
      }
      if (key.type === 'group') {
        values.set(
          key.group,
          r.value === null ? null : { value: decodeGroupValue(r.value), timestamp: r.timestamp },
        );
        continue;
      }
      if (key.type !== 'offset') continue;
      let byTopic = offsets.get(key.group);
      if (!byTopic) {
        byTopic = new Map();
        offsets.set(key.group, byTopic);
      }
      let byPartition = byTopic.get(key.topic);
      if (!byPartition) {
        byPartition = new Map();
        byTopic.set(key.topic, byPartition);
      }
      if (r.value === null) byPartition.delete(key.partition);
      else byPartition.set(key.partition, decodeOffsetValue(r.value));
    }
    const now = Date.now();
    const consumerGroups = consumers.finish();
    const ids = new Set([...values.keys(), ...offsets.keys(), ...consumerGroups.keys()]);
    for (const id of ids) {
      const cg = consumerGroups.get(id);
      const v = cg ? null : (values.get(id) ?? null);
      const byTopic = offsets.get(id);
      for (const [t, m] of byTopic ?? []) if (m.size === 0) byTopic!.delete(t);
      if (v === null && cg === undefined && (byTopic === undefined || byTopic.size === 0)) continue;
      const g = new Group(id, now);
      if (byTopic) for (const [t, m] of byTopic) g.offsets.set(t, m);
      if (cg) {
        g.consumer = cg;
        g.protocolType = 'consumer';
        g.transition(cg.members.size > 0 ? 'Stable' : 'Empty', now);
      }
      if (v !== null) {
        const gv = v.value;
        g.protocolType = gv.protocolType === '' && gv.members.length === 0 ? null : gv.protocolType;
        g.generation = gv.generation;
        g.protocolName = gv.protocol;
        g.leader = gv.leader;
        for (const mv of gv.members) {
          const m = new Member(
            mv.memberId,
            mv.groupInstanceId,
            mv.clientId,
            mv.clientHost,
            mv.rebalanceTimeoutMs,
            mv.sessionTimeoutMs,
            gv.protocol === null ? [] : [{ name: gv.protocol, metadata: mv.subscription }],
          );
          m.assignment = mv.assignment;
          g.members.set(m.memberId, m);
          if (m.groupInstanceId !== null) g.staticMembers.set(m.groupInstanceId, m.memberId);
        }
        const stateTs = gv.currentStateTimestamp > 0 ? gv.currentStateTimestamp : v.timestamp;
        g.transition(g.members.size > 0 ? 'Stable' : 'Empty', stateTs);
        if (g.leader !== null && !g.members.has(g.leader)) g.leader = g.members.keys().next().value ?? null;
      }
      s.groups.set(id, g);
      for (const m of g.members.values()) this.touch(s, g, m);
      for (const m of cg?.members.values() ?? []) this.consumer.startSession(s, g, m);
    }
    if (records > 0)
      this.options.logger.info(
        { partition: s.partition, records, groups: s.groups.size },
        'group log partition loaded',
      );
    // A long log is compacted soon after loading (the next load replays less).
    setImmediate(() => this.maybeCompact(s));
  }

  /** Appends to the shard's partition; resolves (in issue order) once durable. */
  private write(s: Shard, records: GroupLogRecord[]): Promise<void> {
    if (s.unloaded) return Promise.reject(new KafkaError(ErrorCode.NOT_COORDINATOR, 'partition moved'));
    let bytes = 0;
    for (const r of records) bytes += r.key.length + (r.value?.length ?? 0);
    const issue = (): Promise<number> => {
      if (s.unloaded) return Promise.reject(new KafkaError(ErrorCode.NOT_COORDINATOR, 'partition moved'));
      for (const r of records) s.dirty?.add(r.key.toString('latin1'));
      const p = this.log.append(s.partition, records);
      const settled = p.then(
        () => {},
        () => {},
      );
      s.issued.add(settled);
      void settled.then(() => s.issued.delete(settled));
      return p;
    };
    // Behind a compaction's pause, appends queue in order (then-callbacks run in registration order).
    const appended = s.pause ? s.pause.then(issue) : issue();
    const done = s.tail.then(
      () => appended,
      () => appended,
    );
    s.tail = done.catch(() => {});
    return done.then(() => {
      if (s.unloaded) throw new KafkaError(ErrorCode.NOT_COORDINATOR, 'partition moved');
      s.appendedBytes += bytes;
      this.maybeCompact(s);
    });
  }

  // ---- log compaction --------------------------------------------------------------------

  private maybeCompact(s: Shard): void {
    if (s.compacting || s.unloaded || this.closed || !this.log.trim || !this.log.endOffset) return;
    if (s.appendedBytes < Math.max(this.options.logCompactMinBytes, s.keptBytes)) return;
    this.runCompaction(s).catch((err: unknown) =>
      this.options.logger.warn({ partition: s.partition, err: String(err) }, 'group log compaction failed'),
    );
  }

  /** Compacts one partition now (tests, operators); undefined when the log does not support it. */
  async compactPartition(partition: number): Promise<{ before: number; kept: number } | undefined> {
    return this.runCompaction(await this.loadPartition(partition));
  }

  /** One compaction at a time per shard. */
  private async runCompaction(s: Shard): Promise<{ before: number; kept: number } | undefined> {
    while (s.compacting) await s.compacting;
    const run = this.compact(s);
    s.compacting = run.then(
      () => {},
      () => {},
    );
    try {
      return await run;
    } finally {
      s.compacting = undefined;
    }
  }

  /**
   * Compacts a partition of the group log as Kafka's cleaner would (the latest record of each
   * key, no tombstones), without rewriting it in place: the latest values below an offset X are
   * appended again at the end, then everything below X is removed. X is the end offset at a
   * moment with no append in flight; keys appended from then on are left out of the copy
   * (their newer record is at X or later). The copy is durable before the trim, so a crash in
   * between only leaves duplicates that replay to the same state.
   */
  private async compact(s: Shard): Promise<{ before: number; kept: number } | undefined> {
    const log = this.log;
    if (!log.endOffset || !log.trim) return undefined;
    // 1. A moment with nothing in flight (new appends wait a few ms behind a pause): everything
    //    issued so far is durable and below X; what is issued from now on lands at X or later.
    let x: number | undefined;
    let release!: () => void;
    const pause = new Promise<void>((r) => {
      release = r;
    });
    s.pause = pause;
    try {
      while (s.issued.size > 0) await Promise.all([...s.issued]);
      x = s.unloaded ? undefined : log.endOffset(s.partition);
      if (x === undefined) return undefined;
      s.dirty = new Set();
    } finally {
      void pause.then(() => {
        if (s.pause === pause) s.pause = undefined;
      });
      release();
    }
    const written = s.appendedBytes;
    try {
      // 2. The latest value of every key below X.
      const latest = new Map<string, GroupLogRecord>();
      for await (const r of log.replay(s.partition, x)) {
        const k = r.key.toString('latin1');
        latest.delete(k); // keep the order of last writes
        latest.set(k, { key: r.key, value: r.value });
      }
      // 3. Live values whose key was not written since X, appended again (in chunks of ≤ 1 MiB).
      const chunks: GroupLogRecord[][] = [[]];
      let chunkBytes = 0;
      let kept = 0;
      let count = 0;
      for (const [k, r] of latest) {
        if (r.value === null || s.dirty.has(k)) continue;
        const size = r.key.length + r.value.length;
        if (chunkBytes + size > 1 << 20 && chunks[chunks.length - 1]!.length > 0) {
          chunks.push([]);
          chunkBytes = 0;
        }
        chunks[chunks.length - 1]!.push(r);
        chunkBytes += size;
        kept += size;
        count++;
      }
      s.dirty = undefined;
      await Promise.all(chunks.filter((c) => c.length > 0).map((c) => this.write(s, c)));
      // 4. Everything below X is now redundant.
      await log.trim(s.partition, x);
      s.keptBytes = kept;
      s.appendedBytes -= written;
      this.options.logger.info(
        { partition: s.partition, before: x, records: count, bytes: kept },
        'group log compacted',
      );
      return { before: x, kept: count };
    } finally {
      s.dirty = undefined;
    }
  }

  /** Drops a group that never got further than MEMBER_ID_REQUIRED (nothing of it was stored). */
  private maybeForget(s: Shard, g: Group): void {
    if (
      g.state === 'Empty' &&
      g.generation === 0 &&
      g.members.size === 0 &&
      g.pending.size === 0 &&
      g.offsetCount() === 0 &&
      s.groups.get(g.groupId) === g
    )
      s.groups.delete(g.groupId);
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
      this.answerJoin(m, joinError(errorCode, m.memberId));
      this.answerSync(m, syncError(errorCode));
    }
  }

  // ---- membership ------------------------------------------------------------------------

  async join(p: JoinParams): Promise<JoinResult> {
    const o = this.options;
    if (p.groupId === '') return joinError(ErrorCode.INVALID_GROUP_ID, p.memberId);
    if (p.sessionTimeoutMs < o.minSessionTimeoutMs || p.sessionTimeoutMs > o.maxSessionTimeoutMs)
      return joinError(ErrorCode.INVALID_SESSION_TIMEOUT, p.memberId);
    let metaBytes = 0;
    for (const pr of p.protocols) metaBytes += pr.metadata.length + pr.name.length;
    if (metaBytes > o.memberMetadataMaxBytes) return joinError(ErrorCode.INVALID_REQUEST, p.memberId);
    const s = await this.shardFor(p.groupId);
    let g = s.groups.get(p.groupId);
    if (!g) {
      if (p.memberId !== '') return joinError(ErrorCode.UNKNOWN_MEMBER_ID, p.memberId);
      if (p.protocolType === '' || p.protocols.length === 0)
        return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, p.memberId);
      if (this.groupCount() >= o.maxGroups) return joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      g = new Group(p.groupId, Date.now());
      s.groups.set(p.groupId, g);
    }
    if (g.state === 'Dead') return joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, p.memberId);
    if (g.consumer) {
      // A KIP-848 group takes classic members only once it is empty (it becomes classic again).
      if (g.consumer.members.size > 0) return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, p.memberId);
      this.write(s, this.consumer.groupTombstones(g)).catch(() => {});
      g.consumer = undefined;
      g.protocolType = null;
    }
    if (!g.supportsProtocols(p.protocolType, p.protocols))
      return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, p.memberId);
    return p.memberId === '' ? this.joinUnknown(s, g, p) : this.joinKnown(s, g, p);
  }

  private joinUnknown(s: Shard, g: Group, p: JoinParams): Promise<JoinResult> | JoinResult {
    const o = this.options;
    if (p.groupInstanceId !== null) {
      const newId = `${p.groupInstanceId}-${randomUUID()}`;
      const old = g.staticMembers.get(p.groupInstanceId);
      if (old !== undefined && g.members.has(old)) return this.replaceStaticMember(s, g, old, newId, p);
      if (g.members.size + g.pending.size >= o.maxGroupSize)
        return joinError(ErrorCode.GROUP_MAX_SIZE_REACHED);
      return this.addMemberAndRebalance(s, g, newId, p);
    }
    if (g.members.size + g.pending.size >= o.maxGroupSize) return joinError(ErrorCode.GROUP_MAX_SIZE_REACHED);
    const newId = `${p.clientId}-${randomUUID()}`;
    if (p.requireKnownMemberId) {
      const t = setTimeout(() => {
        if (!g.pending.delete(newId)) return;
        this.tryCompleteJoin(s, g);
        this.maybeForget(s, g);
      }, p.sessionTimeoutMs);
      t.unref();
      g.pending.set(newId, t);
      return joinError(ErrorCode.MEMBER_ID_REQUIRED, newId);
    }
    return this.addMemberAndRebalance(s, g, newId, p);
  }

  private joinKnown(s: Shard, g: Group, p: JoinParams): Promise<JoinResult> | JoinResult {
    const pendingTimer = g.pending.get(p.memberId);
    if (pendingTimer !== undefined) {
      clearTimeout(pendingTimer);
      g.pending.delete(p.memberId);
      return this.addMemberAndRebalance(s, g, p.memberId, p);
    }
    if (p.groupInstanceId !== null) {
      const cur = g.staticMembers.get(p.groupInstanceId);
      if (cur !== undefined && cur !== p.memberId) return joinError(ErrorCode.FENCED_INSTANCE_ID, p.memberId);
    }
    const m = g.members.get(p.memberId);
    if (!m) return joinError(ErrorCode.UNKNOWN_MEMBER_ID, p.memberId);
    if (m.groupInstanceId !== null && m.groupInstanceId !== p.groupInstanceId)
      return joinError(ErrorCode.FENCED_INSTANCE_ID, p.memberId);
    switch (g.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(s, g, m, p);
      case 'CompletingRebalance':
        if (m.sameProtocols(p.protocols)) return this.joinResult(g, m);
        return this.updateMemberAndRebalance(s, g, m, p);
      case 'Stable':
        if (m.memberId === g.leader || !m.sameProtocols(p.protocols))
          return this.updateMemberAndRebalance(s, g, m, p);
        this.touch(s, g, m);
        return this.joinResult(g, m);
      default:
        return joinError(ErrorCode.UNKNOWN_MEMBER_ID, p.memberId);
    }
  }

  private addMemberAndRebalance(s: Shard, g: Group, memberId: string, p: JoinParams): Promise<JoinResult> {
    const m = new Member(
      memberId,
      p.groupInstanceId,
      p.clientId,
      p.clientHost,
      p.rebalanceTimeoutMs,
      p.sessionTimeoutMs,
      p.protocols,
    );
    if (g.members.size === 0) g.protocolType = p.protocolType;
    g.members.set(memberId, m);
    if (p.groupInstanceId !== null) g.staticMembers.set(p.groupInstanceId, memberId);
    if (g.leader === null || !g.members.has(g.leader)) g.leader = memberId;
    if (g.initialJoin) g.initialJoin.newMemberAdded = true;
    const result = new Promise<JoinResult>((resolve) => {
      m.joinWaiter = resolve;
    });
    // A new member waiting in its first join is dropped after newMemberJoinTimeoutMs (a client
    // that went away mid-rebalance must not hold the group until a long rebalance timeout).
    // Completing the join replaces this timer with the session timer (touch).
    m.heartbeatTimer = setTimeout(() => {
      if (s.unloaded || g.members.get(memberId) !== m || m.joinWaiter === undefined) return;
      this.options.logger.info(
        { group: g.groupId, member: memberId },
        'new group member did not complete its join in time',
      );
      this.removeMemberAndUpdate(s, g, m);
    }, this.options.newMemberJoinTimeoutMs);
    m.heartbeatTimer.unref();
    this.maybePrepareRebalance(s, g);
    this.tryCompleteJoin(s, g);
    return result;
  }

  private updateMemberAndRebalance(s: Shard, g: Group, m: Member, p: JoinParams): Promise<JoinResult> {
    m.protocols = p.protocols;
    m.sessionTimeoutMs = p.sessionTimeoutMs;
    m.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    m.clientId = p.clientId;
    m.clientHost = p.clientHost;
    this.answerJoin(m, joinError(ErrorCode.REBALANCE_IN_PROGRESS, m.memberId));
    const result = new Promise<JoinResult>((resolve) => {
      m.joinWaiter = resolve;
    });
    this.maybePrepareRebalance(s, g);
    this.tryCompleteJoin(s, g);
    return result;
  }

  /** A known static instance joins with a new member id: the old id is fenced. */
  private async replaceStaticMember(
    s: Shard,
    g: Group,
    oldId: string,
    newId: string,
    p: JoinParams,
  ): Promise<JoinResult> {
    const old = g.members.get(oldId)!;
    clearTimeout(old.heartbeatTimer);
    this.answerJoin(old, joinError(ErrorCode.FENCED_INSTANCE_ID, oldId));
    this.answerSync(old, syncError(ErrorCode.FENCED_INSTANCE_ID));
    const m = new Member(
      newId,
      p.groupInstanceId,
      p.clientId,
      p.clientHost,
      p.rebalanceTimeoutMs,
      p.sessionTimeoutMs,
      p.protocols,
    );
    m.assignment = old.assignment;
    // Same position in the member order (the leader's view stays stable).
    const entries = [...g.members.entries()].map(([id, x]): [string, Member] =>
      id === oldId ? [newId, m] : [id, x],
    );
    g.members.clear();
    for (const [id, x] of entries) g.members.set(id, x);
    g.staticMembers.set(p.groupInstanceId!, newId);
    const leaderBefore = g.leader;
    if (g.leader === oldId) g.leader = newId;
    if (g.pendingSync.delete(oldId)) g.pendingSync.add(newId);
    switch (g.state) {
      case 'Stable': {
        const selectedStays = g.protocolName !== null && g.selectProtocol() === g.protocolName;
        if (!selectedStays) {
          const result = new Promise<JoinResult>((resolve) => {
            m.joinWaiter = resolve;
          });
          this.prepareRebalance(s, g);
          return result;
        }
        this.touch(s, g, m);
        const gen = g.generation;
        try {
          await this.write(s, [this.groupRecord(g)]);
        } catch (err) {
          return joinError(storeErrorCode(err, false), newId);
        }
        if (g.generation !== gen || g.members.get(newId) !== m)
          return joinError(ErrorCode.REBALANCE_IN_PROGRESS, newId);
        // KIP-814 (v9+): a returning static leader learns it leads, with the members' metadata,
        // and skips the assignment. Before v9 the old leader id is returned so that the member
        // does not assign as a leader of a stable group.
        if (p.supportsSkipAssignment === true) {
          const r = this.joinResult(g, m);
          return { ...r, skipAssignment: g.leader === newId };
        }
        return { ...this.joinResult(g, m), leader: leaderBefore ?? '', members: [] };
      }
      case 'CompletingRebalance': {
        const result = new Promise<JoinResult>((resolve) => {
          m.joinWaiter = resolve;
        });
        this.prepareRebalance(s, g);
        return result;
      }
      default: {
        const result = new Promise<JoinResult>((resolve) => {
          m.joinWaiter = resolve;
        });
        this.tryCompleteJoin(s, g);
        return result;
      }
    }
  }

  private joinResult(g: Group, m: Member): JoinResult {
    const isLeader = g.leader === m.memberId;
    return {
      errorCode: ErrorCode.NONE,
      generationId: g.generation,
      protocolType: g.protocolType,
      protocolName: g.protocolName,
      leader: g.leader ?? '',
      skipAssignment: false,
      memberId: m.memberId,
      members: isLeader
        ? [...g.members.values()].map((x) => ({
            memberId: x.memberId,
            groupInstanceId: x.groupInstanceId,
            metadata: x.metadataFor(g.protocolName),
          }))
        : [],
    };
  }

  private answerJoin(m: Member, r: JoinResult): void {
    const w = m.joinWaiter;
    m.joinWaiter = undefined;
    w?.(r);
  }

  private answerSync(m: Member, r: SyncResult): void {
    const w = m.syncWaiter;
    m.syncWaiter = undefined;
    w?.(r);
  }

  private maxRebalanceTimeout(g: Group): number {
    let t = 0;
    for (const m of g.members.values()) t = Math.max(t, m.rebalanceTimeoutMs);
    return t;
  }

  private maybePrepareRebalance(s: Shard, g: Group): void {
    if (g.state === 'Stable' || g.state === 'CompletingRebalance' || g.state === 'Empty')
      this.prepareRebalance(s, g);
  }

  private prepareRebalance(s: Shard, g: Group): void {
    if (g.state === 'CompletingRebalance') {
      for (const m of g.members.values()) {
        m.assignment = EMPTY;
        this.answerSync(m, syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      }
    }
    clearTimeout(g.syncTimer);
    g.syncTimer = undefined;
    g.pendingSync.clear();
    clearTimeout(g.joinTimer);
    const initial = g.state === 'Empty';
    g.transition('PreparingRebalance', Date.now());
    const delay = this.options.initialRebalanceDelayMs;
    const rebalanceMs = this.maxRebalanceTimeout(g);
    if (initial && delay > 0) {
      g.initialJoin = { newMemberAdded: false, remainingMs: Math.max(rebalanceMs - delay, 0) };
      g.joinTimer = setTimeout(() => this.onInitialDelay(s, g, delay), delay);
    } else {
      g.initialJoin = undefined;
      g.joinTimer = setTimeout(() => this.completeJoin(s, g), rebalanceMs);
    }
    g.joinTimer.unref();
    // Nobody left to wait for (the last member left or expired): complete at once.
    this.tryCompleteJoin(s, g);
  }

  private onInitialDelay(s: Shard, g: Group, delay: number): void {
    const ij = g.initialJoin;
    if (!ij || g.state !== 'PreparingRebalance') return;
    if (ij.newMemberAdded && ij.remainingMs > 0) {
      const d = Math.min(delay, ij.remainingMs);
      ij.remainingMs -= d;
      ij.newMemberAdded = false;
      g.joinTimer = setTimeout(() => this.onInitialDelay(s, g, delay), d);
      g.joinTimer.unref();
      return;
    }
    this.completeJoin(s, g);
  }

  private tryCompleteJoin(s: Shard, g: Group): void {
    if (g.state === 'PreparingRebalance' && g.initialJoin === undefined && g.allMembersJoined())
      this.completeJoin(s, g);
  }

  private completeJoin(s: Shard, g: Group): void {
    if (g.state !== 'PreparingRebalance') return;
    clearTimeout(g.joinTimer);
    g.joinTimer = undefined;
    g.initialJoin = undefined;
    for (const m of [...g.members.values()])
      if (m.joinWaiter === undefined && m.groupInstanceId === null) this.removeMember(g, m);
    const now = Date.now();
    g.generation++;
    if (g.members.size === 0) {
      g.protocolName = null;
      g.leader = null;
      g.transition('Empty', now);
      this.write(s, [this.groupRecord(g)]).catch((err: unknown) =>
        this.options.logger.warn({ group: g.groupId, err: String(err) }, 'storing the empty group failed'),
      );
      return;
    }
    if (g.leader === null || g.members.get(g.leader)?.joinWaiter === undefined) {
      const joined = [...g.members.values()].find((m) => m.joinWaiter !== undefined);
      g.leader = (joined ?? g.members.values().next().value!).memberId;
    }
    g.protocolName = g.selectProtocol();
    g.transition('CompletingRebalance', now);
    for (const m of g.members.values()) {
      if (m.joinWaiter === undefined) continue;
      this.answerJoin(m, this.joinResult(g, m));
      g.pendingSync.add(m.memberId);
      this.touch(s, g, m);
    }
    const gen = g.generation;
    g.syncTimer = setTimeout(() => this.onSyncTimeout(s, g, gen), this.maxRebalanceTimeout(g));
    g.syncTimer.unref();
  }

  private onSyncTimeout(s: Shard, g: Group, gen: number): void {
    g.syncTimer = undefined;
    if (g.generation !== gen || g.pendingSync.size === 0) return;
    if (g.state !== 'CompletingRebalance' && g.state !== 'Stable') return;
    for (const id of [...g.pendingSync]) {
      const m = g.members.get(id);
      if (m) this.removeMember(g, m);
    }
    g.pendingSync.clear();
    this.prepareRebalance(s, g);
  }

  private removeMember(g: Group, m: Member): void {
    clearTimeout(m.heartbeatTimer);
    this.answerJoin(m, joinError(ErrorCode.UNKNOWN_MEMBER_ID, m.memberId));
    this.answerSync(m, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    g.members.delete(m.memberId);
    if (m.groupInstanceId !== null && g.staticMembers.get(m.groupInstanceId) === m.memberId)
      g.staticMembers.delete(m.groupInstanceId);
    g.pendingSync.delete(m.memberId);
    if (g.leader === m.memberId) g.leader = g.members.keys().next().value ?? null;
  }

  private removeMemberAndUpdate(s: Shard, g: Group, m: Member): void {
    this.removeMember(g, m);
    if (g.state === 'Stable' || g.state === 'CompletingRebalance') this.prepareRebalance(s, g);
    else if (g.state === 'PreparingRebalance') this.tryCompleteJoin(s, g);
  }

  /** Heartbeat received (or implied): the member's session restarts. */
  private touch(s: Shard, g: Group, m: Member): void {
    clearTimeout(m.heartbeatTimer);
    m.heartbeatTimer = setTimeout(() => {
      if (g.members.get(m.memberId) !== m || s.unloaded) return;
      if (m.joinWaiter !== undefined || m.syncWaiter !== undefined) {
        this.touch(s, g, m);
        return;
      }
      this.options.logger.info({ group: g.groupId, member: m.memberId }, 'group member session expired');
      this.removeMemberAndUpdate(s, g, m);
    }, m.sessionTimeoutMs);
    m.heartbeatTimer.unref();
  }

  /** The group metadata record of the current generation (assignments as given or current). */
  private groupRecord(g: Group, assignments?: Map<string, Buffer>): GroupLogRecord {
    const value: GroupValue = {
      protocolType: g.protocolType ?? '',
      generation: g.generation,
      protocol: g.protocolName,
      leader: g.members.size > 0 ? g.leader : null,
      currentStateTimestamp: g.stateTimestamp,
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        subscription: m.metadataFor(g.protocolName),
        assignment: assignments ? (assignments.get(m.memberId) ?? EMPTY) : m.assignment,
      })),
    };
    return { key: encodeGroupKey(g.groupId), value: encodeGroupValue(value) };
  }

  async sync(p: SyncParams): Promise<SyncResult> {
    const s = await this.shardFor(p.groupId);
    const g = s.groups.get(p.groupId);
    if (!g) return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
    const fenced = this.fencedError(g, p.memberId, p.groupInstanceId);
    if (fenced !== ErrorCode.NONE) return syncError(fenced);
    const m = g.members.get(p.memberId);
    if (!m) return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
    if (p.generationId !== g.generation) return syncError(ErrorCode.ILLEGAL_GENERATION);
    if (
      (p.protocolType !== null && p.protocolType !== g.protocolType) ||
      (p.protocolName !== null && p.protocolName !== g.protocolName)
    )
      return syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const ok = (assignment: Buffer): SyncResult => ({
      errorCode: ErrorCode.NONE,
      protocolType: g.protocolType,
      protocolName: g.protocolName,
      assignment,
    });
    switch (g.state) {
      case 'PreparingRebalance':
        return syncError(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'Stable':
        g.pendingSync.delete(m.memberId);
        this.touch(s, g, m);
        return ok(m.assignment);
      case 'CompletingRebalance': {
        g.pendingSync.delete(m.memberId);
        this.touch(s, g, m);
        this.answerSync(m, syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        const result = new Promise<SyncResult>((resolve) => {
          m.syncWaiter = resolve;
        });
        if (m.memberId === g.leader) {
          const assignments = new Map<string, Buffer>();
          for (const a of p.assignments) {
            if (!g.members.has(a.memberId)) continue;
            if (a.assignment.length > this.options.memberMetadataMaxBytes) {
              this.answerSync(m, syncError(ErrorCode.INVALID_REQUEST));
              return result;
            }
            assignments.set(a.memberId, a.assignment);
          }
          const gen = g.generation;
          this.write(s, [this.groupRecord(g, assignments)]).then(
            () => {
              if (g.generation !== gen || g.state !== 'CompletingRebalance') return;
              for (const x of g.members.values()) x.assignment = assignments.get(x.memberId) ?? EMPTY;
              g.transition('Stable', Date.now());
              for (const x of g.members.values()) this.answerSync(x, ok(x.assignment));
            },
            (err: unknown) => {
              if (g.generation !== gen || g.state !== 'CompletingRebalance') return;
              const code = storeErrorCode(err, false);
              for (const x of g.members.values()) this.answerSync(x, syncError(code));
              this.prepareRebalance(s, g);
            },
          );
        }
        return result;
      }
      default:
        return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  /** FENCED_INSTANCE_ID when a static instance id belongs to another member id. */
  private fencedError(g: Group, memberId: string, groupInstanceId: string | null): number {
    if (groupInstanceId === null) return ErrorCode.NONE;
    const cur = g.staticMembers.get(groupInstanceId);
    if (cur === undefined) return ErrorCode.NONE;
    return cur === memberId ? ErrorCode.NONE : ErrorCode.FENCED_INSTANCE_ID;
  }

  async heartbeat(
    groupId: string,
    generationId: number,
    memberId: string,
    groupInstanceId: string | null,
  ): Promise<number> {
    const s = await this.shardFor(groupId);
    const g = s.groups.get(groupId);
    if (!g) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (g.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const fenced = this.fencedError(g, memberId, groupInstanceId);
    if (fenced !== ErrorCode.NONE) return fenced;
    const m = g.members.get(memberId);
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== g.generation) return ErrorCode.ILLEGAL_GENERATION;
    this.touch(s, g, m);
    return g.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  /** Removes members; per member error codes in order. */
  async leave(groupId: string, members: MemberRef[]): Promise<number[]> {
    const s = await this.shardFor(groupId);
    const g = s.groups.get(groupId);
    if (!g) return members.map(() => ErrorCode.UNKNOWN_MEMBER_ID);
    return members.map((ref) => {
      let id = ref.memberId;
      if (ref.groupInstanceId !== null) {
        const cur = g.staticMembers.get(ref.groupInstanceId);
        if (cur === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
        if (id !== '' && id !== cur) return ErrorCode.FENCED_INSTANCE_ID;
        id = cur;
      }
      const t = g.pending.get(id);
      if (t !== undefined) {
        clearTimeout(t);
        g.pending.delete(id);
        this.tryCompleteJoin(s, g);
        this.maybeForget(s, g);
        return ErrorCode.NONE;
      }
      const m = g.members.get(id);
      if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
      this.removeMemberAndUpdate(s, g, m);
      return ErrorCode.NONE;
    });
  }

  // ---- offsets ---------------------------------------------------------------------------

  /** Validates the committer, writes the offsets durably; one error code for all partitions. */
  async commit(p: CommitParams): Promise<number> {
    const s = await this.shardFor(p.groupId);
    let g = s.groups.get(p.groupId);
    if (!g) {
      if (p.generationId >= 0) return p.unknownGroupError ?? ErrorCode.ILLEGAL_GENERATION;
      if (this.groupCount() >= this.options.maxGroups) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
      g = new Group(p.groupId, Date.now());
      s.groups.set(p.groupId, g);
    } else if (g.state === 'Dead') {
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    } else if (g.consumer) {
      const code = this.consumer.commitError(g, p.memberId, p.generationId, p.apiVersion ?? 9);
      if (code !== ErrorCode.NONE) return code;
    } else if (!(p.generationId < 0 && g.state === 'Empty')) {
      const fenced = this.fencedError(g, p.memberId, p.groupInstanceId);
      if (fenced !== ErrorCode.NONE) return fenced;
      const m = g.members.get(p.memberId);
      if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (p.generationId !== g.generation) return ErrorCode.ILLEGAL_GENERATION;
      if (g.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
      this.touch(s, g, m);
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
      await this.write(s, records);
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
  async fetchOffsets(
    groupId: string,
    topics: { name: string; partitions: number[] }[] | null,
    member?: { memberId: string | null; memberEpoch: number },
  ): Promise<{ name: string; partitions: FetchedOffset[] }[]> {
    const s = await this.shardFor(groupId);
    const g = s.groups.get(groupId);
    if (member) {
      const code = this.consumer.fetchError(g, member.memberId, member.memberEpoch);
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
  async deleteOffsets(
    groupId: string,
    topics: { name: string; partitions: number[] }[],
  ): Promise<{
    errorCode: number;
    topics: { name: string; partitions: { partition: number; errorCode: number }[] }[];
  }> {
    const s = await this.shardFor(groupId);
    const g = s.groups.get(groupId);
    if (!g || g.state === 'Dead') return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] };
    const empty = g.state === 'Empty';
    if (!empty && g.protocolType !== 'consumer') return { errorCode: ErrorCode.NON_EMPTY_GROUP, topics: [] };
    const subscribed = empty
      ? new Set<string>()
      : g.consumer
        ? this.consumer.subscribedTopics(g)
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
        await this.write(s, records);
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
      await this.write(s, records);
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

  /** A topic was deleted: its committed offsets are removed from every group (as Kafka does). */
  async deleteTopicOffsets(topic: string): Promise<number> {
    if (this.options.logExists()) await this.list(); // every partition loaded
    let removed = 0;
    for (const s of [...this.shards.values()]) {
      for (const g of [...s.groups.values()]) {
        const byPartition = g.offsets.get(topic);
        if (!byPartition || byPartition.size === 0) continue;
        const records = [...byPartition.keys()].map((p) => ({
          key: encodeOffsetKey(g.groupId, topic, p),
          value: null,
        }));
        try {
          await this.write(s, records);
        } catch (err) {
          this.options.logger.warn(
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
  async expireOffsets(now: number): Promise<number> {
    let expired = 0;
    if (this.options.logExists()) await this.list(); // every partition loaded
    for (const s of [...this.shards.values()]) {
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
              ? this.consumer.subscribedTopics(g)
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
                now - base >= this.options.offsetsRetentionMs);
            if (dead) {
              records.push({ key: encodeOffsetKey(g.groupId, topic, p), value: null });
              gone.push([topic, p]);
            }
          }
        }
        if (records.length > 0) {
          try {
            await this.write(s, records);
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
          await this.removeGroup(s, g);
      }
    }
    return expired;
  }
}
