/**
 * Classic-protocol members inside a KIP-848 consumer group (Kafka 4's online migration), so a
 * running group can be upgraded by restarting its consumers one at a time:
 *
 * - `upgrade`: a consumer-protocol member joining a classic consumer group that has members
 *   turns it into a consumer group; every classic member carries on at its generation (now its
 *   member epoch) with its partitions, which become the target assignment.
 * - JoinGroup of a classic member: its subscription metadata is its subscription, its owned
 *   partitions (subscription v1+) what it holds; the server-side assignor decides, and the join
 *   is answered at once with the member's epoch as the generation and no leader duties.
 * - SyncGroup hands out the member's assigned partitions (as ConsumerProtocolAssignment);
 *   Heartbeat answers REBALANCE_IN_PROGRESS when the member must rejoin (a newer group epoch,
 *   partitions to revoke, or partitions now free), and a member that does not rejoin within its
 *   rebalance timeout, or does not sync, is fenced; LeaveGroup removes it.
 *
 * Members of both protocols share epochs, targets and the rule that a partition is handed over
 * only once released. A group whose consumer-protocol members have all left stays a consumer
 * group until it is empty (Kafka would downgrade it).
 */
import { randomUUID } from 'node:crypto';
import {
  decodeConsumerProtocolAssignment,
  decodeConsumerProtocolSubscription,
  ErrorCode,
  encodeConsumerProtocolAssignment,
  Reader,
  Writer,
} from '@tributary/protocol';
import type { JoinParams, MemberRef, SyncParams } from './classic.ts';
import {
  type Assignment,
  ConsumerGroup,
  ConsumerMember,
  copyAssignment,
  MemberState,
} from './consumer-group.ts';
import { removeMember } from './consumer-members.ts';
import type { ConsumerProtocol, ShardLike } from './consumer-protocol.ts';
import {
  currentRecord,
  epochRecord,
  memberValue,
  sameList,
  sameValue,
  targetRecord,
} from './consumer-records.ts';
import { fail } from './consumer-topics.ts';
import type { Group, JoinResult, Protocol, SyncResult } from './group.ts';
import type { GroupLogRecord } from './log.ts';
import { joinError, syncError } from './rebalance.ts';
import {
  encodeConsumerMemberKey,
  encodeConsumerMemberValue,
  encodeConsumerTargetMetadataKey,
  encodeConsumerTargetMetadataValue,
  encodeGroupKey,
} from './records.ts';

interface Subscription {
  version: number;
  topics: string[];
  owned: { topic: string; partitions: number[] }[];
  rackId: string | null;
}

/** The consumer protocol's subscription in a classic member's metadata; undefined if it does not parse. */
function parseSubscription(metadata: Buffer): Subscription | undefined {
  try {
    const r = new Reader(metadata);
    const version = Math.min(Math.max(r.readInt16(), 0), 3);
    const sub = decodeConsumerProtocolSubscription(r, version);
    return { version, topics: sub.topics, owned: sub.ownedPartitions, rackId: sub.rackId };
  } catch {
    return undefined;
  }
}

export class ClassicInConsumerGroup {
  constructor(private readonly cp: ConsumerProtocol) {}

  private topicId(name: string): string | undefined {
    return this.cp.topics.byName(name)?.id;
  }

  private toAssignment(list: readonly { topic: string; partitions: readonly number[] }[]): Assignment {
    const a: Assignment = new Map();
    for (const tp of list) {
      const id = this.topicId(tp.topic);
      if (id === undefined) continue;
      let set = a.get(id);
      if (!set) {
        set = new Set();
        a.set(id, set);
      }
      for (const p of tp.partitions) set.add(p);
    }
    return a;
  }

