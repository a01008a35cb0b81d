/**
 * The KIP-848 consumer group protocol: ConsumerGroupHeartbeat (join, heartbeat, leave, static
 * members, reconciliation towards the target), member session and revocation timers, fencing,
 * ConsumerGroupDescribe, and the member-epoch checks of OffsetCommit/OffsetFetch v9. The
 * group and member of a heartbeat are found in consumer-members.ts, subscriptions and the
 * server-side assignment are in consumer-topics.ts, and the group's records in
 * `__consumer_offsets` (Kafka's record types 3, 5, 6, 7 and 8) in consumer-records.ts. A
 * consumer group is a {@link Group} with `consumer` set: offsets, retention and deletion stay
 * with the classic coordinator; the membership is here. Every response waits for its records
 * to be durable; a failed write leaves memory ahead of the log, which the protocol already
 * treats as a lost response (a member one epoch behind with a subset of its partitions is
 * accepted).
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '@tributary/protocol';
import { ClassicInConsumerGroup } from './consumer-classic.ts';
import { type ConsumerGroupDescription, describeConsumerGroup } from './consumer-describe.ts';
import {
  assignmentEquals,
  type ConsumerGroup,
  type ConsumerMember,
  copyAssignment,
  LEAVE_STATIC_EPOCH,
  MemberState,
  type OwnedPartitions,
  reconcile,
  toTopicPartitions,
} from './consumer-group.ts';
import { ConsumerMembers, removeMember } from './consumer-members.ts';
import { currentRecord, epochRecord, memberValue, sameList, sameValue } from './consumer-records.ts';
import { ConsumerTopics, fail, ProtocolError } from './consumer-topics.ts';
import type { Group } from './group.ts';
import type { GroupLogRecord } from './log.ts';
import {
  encodeConsumerGroupKey,
  encodeConsumerMemberKey,
  encodeConsumerMemberValue,
  encodeConsumerTargetMetadataKey,
} from './records.ts';

/** What the protocol needs of the topics (the broker's TopicStore). */
export interface TopicView {
  byName(name: string): { id: string; partitions: number } | undefined;
  nameOfId(id: string): string | undefined;
  /** Every topic name (regex subscriptions are matched against these; internal ones excluded). */
  names(): Iterable<string>;
}

export interface ConsumerProtocolOptions {
  /** group.consumer.session.timeout.ms. */
  sessionTimeoutMs: number;
  /** group.consumer.heartbeat.interval.ms. */
  heartbeatIntervalMs: number;
  /** group.consumer.max.size. */
  maxGroupSize: number;
  /** Groups per broker. */
  maxGroups: number;
  /** group.consumer.assignors: the first is the default. */
  assignors: readonly string[];
  /** How often a group compares its subscribed topics' partition counts with the topics. */
  metadataRefreshMs: number;
}

export const CONSUMER_PROTOCOL_DEFAULTS: ConsumerProtocolOptions = {
  sessionTimeoutMs: 45_000,
  heartbeatIntervalMs: 5_000,
  maxGroupSize: 1000,
  maxGroups: 100_000,
  assignors: ['uniform', 'range'],
  metadataRefreshMs: 1000,
};

/** The shard a group lives in, as the coordinator gives it. */
export interface ShardLike {
  readonly groups: Map<string, Group>;
  readonly unloaded: boolean;
}

/** What the coordinator lends the protocol. */
export interface ConsumerHost {
  shardFor(groupId: string): Promise<ShardLike>;
  write(s: ShardLike, records: GroupLogRecord[]): Promise<void>;
  groupCount(): number;
  storeErrorCode(err: unknown): number;
  logger: { warn(o: object, msg?: string): void; info(o: object, msg?: string): void };
}

export interface HeartbeatParams {
  groupId: string;
  memberId: string;
  memberEpoch: number;
  instanceId: string | null;
  rackId: string | null;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[] | null;
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  topicPartitions: OwnedPartitions[] | null;
  clientId: string;
  clientHost: string;
  /** Request version: from v1 the member generates its own id. */
  version: number;
}

export interface HeartbeatResult {
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: { topicPartitions: { topicId: string; partitions: number[] }[] } | null;
}

