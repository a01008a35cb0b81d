/**
 * The KIP-848 consumer group protocol: ConsumerGroupHeartbeat (join, heartbeat, leave, static
 * members), server-side assignment, member session and revocation timers, and the group's
 * records in `__consumer_offsets` (Kafka's record types 3, 5, 6, 7 and 8). A consumer group
 * is a {@link Group} with `consumer` set: offsets, retention and deletion stay with the
 * classic coordinator; the membership is here. Every response waits for its records to be
 * durable; a failed write leaves memory ahead of the log, which the protocol already treats
 * as a lost response (a member one epoch behind with a subset of its partitions is accepted).
 */
import { createHash, randomUUID } from 'node:crypto';
import { ErrorCode } from '@tributary/protocol';
import { type GroupAssignment, SERVER_ASSIGNORS } from './assignors.ts';
import {
  type Assignment,
  assignmentEquals,
  ConsumerGroup,
  ConsumerMember,
  copyAssignment,
  fromTopicPartitions,
  isSubset,
  LEAVE_STATIC_EPOCH,
  MemberState,
  type OwnedPartitions,
  reconcile,
  toTopicPartitions,
} from './consumer-group.ts';
import { Group } from './group.ts';
import type { GroupLogRecord } from './log.ts';
import {
  type ConsumerCurrentMemberValue,
  type ConsumerMemberValue,
  decodeConsumerCurrentMemberValue,
  decodeConsumerGroupValue,
  decodeConsumerMemberValue,
  decodeConsumerTargetMemberValue,
  decodeConsumerTargetMetadataValue,
  encodeConsumerCurrentMemberKey,
  encodeConsumerCurrentMemberValue,
  encodeConsumerGroupKey,
  encodeConsumerGroupValue,
  encodeConsumerMemberKey,
  encodeConsumerMemberValue,
  encodeConsumerTargetMemberKey,
  encodeConsumerTargetMemberValue,
  encodeConsumerTargetMetadataKey,
  encodeConsumerTargetMetadataValue,
  encodeGroupKey,
  type RecordKey,
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

export interface DescribedMember {
  memberId: string;
  instanceId: string | null;
  rackId: string | null;
  memberEpoch: number;
  clientId: string;
  clientHost: string;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string | null;
  assignment: { topicId: string; topicName: string; partitions: number[] }[];
  targetAssignment: { topicId: string; topicName: string; partitions: number[] }[];
}

export interface ConsumerGroupDescription {
  errorCode: number;
  errorMessage: string | null;
  groupId: string;
  groupState: string;
  groupEpoch: number;
  assignmentEpoch: number;
  assignorName: string;
  members: DescribedMember[];
}

/** Longest SubscribedTopicRegex accepted. */
const REGEX_MAX = 1024;

class ProtocolError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function fail(code: number, message: string): never {
  throw new ProtocolError(code, message);
}

/** Kafka's subscription regexes are RE2 (full match); JS RegExp without RE2's missing features. */
export function compileTopicRegex(re: string): RegExp {
  if (re.length > REGEX_MAX) fail(ErrorCode.INVALID_REGULAR_EXPRESSION, `regex longer than ${REGEX_MAX}`);
  if (/\\[1-9]|\(\?<?[=!]/.test(re))
    fail(
      ErrorCode.INVALID_REGULAR_EXPRESSION,
      'backreferences and lookarounds are not supported (RE2 syntax)',
    );
  try {
    return new RegExp(`^(?:${re})$`, 'u');
  } catch (err) {
    return fail(ErrorCode.INVALID_REGULAR_EXPRESSION, `invalid regex ${JSON.stringify(re)}: ${String(err)}`);
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.every((x, i) => x === sb[i]);
}

export class ConsumerProtocol {
  private readonly regexCache = new Map<string, RegExp>();

  constructor(
    private readonly host: ConsumerHost,
    private readonly topics: TopicView,
    readonly options: ConsumerProtocolOptions,
  ) {}

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
    if (p.groupId === '') fail(ErrorCode.INVALID_GROUP_ID, 'GroupId can not be empty.');
    if ((p.version >= 1 || p.memberEpoch !== 0) && p.memberId === '') bad('MemberId can not be empty.');
    if (p.memberId.length > 255) bad('MemberId is longer than 255 characters.');
    if (p.instanceId === '') bad('InstanceId can not be empty.');
    if (p.rackId === '') bad('RackId can not be empty.');
    if (p.memberEpoch === 0) {
      if (p.rebalanceTimeoutMs === -1) bad('RebalanceTimeoutMs must be provided in first request.');
      if (p.topicPartitions === null || p.topicPartitions.some((t) => t.partitions.length > 0))
        bad('TopicPartitions must be empty when (re-)joining.');
      const names = p.subscribedTopicNames !== null && p.subscribedTopicNames.length > 0;
      const regex = p.subscribedTopicRegex !== null && p.subscribedTopicRegex !== '';
      if (!names && !regex) bad('SubscribedTopicNames or SubscribedTopicRegex must be set in first request.');
    } else if (p.memberEpoch === LEAVE_STATIC_EPOCH) {
      if (p.instanceId === null) bad('InstanceId can not be null.');
    } else if (p.memberEpoch < LEAVE_STATIC_EPOCH) {
      bad('MemberEpoch is invalid.');
    }
    if (p.rebalanceTimeoutMs < -1) bad('RebalanceTimeoutMs is invalid.');
    if (p.subscribedTopicRegex !== null && p.subscribedTopicRegex !== '') this.regex(p.subscribedTopicRegex);
    if (p.serverAssignor !== null && !this.options.assignors.includes(p.serverAssignor))
      fail(ErrorCode.UNSUPPORTED_ASSIGNOR, `ServerAssignor ${p.serverAssignor} is not supported.`);
  }

  private regex(re: string): RegExp {
    let r = this.regexCache.get(re);
    if (!r) {
      r = compileTopicRegex(re);
      if (this.regexCache.size >= 10_000) this.regexCache.clear();
      this.regexCache.set(re, r);
    }
    return r;
  }

  private async heartbeatOrThrow(p: HeartbeatParams): Promise<HeartbeatResult> {
    this.validate(p);
    const s = await this.host.shardFor(p.groupId);
    if (p.memberEpoch < 0) return this.leave(s, p);
    const records: GroupLogRecord[] = [];
    const joining = p.memberEpoch === 0;
    const now = Date.now();
    const g = this.groupFor(s, p.groupId, joining, records);
    const cg = g.consumer!;
    const memberId = p.memberId === '' ? randomUUID() : p.memberId;
    const { member: m, isNew } = this.memberFor(g, cg, memberId, p, records);

    // 1. The member's subscription and metadata.
    const before = this.memberValue(m);
    const oldNames = m.subscribedTopicNames;
    const oldRegex = m.subscribedTopicRegex;
    if (p.instanceId !== null) m.instanceId = p.instanceId;
    if (p.rackId !== null) m.rackId = p.rackId;
    if (p.rebalanceTimeoutMs !== -1) m.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    if (p.serverAssignor !== null) m.serverAssignor = p.serverAssignor;
    if (p.subscribedTopicNames !== null) m.subscribedTopicNames = [...new Set(p.subscribedTopicNames)];
    if (p.subscribedTopicRegex !== null)
      m.subscribedTopicRegex = p.subscribedTopicRegex === '' ? null : p.subscribedTopicRegex;
    m.clientId = p.clientId;
    m.clientHost = p.clientHost;
    let bump = isNew || !sameList(oldNames, m.subscribedTopicNames) || oldRegex !== m.subscribedTopicRegex;
    if (isNew || !sameValue(before, this.memberValue(m)))
      records.push({
        key: encodeConsumerMemberKey(g.groupId, m.memberId),
        value: encodeConsumerMemberValue(this.memberValue(m)),
      });
    if (isNew) {
      cg.members.set(m.memberId, m);
      if (m.instanceId !== null) cg.staticMembers.set(m.instanceId, m.memberId);
      if (g.state === 'Empty') g.transition('Stable', now);
    }

    // 2. The subscribed topics' metadata; a change bumps the group epoch.
    if (bump || now >= cg.metadataRefreshDeadline) {
      const hash = this.metadataHash(cg);
      if (hash !== cg.metadataHash) bump = true;
      cg.metadataHash = hash;
      cg.metadataRefreshDeadline = now + this.options.metadataRefreshMs;
    }
    if (bump) {
      cg.groupEpoch++;
      records.push(this.epochRecord(g.groupId, cg));
    }

    // 3. A new target assignment when the group epoch moved past it.
    if (cg.groupEpoch > cg.assignmentEpoch) this.computeTarget(g.groupId, cg, records);

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
      (p.rebalanceTimeoutMs !== -1 && p.subscribedTopicNames !== null && p.topicPartitions !== null);
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

  /** The group, created or converted from an empty classic group when a member joins. */
  private groupFor(s: ShardLike, groupId: string, joining: boolean, records: GroupLogRecord[]): Group {
    let g = s.groups.get(groupId);
    if (g && g.state === 'Dead')
      fail(ErrorCode.COORDINATOR_NOT_AVAILABLE, `group ${groupId} is being deleted`);
    if (!g) {
      if (!joining) fail(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group ${groupId} not found.`);
      if (this.host.groupCount() >= this.options.maxGroups)
        fail(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'too many groups on this coordinator');
      g = new Group(groupId, Date.now());
      s.groups.set(groupId, g);
    }
    if (!g.consumer) {
      if (!joining || g.members.size > 0 || g.pending.size > 0 || g.state !== 'Empty')
        fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${groupId} is not a consumer group.`);
      // An empty classic group (or one holding only offsets) becomes a consumer group; offsets stay.
      if (g.generation > 0 || g.protocolType !== null)
        records.push({ key: encodeGroupKey(groupId), value: null });
      g.consumer = new ConsumerGroup();
      g.protocolType = 'consumer';
      g.protocolName = null;
      g.generation = 0;
      g.leader = null;
    }
    return g;
  }

  private memberFor(
    g: Group,
    cg: ConsumerGroup,
    memberId: string,
    p: HeartbeatParams,
    records: GroupLogRecord[],
  ): { member: ConsumerMember; isNew: boolean } {
    const joining = p.memberEpoch === 0;
    const fresh = (): { member: ConsumerMember; isNew: boolean } => {
      if (cg.members.size >= this.options.maxGroupSize)
        fail(
          ErrorCode.GROUP_MAX_SIZE_REACHED,
          `The consumer group has reached its maximum capacity of ${this.options.maxGroupSize} members.`,
        );
      return { member: new ConsumerMember(memberId), isNew: true };
    };
    if (p.instanceId === null) {
      const m = cg.members.get(memberId);
      if (!m) {
        if (!joining)
          fail(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${memberId} is not a member of group ${g.groupId}.`);
        return fresh();
      }
      this.checkEpoch(g, cg, m, p, records);
      return { member: m, isNew: false };
    }
    const existingId = cg.staticMembers.get(p.instanceId);
    const existing = existingId === undefined ? undefined : cg.members.get(existingId);
    if (!joining) {
      if (!existing) fail(ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${p.instanceId} is unknown.`);
      if (existing.memberId !== memberId)
        fail(
          ErrorCode.FENCED_INSTANCE_ID,
          `Instance id ${p.instanceId} belongs to member ${existing.memberId}.`,
        );
      this.checkEpoch(g, cg, existing, p, records);
      return { member: existing, isNew: false };
    }
    if (!existing) {
      const m = cg.members.get(memberId);
      if (m) {
        this.checkEpoch(g, cg, m, p, records);
        return { member: m, isNew: false };
      }
      return fresh();
    }
    if (existing.memberId === memberId) {
      this.checkEpoch(g, cg, existing, p, records);
      return { member: existing, isNew: false };
    }
    if (existing.memberEpoch !== LEAVE_STATIC_EPOCH)
      fail(
        ErrorCode.UNRELEASED_INSTANCE_ID,
        `Static member ${memberId} with instance id ${p.instanceId} cannot join the group because the instance id is owned by member ${existing.memberId}.`,
      );
    // The static member is back under a new member id: it takes over the old one's partitions.
    const m = existing.cloneAs(memberId);
    m.memberEpoch = 0;
    m.previousMemberEpoch = 0;
    const target = cg.target.get(existing.memberId);
    this.removeMember(g, cg, existing, records);
    cg.members.set(m.memberId, m);
    cg.staticMembers.set(p.instanceId, m.memberId);
    if (target) {
      cg.target.set(m.memberId, target);
      records.push(this.targetRecord(g.groupId, m.memberId, target));
    }
    cg.addPartitionEpochs(m);
    records.push({
      key: encodeConsumerMemberKey(g.groupId, m.memberId),
      value: encodeConsumerMemberValue(this.memberValue(m)),
    });
    records.push(this.currentRecord(g.groupId, m));
    this.host.logger.info(
      { group: g.groupId, member: m.memberId, instance: p.instanceId, replaced: existing.memberId },
      'static member rejoined the consumer group',
    );
    return { member: m, isNew: false };
  }

  /**
   * Kafka's epoch check: a newer epoch is fenced; an older one only when it is not the previous
   * epoch with a subset of the partitions (a lost response). A member rejoining with epoch 0
   * that fails the check starts over (its partitions are released) instead of being fenced.
   */
  private checkEpoch(
    g: Group,
    cg: ConsumerGroup,
    m: ConsumerMember,
    p: HeartbeatParams,
    records: GroupLogRecord[],
  ): void {
    const received = p.memberEpoch;
    if (received === m.memberEpoch) return;
    if (
      received < m.memberEpoch &&
      received === m.previousMemberEpoch &&
      isSubset(p.topicPartitions, m.assigned)
    )
      return;
    if (received === 0) {
      cg.removePartitionEpochs(m);
      m.assigned = new Map();
      m.pendingRevocation = new Map();
      m.state = MemberState.STABLE;
      m.memberEpoch = 0;
      m.previousMemberEpoch = 0;
      clearTimeout(m.rebalanceTimer);
      records.push(this.currentRecord(g.groupId, m));
      // Rejoining counts as a subscription change: the group epoch moves on.
      cg.groupEpoch++;
      records.push(this.epochRecord(g.groupId, cg));
      return;
    }
    fail(
      ErrorCode.FENCED_MEMBER_EPOCH,
      `The consumer group member has a ${received > m.memberEpoch ? 'greater' : 'smaller'} member epoch (${received}) than the one known by the group coordinator (${m.memberEpoch}). The member must abandon all its partitions and rejoin.`,
    );
  }

  private reconcileMember(
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
    records.push(this.currentRecord(g.groupId, m));
    clearTimeout(m.rebalanceTimer);
    m.rebalanceTimer = undefined;
    if (m.state === MemberState.UNREVOKED_PARTITIONS) {
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

  /** A hash of the topics the group subscribes to, "id:name:partitions" lines (the epoch moves when it changes). */
  private metadataHash(cg: ConsumerGroup): bigint {
    const names = this.resolvedNames(cg);
    const lines: string[] = [];
    for (const name of [...names].sort()) {
      const t = this.topics.byName(name);
      if (t) lines.push(`${t.id}:${name}:${t.partitions}`);
    }
    return createHash('sha256').update(lines.join('\n')).digest().readBigInt64BE(0);
  }

  /** Every existing topic name a member subscribes to, by name or regex. */
  private resolvedNames(cg: ConsumerGroup): Set<string> {
    const names = cg.subscribedNames();
    const regexes = new Set<string>();
    for (const m of cg.members.values())
      if (m.subscribedTopicRegex !== null) regexes.add(m.subscribedTopicRegex);
    if (regexes.size > 0) {
      const compiled = [...regexes].map((r) => this.regex(r));
      for (const name of this.topics.names())
        if (!name.startsWith('__') && compiled.some((r) => r.test(name))) names.add(name);
    }
    cg.resolvedTopics = names;
    return names;
  }

  private memberTopics(m: ConsumerMember): Set<string> {
    const out = new Set(m.subscribedTopicNames);
    if (m.subscribedTopicRegex !== null) {
      const r = this.regex(m.subscribedTopicRegex);
      for (const name of this.topics.names()) if (!name.startsWith('__') && r.test(name)) out.add(name);
    }
    return out;
  }

  private computeTarget(groupId: string, cg: ConsumerGroup, records: GroupLogRecord[]): void {
    const topics = new Map<string, { name: string; partitions: number }>();
    const members = new Map<
      string,
      {
        instanceId: string | null;
        rackId: string | null;
        subscribed: Set<string>;
        current: Map<string, number[]>;
      }
    >();
    for (const m of [...cg.members.values()].sort((a, b) => (a.memberId < b.memberId ? -1 : 1))) {
      const subscribed = new Set<string>();
      for (const name of this.memberTopics(m)) {
        const t = this.topics.byName(name);
        if (!t) continue;
        subscribed.add(t.id);
        topics.set(t.id, { name, partitions: t.partitions });
      }
      const current = new Map<string, number[]>();
      for (const [t, ps] of cg.target.get(m.memberId) ?? []) current.set(t, [...ps]);
      members.set(m.memberId, { instanceId: m.instanceId, rackId: m.rackId, subscribed, current });
    }
    const name = cg.preferredAssignor() ?? this.options.assignors[0] ?? 'uniform';
    const assignor = SERVER_ASSIGNORS.get(name) ?? SERVER_ASSIGNORS.get('uniform')!;
    const result: GroupAssignment = assignor.assign({ members, topics });
    for (const memberId of cg.members.keys()) {
      const next: Assignment = new Map();
      for (const [t, ps] of result.get(memberId) ?? []) if (ps.length > 0) next.set(t, new Set(ps));
      const prev = cg.target.get(memberId);
      if (prev && assignmentEquals(prev, next)) continue;
      cg.target.set(memberId, next);
      records.push(this.targetRecord(groupId, memberId, next));
    }
    cg.assignmentEpoch = cg.groupEpoch;
    cg.assignorName = assignor.name;
    records.push({
      key: encodeConsumerTargetMetadataKey(groupId),
      value: encodeConsumerTargetMetadataValue({ assignmentEpoch: cg.assignmentEpoch }),
    });
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
      records.push(this.currentRecord(g.groupId, m));
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
  private fence(g: Group, cg: ConsumerGroup, m: ConsumerMember, records: GroupLogRecord[]): void {
    this.removeMember(g, cg, m, records);
    cg.groupEpoch++;
    records.push(this.epochRecord(g.groupId, cg));
    if (cg.members.size === 0 && g.state !== 'Empty') g.transition('Empty', Date.now());
  }

  private fenceInBackground(s: ShardLike, g: Group, cg: ConsumerGroup, m: ConsumerMember): void {
    const records: GroupLogRecord[] = [];
    this.fence(g, cg, m, records);
    this.host
      .write(s, records)
      .catch((err: unknown) =>
        this.host.logger.warn({ group: g.groupId, err: String(err) }, 'writing a fenced member failed'),
      );
  }

  private removeMember(g: Group, cg: ConsumerGroup, m: ConsumerMember, records: GroupLogRecord[]): void {
    clearTimeout(m.sessionTimer);
    clearTimeout(m.rebalanceTimer);
    cg.removePartitionEpochs(m);
    cg.members.delete(m.memberId);
    cg.target.delete(m.memberId);
    if (m.instanceId !== null && cg.staticMembers.get(m.instanceId) === m.memberId)
      cg.staticMembers.delete(m.instanceId);
    records.push({ key: encodeConsumerCurrentMemberKey(g.groupId, m.memberId), value: null });
    records.push({ key: encodeConsumerTargetMemberKey(g.groupId, m.memberId), value: null });
    records.push({ key: encodeConsumerMemberKey(g.groupId, m.memberId), value: null });
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
    }, this.options.sessionTimeoutMs);
    m.sessionTimer.unref();
  }

  /** Stops the group's timers (coordinator closing or the partition moving). */
  shut(g: Group): void {
    for (const m of g.consumer?.members.values() ?? []) {
      clearTimeout(m.sessionTimer);
      clearTimeout(m.rebalanceTimer);
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
    return this.resolvedNames(cg);
  }

  // ---- offsets ---------------------------------------------------------------------------

  /** OffsetCommit by a consumer group member: its member epoch must be current. */
  commitError(g: Group, memberId: string, memberEpoch: number, apiVersion: number): number {
    const cg = g.consumer!;
    if (memberEpoch < 0 && cg.members.size === 0) return ErrorCode.NONE;
    const m = cg.members.get(memberId);
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
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

  async describe(groupId: string): Promise<ConsumerGroupDescription> {
    const none = (errorCode: number, errorMessage: string): ConsumerGroupDescription => ({
      errorCode,
      errorMessage,
      groupId,
      groupState: '',
      groupEpoch: 0,
      assignmentEpoch: 0,
      assignorName: '',
      members: [],
    });
    if (groupId === '') return none(ErrorCode.INVALID_GROUP_ID, 'GroupId can not be empty.');
    const s = await this.host.shardFor(groupId);
    const g = s.groups.get(groupId);
    if (!g || g.state === 'Dead') return none(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${groupId} not found.`);
    const cg = g.consumer;
    if (!cg) return none(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${groupId} is not a consumer group.`);
    const named = (a: Assignment): { topicId: string; topicName: string; partitions: number[] }[] =>
      toTopicPartitions(a).map((tp) => ({ ...tp, topicName: this.topics.nameOfId(tp.topicId) ?? '' }));
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      groupId,
      groupState: cg.state(),
      groupEpoch: cg.groupEpoch,
      assignmentEpoch: cg.assignmentEpoch,
      assignorName: cg.assignorName ?? cg.preferredAssignor() ?? this.options.assignors[0] ?? 'uniform',
      members: [...cg.members.values()].map((m) => ({
        memberId: m.memberId,
        instanceId: m.instanceId,
        rackId: m.rackId,
        memberEpoch: m.memberEpoch,
        clientId: m.clientId,
        clientHost: m.clientHost,
        subscribedTopicNames: [...m.subscribedTopicNames],
        subscribedTopicRegex: m.subscribedTopicRegex,
        assignment: named(m.assigned),
        targetAssignment: named(cg.target.get(m.memberId) ?? new Map()),
      })),
    };
  }

  // ---- records ---------------------------------------------------------------------------

  private memberValue(m: ConsumerMember): ConsumerMemberValue {
    return {
      instanceId: m.instanceId,
      rackId: m.rackId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      subscribedTopicNames: m.subscribedTopicNames,
      subscribedTopicRegex: m.subscribedTopicRegex,
      serverAssignor: m.serverAssignor,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
    };
  }

  private epochRecord(groupId: string, cg: ConsumerGroup): GroupLogRecord {
    return {
      key: encodeConsumerGroupKey(groupId),
      value: encodeConsumerGroupValue({ epoch: cg.groupEpoch, metadataHash: cg.metadataHash }),
    };
  }

  private targetRecord(groupId: string, memberId: string, a: Assignment): GroupLogRecord {
    return {
      key: encodeConsumerTargetMemberKey(groupId, memberId),
      value: encodeConsumerTargetMemberValue({ topicPartitions: toRecordPartitions(a) }),
    };
  }

  private currentRecord(groupId: string, m: ConsumerMember): GroupLogRecord {
    const v: ConsumerCurrentMemberValue = {
      memberEpoch: m.memberEpoch,
      previousMemberEpoch: m.previousMemberEpoch,
      state: m.state,
      assignedPartitions: toRecordPartitions(m.assigned),
      partitionsPendingRevocation: toRecordPartitions(m.pendingRevocation),
    };
    return {
      key: encodeConsumerCurrentMemberKey(groupId, m.memberId),
      value: encodeConsumerCurrentMemberValue(v),
    };
  }
}

/** Topic ids: the protocol's base64url form in memory, Kafka's 8-4-4-4-12 text in the records. */
function idText(b64: string): string {
  const h = Buffer.from(b64, 'base64url').toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function idB64(text: string): string {
  return Buffer.from(text.replaceAll('-', ''), 'hex').toString('base64url');
}

function toRecordPartitions(a: Assignment): { topicId: string; partitions: number[] }[] {
  return toTopicPartitions(a).map((tp) => ({ topicId: idText(tp.topicId), partitions: tp.partitions }));
}

function fromRecordPartitions(list: readonly { topicId: string; partitions: number[] }[]): Assignment {
  return fromTopicPartitions(list.map((tp) => ({ topicId: idB64(tp.topicId), partitions: tp.partitions })));
}

function sameValue(a: ConsumerMemberValue, b: ConsumerMemberValue): boolean {
  return (
    a.instanceId === b.instanceId &&
    a.rackId === b.rackId &&
    a.clientId === b.clientId &&
    a.clientHost === b.clientHost &&
    sameList(a.subscribedTopicNames, b.subscribedTopicNames) &&
    a.subscribedTopicRegex === b.subscribedTopicRegex &&
    a.serverAssignor === b.serverAssignor &&
    a.rebalanceTimeoutMs === b.rebalanceTimeoutMs
  );
}

/** Consumer groups rebuilt from a log partition's records (the coordinator's replay feeds them). */
export class ConsumerReplay {
  readonly groups = new Map<string, ConsumerGroup>();

  private group(id: string): ConsumerGroup {
    let cg = this.groups.get(id);
    if (!cg) {
      cg = new ConsumerGroup();
      this.groups.set(id, cg);
    }
    return cg;
  }

  private member(cg: ConsumerGroup, memberId: string): ConsumerMember {
    let m = cg.members.get(memberId);
    if (!m) {
      m = new ConsumerMember(memberId);
      cg.members.set(memberId, m);
    }
    return m;
  }

  /** True when the key is a consumer group record (applied), false otherwise. */
  apply(key: RecordKey, value: Buffer | null): boolean {
    switch (key.type) {
      case 'consumer-group':
        if (value === null) this.groups.delete(key.group);
        else {
          const v = decodeConsumerGroupValue(value);
          const cg = this.group(key.group);
          cg.groupEpoch = v.epoch;
          cg.metadataHash = v.metadataHash;
        }
        return true;
      case 'consumer-partition-metadata':
        return true;
      case 'consumer-member': {
        const cg = this.group(key.group);
        if (value === null) {
          cg.members.delete(key.memberId);
          return true;
        }
        const v = decodeConsumerMemberValue(value);
        const m = this.member(cg, key.memberId);
        m.instanceId = v.instanceId;
        m.rackId = v.rackId;
        m.clientId = v.clientId;
        m.clientHost = v.clientHost;
        m.subscribedTopicNames = v.subscribedTopicNames;
        m.subscribedTopicRegex = v.subscribedTopicRegex;
        m.serverAssignor = v.serverAssignor;
        m.rebalanceTimeoutMs = v.rebalanceTimeoutMs;
        return true;
      }
      case 'consumer-target-metadata':
        this.group(key.group).assignmentEpoch =
          value === null ? 0 : decodeConsumerTargetMetadataValue(value).assignmentEpoch;
        return true;
      case 'consumer-target-member': {
        const cg = this.group(key.group);
        if (value === null) cg.target.delete(key.memberId);
        else
          cg.target.set(
            key.memberId,
            fromRecordPartitions(decodeConsumerTargetMemberValue(value).topicPartitions),
          );
        return true;
      }
      case 'consumer-current-member': {
        const cg = this.group(key.group);
        if (value === null) return true; // the member record's tombstone removes it
        const v = decodeConsumerCurrentMemberValue(value);
        const m = this.member(cg, key.memberId);
        m.memberEpoch = v.memberEpoch;
        m.previousMemberEpoch = v.previousMemberEpoch;
        m.state =
          v.state === MemberState.UNREVOKED_PARTITIONS || v.state === MemberState.UNRELEASED_PARTITIONS
            ? v.state
            : MemberState.STABLE;
        m.assigned = fromRecordPartitions(v.assignedPartitions);
        m.pendingRevocation = fromRecordPartitions(v.partitionsPendingRevocation);
        return true;
      }
      default:
        return false;
    }
  }

  /** Finishes the groups: members without metadata dropped, indexes rebuilt. */
  finish(): Map<string, ConsumerGroup> {
    for (const cg of this.groups.values()) {
      for (const [id, m] of cg.members) {
        if (m.clientId === '' && m.subscribedTopicNames.length === 0 && m.subscribedTopicRegex === null) {
          cg.members.delete(id);
          continue;
        }
        if (m.instanceId !== null) cg.staticMembers.set(m.instanceId, id);
        cg.addPartitionEpochs(m);
      }
      for (const id of [...cg.target.keys()]) if (!cg.members.has(id)) cg.target.delete(id);
    }
    return this.groups;
  }
}