  /** The member's assigned partitions as ConsumerProtocolAssignment at its subscription's version. */
  private assignmentBytes(m: ConsumerMember): Buffer {
    const version = parseSubscription(m.classic?.protocols[0]?.metadata ?? Buffer.alloc(0))?.version ?? 0;
    const w = new Writer(64);
    w.writeInt16(version);
    const assignedPartitions: { topic: string; partitions: number[] }[] = [];
    for (const [id, ps] of m.assigned) {
      const topic = this.cp.topics.nameOfId(id);
      if (topic !== undefined && ps.size > 0)
        assignedPartitions.push({ topic, partitions: [...ps].sort((a, b) => a - b) });
    }
    encodeConsumerProtocolAssignment(w, { assignedPartitions, userData: null }, version);
    return w.toBuffer();
  }

  // ---- upgrade -----------------------------------------------------------------------------

  /**
   * Turns a classic consumer group with members into a consumer group (its members stay, as
   * classic members). Throws GROUP_ID_NOT_FOUND when it cannot (another protocol type, or a
   * subscription that does not parse), as Kafka does.
   */
  upgrade(s: ShardLike, g: Group, records: GroupLogRecord[]): void {
    const notConsumer = (): never =>
      fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${g.groupId} is not a consumer group.`);
    if (g.protocolType !== 'consumer') notConsumer();
    const cg = new ConsumerGroup();
    const members: ConsumerMember[] = [];
    /** Partitions a member says it owns (subscription v1+), which its stored assignment may lack. */
    const ownedOf = new Map<ConsumerMember, Assignment>();
    for (const old of g.members.values()) {
      const meta = old.metadataFor(g.protocolName);
      const sub =
        parseSubscription(meta.length > 0 ? meta : (old.protocols[0]?.metadata ?? Buffer.alloc(0))) ??
        notConsumer();
      const m = new ConsumerMember(old.memberId);
      m.instanceId = old.groupInstanceId;
      m.rackId = sub.rackId;
      m.clientId = old.clientId;
      m.clientHost = old.clientHost;
      m.subscribedTopicNames = [...new Set(sub.topics)];
      m.rebalanceTimeoutMs = old.rebalanceTimeoutMs;
      m.classic = { sessionTimeoutMs: old.sessionTimeoutMs, protocols: old.protocols };
      m.memberEpoch = g.generation;
      m.previousMemberEpoch = g.generation;
      m.state = MemberState.STABLE;
      try {
        const r = new Reader(old.assignment);
        const v = Math.min(Math.max(r.readInt16(), 0), 3);
        m.assigned = this.toAssignment(decodeConsumerProtocolAssignment(r, v).assignedPartitions);
      } catch {
        m.assigned = new Map(); // no assignment yet (the group was rebalancing)
      }
      ownedOf.set(m, this.toAssignment(sub.owned));
      members.push(m);
    }
    // A cooperative member keeps its partitions through a classic rebalance (and its last
    // SyncGroup answer may have been lost): what it owns and nobody was given counts as held
    // by it, so the consumer group asks it to revoke before handing it to anyone else.
    const held = new Set<string>();
    for (const m of members) for (const [t, ps] of m.assigned) for (const p of ps) held.add(`${t}:${p}`);
    for (const m of members) {
      for (const [t, ps] of ownedOf.get(m)!) {
        for (const p of ps) {
          if (held.has(`${t}:${p}`)) continue;
          held.add(`${t}:${p}`);
          let set = m.assigned.get(t);
          if (!set) {
            set = new Set();
            m.assigned.set(t, set);
          }
          set.add(p);
        }
      }
    }
    // Pending classic joins and syncs are answered: their members rejoin into the consumer group.
    clearTimeout(g.joinTimer);
    clearTimeout(g.syncTimer);
    for (const t of g.pending.values()) clearTimeout(t);
    g.pending.clear();
    for (const old of g.members.values()) {
      clearTimeout(old.heartbeatTimer);
      const jw = old.joinWaiter;
      old.joinWaiter = undefined;
      jw?.(joinError(ErrorCode.REBALANCE_IN_PROGRESS, old.memberId));
      const sw = old.syncWaiter;
      old.syncWaiter = undefined;
      sw?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
    }
    g.members.clear();
    g.staticMembers.clear();
    g.pendingSync.clear();
    g.initialJoin = undefined;
    g.consumer = cg;
    cg.groupEpoch = g.generation;
    cg.assignmentEpoch = g.generation;
    records.push({ key: encodeGroupKey(g.groupId), value: null });
    for (const m of members) {
      cg.members.set(m.memberId, m);
      if (m.instanceId !== null) cg.staticMembers.set(m.instanceId, m.memberId);
      cg.target.set(m.memberId, copyAssignment(m.assigned));
      cg.addPartitionEpochs(m);
      records.push({
        key: encodeConsumerMemberKey(g.groupId, m.memberId),
        value: encodeConsumerMemberValue(memberValue(m)),
      });
      records.push(targetRecord(g.groupId, m.memberId, m.assigned));
      records.push(currentRecord(g.groupId, m));
    }
    cg.metadataHash = this.cp.subscriptions.metadataHash(cg);
    records.push({
      key: encodeConsumerTargetMetadataKey(g.groupId),
      value: encodeConsumerTargetMetadataValue({ assignmentEpoch: cg.assignmentEpoch }),
    });
    records.push(epochRecord(g.groupId, cg));
    g.protocolName = null;
    g.generation = 0;
    g.leader = null;
    g.transition(cg.members.size > 0 ? 'Stable' : 'Empty', Date.now());
    for (const m of cg.members.values()) this.cp.startSession(s, g, m);
    this.cp.host.logger.info(
      { group: g.groupId, members: cg.members.size, epoch: cg.groupEpoch },
      'classic group upgraded to a consumer group',
    );
  }

  // ---- JoinGroup ---------------------------------------------------------------------------

  async join(s: ShardLike, g: Group, p: JoinParams): Promise<JoinResult> {
    const cg = g.consumer!;
    if (p.protocolType !== 'consumer' || p.protocols.length === 0)
      return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, p.memberId);
    const sub = parseSubscription(p.protocols[0]!.metadata);
    if (!sub) return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, p.memberId);
    const unknown = p.memberId === '';
    const memberId = unknown ? randomUUID() : p.memberId;
    if (unknown && p.groupInstanceId === null && p.requireKnownMemberId)
      return { ...joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId) };
    const records: GroupLogRecord[] = [];
    const now = Date.now();

    // The member: known, new, or a static member's new incarnation (replaced at once).
    let m: ConsumerMember | undefined;
    let isNew = false;
    let replaced = false;
    if (p.groupInstanceId !== null) {
      const existingId = cg.staticMembers.get(p.groupInstanceId);
      const existing = existingId === undefined ? undefined : cg.members.get(existingId);
      if (unknown) {
        if (existing) {
          // A static member's new incarnation takes over its partitions at once (whatever
          // protocol the old one spoke, as in Kafka).
          replaced = true;
          m = existing.cloneAs(memberId);
          m.memberEpoch = 0;
          m.previousMemberEpoch = 0;
          const target = cg.target.get(existing.memberId);
          removeMember(g, cg, existing, records);
          cg.members.set(m.memberId, m);
          cg.staticMembers.set(p.groupInstanceId, m.memberId);
          if (target) {
            cg.target.set(m.memberId, target);
            records.push(targetRecord(g.groupId, m.memberId, target));
          }
          cg.addPartitionEpochs(m);
          records.push(currentRecord(g.groupId, m));
        }
      } else {
        if (!existing) return joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId);
        if (existing.memberId !== memberId) return joinError(ErrorCode.FENCED_INSTANCE_ID, memberId);
        m = existing;
      }
    } else {
      m = cg.members.get(memberId);
    }
    if (m && !replaced && m.classic === null)
      return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, memberId);
    if (!m) {
      if (cg.members.size >= this.cp.options.maxGroupSize)
        return joinError(ErrorCode.GROUP_MAX_SIZE_REACHED, memberId);
      m = new ConsumerMember(memberId);
      isNew = true;
    }

    // Its subscription and metadata (as a heartbeat would update them).
    const before = memberValue(m);
    const oldNames = m.subscribedTopicNames;
    m.instanceId = p.groupInstanceId;
    if (sub.rackId !== null) m.rackId = sub.rackId;
    m.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    m.subscribedTopicNames = [...new Set(sub.topics)];
    m.subscribedTopicRegex = null;
    m.clientId = p.clientId;
    m.clientHost = p.clientHost;
    m.classic = {
      sessionTimeoutMs: p.sessionTimeoutMs,
      protocols: p.protocols.map((x: Protocol) => ({ ...x })),
    };
    this.cp.admit(g, cg, m, {
      isNew,
      store: isNew || replaced || !sameValue(before, memberValue(m)),
      subscriptionChanged: isNew || !sameList(oldNames, m.subscribedTopicNames),
      now,
      records,
    });
    const owned = [...this.toAssignment(sub.owned)].map(([topicId, ps]) => ({
      topicId,
      partitions: [...ps],
    }));
    this.cp.reconcileMember(s, g, cg, m, owned, records);

    clearTimeout(m.joinTimer);
    m.joinTimer = undefined;
    try {
      if (records.length > 0) await this.cp.host.write(s, records);
    } catch (err) {
      return joinError(this.cp.host.storeErrorCode(err), memberId);
    }
    if (cg.members.get(m.memberId) !== m) return joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId);
    this.cp.startSession(s, g, m);
    // The member must sync within its rebalance timeout.
    const member = m;
    clearTimeout(m.syncTimer);
    m.syncTimer = setTimeout(() => {
      if (s.unloaded || cg.members.get(member.memberId) !== member) return;
      this.cp.host.logger.info(
        { group: g.groupId, member: member.memberId },
        'classic member did not sync in time: fenced',
      );
      this.cp.fenceInBackground(s, g, cg, member);
    }, p.rebalanceTimeoutMs);
    m.syncTimer.unref();
    return {
      errorCode: ErrorCode.NONE,
      generationId: m.memberEpoch,
      protocolType: 'consumer',
      protocolName: p.protocols[0]!.name,
      leader: '',
      skipAssignment: false,
      memberId: m.memberId,
      members: [],
    };
  }

  // ---- SyncGroup, Heartbeat, LeaveGroup ------------------------------------------------------

  /** The classic member of a request, or an error code. */
  private memberOf(cg: ConsumerGroup, memberId: string, instanceId: string | null): ConsumerMember | number {
    if (instanceId !== null) {
      const id = cg.staticMembers.get(instanceId);
      if (id === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (id !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
    }
    const m = cg.members.get(memberId);
    if (!m || m.classic === null) return ErrorCode.UNKNOWN_MEMBER_ID;
    return m;
  }

  sync(s: ShardLike, g: Group, p: SyncParams): SyncResult {
    const cg = g.consumer!;
    const m = this.memberOf(cg, p.memberId, p.groupInstanceId);
    if (typeof m === 'number') return syncError(m);
    if (p.generationId !== m.memberEpoch) return syncError(ErrorCode.ILLEGAL_GENERATION);
    const protocolName = m.classic!.protocols[0]?.name ?? null;
    if (
      (p.protocolType !== null && p.protocolType !== 'consumer') ||
      (p.protocolName !== null && p.protocolName !== protocolName)
    )
      return syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    if (cg.groupEpoch > m.memberEpoch && m.state !== MemberState.UNREVOKED_PARTITIONS) {
      this.scheduleJoinTimeout(s, g, cg, m);
      return syncError(ErrorCode.REBALANCE_IN_PROGRESS);
    }
    clearTimeout(m.syncTimer);
    m.syncTimer = undefined;
    this.cp.startSession(s, g, m);
    return {
      errorCode: ErrorCode.NONE,
      protocolType: 'consumer',
      protocolName,
      assignment: this.assignmentBytes(m),
    };
  }

  async heartbeat(
    s: ShardLike,
    g: Group,
    memberId: string,
    instanceId: string | null,
    generationId: number,
  ): Promise<number> {
    const cg = g.consumer!;
    const m = this.memberOf(cg, memberId, instanceId);
    if (typeof m === 'number') return m;
    if (generationId !== m.memberEpoch) return ErrorCode.ILLEGAL_GENERATION;
    this.cp.startSession(s, g, m);
    // Classic members only heartbeat once settled: the subscribed topics are checked here too
    // (a group left with classic members only must still see new partitions).
    const now = Date.now();
    if (now >= cg.metadataRefreshDeadline) {
      cg.metadataRefreshDeadline = now + this.cp.options.metadataRefreshMs;
      const hash = this.cp.subscriptions.metadataHash(cg);
      if (hash !== cg.metadataHash) {
        cg.metadataHash = hash;
        cg.groupEpoch++;
        try {
          await this.cp.host.write(s, [epochRecord(g.groupId, cg)]);
        } catch (err) {
          return this.cp.host.storeErrorCode(err);
        }
      }
    }
    const freed = m.state === MemberState.UNRELEASED_PARTITIONS && !this.waitingOnUnreleased(cg, m);
    if (m.memberEpoch < cg.groupEpoch || m.state === MemberState.UNREVOKED_PARTITIONS || freed) {
      this.scheduleJoinTimeout(s, g, cg, m);
      return ErrorCode.REBALANCE_IN_PROGRESS;
    }
    return ErrorCode.NONE;
  }

  /** True while a partition of the member's target is still held by another member. */
  private waitingOnUnreleased(cg: ConsumerGroup, m: ConsumerMember): boolean {
    for (const [t, ps] of cg.target.get(m.memberId) ?? []) {
      const mine = m.assigned.get(t);
      for (const p of ps) if (!mine?.has(p) && cg.partitionEpoch(t, p) !== -1) return true;
    }
    return false;
  }

  /** A classic member told to rejoin is fenced if it does not within its rebalance timeout. */
  private scheduleJoinTimeout(s: ShardLike, g: Group, cg: ConsumerGroup, m: ConsumerMember): void {
    if (m.joinTimer !== undefined) return;
    m.joinTimer = setTimeout(() => {
      m.joinTimer = undefined;
      if (s.unloaded || cg.members.get(m.memberId) !== m) return;
      this.cp.host.logger.info(
        { group: g.groupId, member: m.memberId },
        'classic member did not rejoin in time: fenced',
      );
      this.cp.fenceInBackground(s, g, cg, m);
    }, m.rebalanceTimeoutMs);
    m.joinTimer.unref();
  }

  async leave(s: ShardLike, g: Group, refs: MemberRef[]): Promise<number[]> {
    const cg = g.consumer!;
    const records: GroupLogRecord[] = [];
    const codes = refs.map((ref) => {
      let id = ref.memberId;
      if (ref.groupInstanceId !== null) {
        const cur = cg.staticMembers.get(ref.groupInstanceId);
        if (cur === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
        if (id !== '' && id !== cur) return ErrorCode.FENCED_INSTANCE_ID;
        id = cur;
      }
      const m = cg.members.get(id);
      if (!m || m.classic === null) return ErrorCode.UNKNOWN_MEMBER_ID;
      removeMember(g, cg, m, records);
      return ErrorCode.NONE;
    });
    if (records.length === 0) return codes;
    cg.groupEpoch++;
    records.push(epochRecord(g.groupId, cg));
    if (cg.members.size === 0 && g.state !== 'Empty') g.transition('Empty', Date.now());
    try {
      await this.cp.host.write(s, records);
    } catch (err) {
      const code = this.cp.host.storeErrorCode(err);
      return codes.map((c) => (c === ErrorCode.NONE ? code : c));
    }
    return codes;
  }
}