export type { ConsumerGroupDescription, DescribedMember } from './consumer-describe.ts';

export class ConsumerProtocol {
  /** Subscriptions and target assignments (consumer-topics.ts). */
  readonly subscriptions: ConsumerTopics;
  /** The group and member of a heartbeat (consumer-members.ts). */
  readonly members: ConsumerMembers;
  /** Classic-protocol members inside consumer groups, and upgrades (consumer-classic.ts). */
  readonly classic: ClassicInConsumerGroup;

  constructor(
    readonly host: ConsumerHost,
    readonly topics: TopicView,
    readonly options: ConsumerProtocolOptions,
  ) {
    this.subscriptions = new ConsumerTopics(topics, options);
    this.members = new ConsumerMembers(host, options, this);
    this.classic = new ClassicInConsumerGroup(this);
  }

  // ---- ConsumerGroupHeartbeat ------------------------------------------------------------

  async heartbeat(p: HeartbeatParams): Promise<HeartbeatResult> {
    try {
      return await this.heartbeatOrThrow(p);
    } catch (err) {
      if (err instanceof ProtocolError) return this.errorResult(err.code, err.message, p);
      throw err;
    }
  }

  private errorResult(errorCode: number, errorMessage: string | null, p: HeartbeatParams): HeartbeatResult {
    return {
      errorCode,
      errorMessage,
      memberId: p.memberId === '' ? null : p.memberId,
      memberEpoch: p.memberEpoch,
      heartbeatIntervalMs: 0,
      assignment: null,
    };
  }

  private validate(p: HeartbeatParams): void {
    const bad = (msg: string): never => fail(ErrorCode.INVALID_REQUEST, msg);
    if (p.groupId === '') fail(ErrorCode.INVALID_GROUP_ID, "GroupId can't be empty.");
    if ((p.version >= 1 || p.memberEpoch !== 0) && p.memberId === '') bad("MemberId can't be empty.");
    if (p.memberId.length > 255) bad('MemberId is longer than 255 characters.');
    if (p.instanceId === '') bad("InstanceId can't be empty.");
    if (p.rackId === '') bad("RackId can't be empty.");
    if (p.memberEpoch === 0) {
      if (p.rebalanceTimeoutMs === -1) bad('RebalanceTimeoutMs must be provided in first request.');
      if (p.topicPartitions === null || p.topicPartitions.some((t) => t.partitions.length > 0))
        bad('TopicPartitions must be empty when (re-)joining.');
      // Empty is allowed (a Java consumer subscribed by pattern joins before any topic matches).
      if (p.subscribedTopicNames === null && p.subscribedTopicRegex === null)
        bad('Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.');
    } else if (p.memberEpoch === LEAVE_STATIC_EPOCH) {
      if (p.instanceId === null) bad("InstanceId can't be null.");
    } else if (p.memberEpoch < LEAVE_STATIC_EPOCH) {
      bad('MemberEpoch is invalid.');
    }
    if (p.rebalanceTimeoutMs < -1) bad('RebalanceTimeoutMs is invalid.');
    if (p.subscribedTopicRegex !== null && p.subscribedTopicRegex !== '')
      this.subscriptions.regex(p.subscribedTopicRegex);
    if (p.serverAssignor !== null && !this.options.assignors.includes(p.serverAssignor))
      fail(ErrorCode.UNSUPPORTED_ASSIGNOR, `ServerAssignor ${p.serverAssignor} is not supported.`);
  }

  private async heartbeatOrThrow(p: HeartbeatParams): Promise<HeartbeatResult> {
    this.validate(p);
    const s = await this.host.shardFor(p.groupId);
    if (p.memberEpoch < 0) return this.leave(s, p);
    const records: GroupLogRecord[] = [];
    const joining = p.memberEpoch === 0;
    const now = Date.now();
    const g = this.members.groupFor(s, p.groupId, joining, records);
    const cg = g.consumer!;
    const memberId = p.memberId === '' ? randomUUID() : p.memberId;
    const { member: m, isNew, replaced } = this.members.memberFor(g, cg, memberId, p, records);

    // 1. The member's subscription and metadata.
    const before = memberValue(m);
    const oldNames = (replaced ?? m).subscribedTopicNames;
    const oldRegex = (replaced ?? m).subscribedTopicRegex;
    if (p.instanceId !== null) m.instanceId = p.instanceId;
    if (p.rackId !== null) m.rackId = p.rackId;
    if (p.rebalanceTimeoutMs !== -1) m.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    if (p.serverAssignor !== null) m.serverAssignor = p.serverAssignor;
    if (p.subscribedTopicNames !== null) m.subscribedTopicNames = [...new Set(p.subscribedTopicNames)];
    if (p.subscribedTopicRegex !== null)
      m.subscribedTopicRegex = p.subscribedTopicRegex === '' ? null : p.subscribedTopicRegex;
    m.clientId = p.clientId;
    m.clientHost = p.clientHost;
    // 2. Stored and admitted; the group epoch and then the target move on when needed.
    this.admit(g, cg, m, {
      isNew,
      store: isNew || !sameValue(before, memberValue(m)),
      subscriptionChanged:
        isNew || !sameList(oldNames, m.subscribedTopicNames) || oldRegex !== m.subscribedTopicRegex,
      now,
      records,
    });

    // 4. The member towards its target.
    const assignedBefore = copyAssignment(m.assigned);
    this.reconcileMember(s, g, cg, m, p.topicPartitions, records);
    this.startSession(s, g, m);

    if (records.length > 0) {
      try {
        await this.host.write(s, records);
      } catch (err) {
        return this.errorResult(this.host.storeErrorCode(err), 'the group log append failed', p);
      }
    }
    const full =
      joining ||
      (p.rebalanceTimeoutMs !== -1 &&
        (p.subscribedTopicNames !== null || p.subscribedTopicRegex !== null) &&
        p.topicPartitions !== null);
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: m.memberId,
      memberEpoch: m.memberEpoch,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      assignment:
        full || !assignmentEquals(assignedBefore, m.assigned)
          ? { topicPartitions: toTopicPartitions(m.assigned) }
          : null,
    };
  }

  /**
   * After a member was updated (heartbeat or classic join): its record when `store`, its
   * registration when new; the group epoch moves on when its subscription or the subscribed
   * topics' metadata changed, and then the target assignment is recomputed.
   */
  admit(
    g: Group,
    cg: ConsumerGroup,
    m: ConsumerMember,
    o: {
      isNew: boolean;
      store: boolean;
      subscriptionChanged: boolean;
      now: number;
      records: GroupLogRecord[];
    },
  ): void {
    if (o.store)
      o.records.push({
        key: encodeConsumerMemberKey(g.groupId, m.memberId),
        value: encodeConsumerMemberValue(memberValue(m)),
      });
    if (o.isNew) {
      cg.members.set(m.memberId, m);
      if (m.instanceId !== null) cg.staticMembers.set(m.instanceId, m.memberId);
      if (g.state === 'Empty') g.transition('Stable', o.now);
    }
    let bump = o.subscriptionChanged;
    if (bump || o.now >= cg.metadataRefreshDeadline) {
      const hash = this.subscriptions.metadataHash(cg);
      if (hash !== cg.metadataHash) bump = true;
      cg.metadataHash = hash;
      cg.metadataRefreshDeadline = o.now + this.options.metadataRefreshMs;
    }
    if (bump) {
      cg.groupEpoch++;
      o.records.push(epochRecord(g.groupId, cg));
    }
    if (cg.groupEpoch > cg.assignmentEpoch) this.subscriptions.computeTarget(g.groupId, cg, o.records);
  }

  /** Moves a member towards its target; records and the revocation timer when it changed. */
  reconcileMember(
    s: ShardLike,
    g: Group,
    cg: ConsumerGroup,
    m: ConsumerMember,
    owned: OwnedPartitions[] | null,
    records: GroupLogRecord[],
  ): void {
    if (m.isReconciledTo(cg.assignmentEpoch)) return;
    const epoch = m.memberEpoch;
    const prevEpoch = m.previousMemberEpoch;
    const state = m.state;
    const assigned = m.assigned;
    const pending = m.pendingRevocation;
    cg.removePartitionEpochs(m);
    reconcile(cg, m, cg.assignmentEpoch, cg.target.get(m.memberId) ?? new Map(), owned);
    cg.addPartitionEpochs(m);
    const changed =
      epoch !== m.memberEpoch ||
      prevEpoch !== m.previousMemberEpoch ||
      state !== m.state ||
      !assignmentEquals(assigned, m.assigned) ||
      !assignmentEquals(pending, m.pendingRevocation);
    if (!changed) return;
    records.push(currentRecord(g.groupId, m));
    this.armRevocationTimer(s, g, cg, m);
  }

  /** A member that must revoke gets its rebalance timeout to do it, or is fenced. */
  private armRevocationTimer(s: ShardLike, g: Group, cg: ConsumerGroup, m: ConsumerMember): void {
    clearTimeout(m.rebalanceTimer);
    m.rebalanceTimer = undefined;
    if (m.state === MemberState.UNREVOKED_PARTITIONS && m.classic === null && m.memberEpoch >= 0) {
      const at = m.memberEpoch;
      m.rebalanceTimer = setTimeout(() => {
        if (s.unloaded || cg.members.get(m.memberId) !== m) return;
        if (m.memberEpoch !== at || m.state !== MemberState.UNREVOKED_PARTITIONS) return;
        this.host.logger.info(
          { group: g.groupId, member: m.memberId },
          'consumer group member did not revoke its partitions in time: fenced',
        );
        this.fenceInBackground(s, g, cg, m);
      }, m.rebalanceTimeoutMs);
      m.rebalanceTimer.unref();
    }
  }

  // ---- leaving and fencing ---------------------------------------------------------------

  private async leave(s: ShardLike, p: HeartbeatParams): Promise<HeartbeatResult> {
    const g = s.groups.get(p.groupId);
    if (!g?.consumer || g.state === 'Dead')
      fail(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group ${p.groupId} not found.`);
    const cg = g.consumer;
    const records: GroupLogRecord[] = [];
    let m: ConsumerMember | undefined;
    if (p.instanceId === null) {
      m = cg.members.get(p.memberId);
      if (!m)
        fail(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${p.memberId} is not a member of group ${g.groupId}.`);
    } else {
      const id = cg.staticMembers.get(p.instanceId);
      m = id === undefined ? undefined : cg.members.get(id);
      if (!m) fail(ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${p.instanceId} is unknown.`);
      if (m.memberId !== p.memberId)
        fail(ErrorCode.FENCED_INSTANCE_ID, `Instance id ${p.instanceId} belongs to member ${m.memberId}.`);
    }
    if (p.memberEpoch === LEAVE_STATIC_EPOCH && p.instanceId !== null) {
      // A static member leaving for a while: it keeps its partitions until its session ends.
      cg.removePartitionEpochs(m);
      m.memberEpoch = LEAVE_STATIC_EPOCH;
      m.pendingRevocation = new Map();
      cg.addPartitionEpochs(m);
      clearTimeout(m.rebalanceTimer);
      records.push(currentRecord(g.groupId, m));
      this.host.logger.info(
        { group: g.groupId, member: m.memberId },
        'static member left the consumer group for now',
      );
    } else {
      this.fence(g, cg, m, records);
      this.host.logger.info({ group: g.groupId, member: m.memberId }, 'member left the consumer group');
    }
    try {
      await this.host.write(s, records);
    } catch (err) {
      return this.errorResult(this.host.storeErrorCode(err), 'the group log append failed', p);
    }
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: p.memberId,
      memberEpoch: p.memberEpoch,
      heartbeatIntervalMs: 0,
      assignment: null,
    };
  }

  /** Removes a member and moves the group epoch on (its partitions go to the others). */
  fence(g: Group, cg: ConsumerGroup, m: ConsumerMember, records: GroupLogRecord[]): void {
    removeMember(g, cg, m, records);
    cg.groupEpoch++;
    records.push(epochRecord(g.groupId, cg));
    if (cg.members.size === 0 && g.state !== 'Empty') g.transition('Empty', Date.now());
  }

  fenceInBackground(s: ShardLike, g: Group, cg: ConsumerGroup, m: ConsumerMember): void {
    const records: GroupLogRecord[] = [];
    this.fence(g, cg, m, records);
    this.host
      .write(s, records)
      .catch((err: unknown) =>
        this.host.logger.warn({ group: g.groupId, err: String(err) }, 'writing a fenced member failed'),
      );
  }

  /** A member loaded from the log: its session starts, and its revocation deadline if it is revoking (as Kafka's onLoaded). */
  resume(s: ShardLike, g: Group, m: ConsumerMember): void {
    this.startSession(s, g, m);
    this.armRevocationTimer(s, g, g.consumer!, m);
  }

  /** Heartbeat received: the member's session restarts. */
  startSession(s: ShardLike, g: Group, m: ConsumerMember): void {
    const cg = g.consumer!;
    clearTimeout(m.sessionTimer);
    m.sessionTimer = setTimeout(() => {
      if (s.unloaded || cg.members.get(m.memberId) !== m || g.consumer !== cg) return;
      this.host.logger.info(
        { group: g.groupId, member: m.memberId },
        'consumer group member session expired',
      );
      this.fenceInBackground(s, g, cg, m);
    }, m.classic?.sessionTimeoutMs ?? this.options.sessionTimeoutMs);
    m.sessionTimer.unref();
  }

  /** Stops the group's timers (coordinator closing or the partition moving). */
  shut(g: Group): void {
    for (const m of g.consumer?.members.values() ?? []) {
      clearTimeout(m.sessionTimer);
      clearTimeout(m.rebalanceTimer);
      clearTimeout(m.joinTimer);
      clearTimeout(m.syncTimer);
    }
  }

  /** Tombstones of an empty consumer group's own records (deletion, or a classic join converting it). */
  groupTombstones(g: Group): GroupLogRecord[] {
    return [
      { key: encodeConsumerTargetMetadataKey(g.groupId), value: null },
      { key: encodeConsumerGroupKey(g.groupId), value: null },
    ];
  }

  /** Topics a consumer group subscribes to (offsets of others may be deleted while it has members). */
  subscribedTopics(g: Group): Set<string> {
    const cg = g.consumer;
    if (!cg) return new Set();
    return this.subscriptions.resolvedNames(cg);
  }

  // ---- offsets ---------------------------------------------------------------------------

  /** OffsetCommit by a consumer group member: its member epoch must be current. */
  commitError(g: Group, memberId: string, memberEpoch: number, apiVersion: number): number {
    const cg = g.consumer!;
    if (memberEpoch < 0 && cg.members.size === 0) return ErrorCode.NONE;
    const m = cg.members.get(memberId);
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    // A classic member commits with its generation, which is its member epoch.
    if (m.classic) return memberEpoch === m.memberEpoch ? ErrorCode.NONE : ErrorCode.ILLEGAL_GENERATION;
    if (apiVersion < 9) return ErrorCode.UNSUPPORTED_VERSION;
    if (memberEpoch > m.memberEpoch) return ErrorCode.FENCED_MEMBER_EPOCH;
    if (memberEpoch < m.memberEpoch) return ErrorCode.STALE_MEMBER_EPOCH;
    return ErrorCode.NONE;
  }

  /**
   * OffsetFetch v9 with a member of a KIP-848 group: the member must exist with the current
   * epoch. A classic group (whose members send their generation here) or a missing one is not
   * checked, as in Kafka.
   */
  fetchError(g: Group | undefined, memberId: string | null, memberEpoch: number): number {
    if (memberId === null && memberEpoch < 0) return ErrorCode.NONE;
    const cg = g?.consumer;
    if (!cg) return ErrorCode.NONE;
    const m = memberId === null ? undefined : cg.members.get(memberId);
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (memberEpoch > m.memberEpoch) return ErrorCode.FENCED_MEMBER_EPOCH;
    if (memberEpoch < m.memberEpoch) return ErrorCode.STALE_MEMBER_EPOCH;
    return ErrorCode.NONE;
  }

  // ---- ConsumerGroupDescribe -------------------------------------------------------------

  describe(groupId: string): Promise<ConsumerGroupDescription> {
    return describeConsumerGroup(this, groupId);
  }
}
