/**
 * Whom a KIP-848 ConsumerGroupHeartbeat is about: its group (created, or converted from an
 * empty classic group, when a member joins) and its member (new, known, or a static member
 * back under a new member id), with Kafka's member epoch check; and the removal of a member
 * with its records' tombstones.
 */
import { ErrorCode } from '@tributary/protocol';
import {
  ConsumerGroup,
  ConsumerMember,
  isSubset,
  LEAVE_STATIC_EPOCH,
  MemberState,
} from './consumer-group.ts';
import type {
  ConsumerHost,
  ConsumerProtocol,
  ConsumerProtocolOptions,
  HeartbeatParams,
  ShardLike,
} from './consumer-protocol.ts';
import { currentRecord, epochRecord, memberValue, targetRecord } from './consumer-records.ts';
import { fail } from './consumer-topics.ts';
import { Group } from './group.ts';
import type { GroupLogRecord } from './log.ts';
import {
  encodeConsumerCurrentMemberKey,
  encodeConsumerMemberKey,
  encodeConsumerMemberValue,
  encodeConsumerTargetMemberKey,
  encodeGroupKey,
} from './records.ts';

/** Finds (or creates) the group and the member of a heartbeat. */
export class ConsumerMembers {
  constructor(
    private readonly host: ConsumerHost,
    private readonly options: ConsumerProtocolOptions,
    private readonly protocol: ConsumerProtocol,
  ) {}

  /** The group, created or converted from an empty classic group when a member joins. */
  groupFor(s: ShardLike, groupId: string, joining: boolean, records: GroupLogRecord[]): Group {
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
    if (!g.consumer && joining && (g.members.size > 0 || g.state !== 'Empty')) {
      // A running classic consumer group: upgraded online, its members carry on as classic members.
      this.protocol.classic.upgrade(s, g, records);
      return g;
    }
    if (!g.consumer) {
      if (!joining) fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${groupId} is not a consumer group.`);
      // An empty classic group (or one holding only offsets, or only member ids handed out with
      // MEMBER_ID_REQUIRED) becomes a consumer group; offsets stay. Such a member's second
      // JoinGroup then joins the consumer group as a classic member.
      for (const t of g.pending.values()) clearTimeout(t);
      g.pending.clear();
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

  memberFor(
    g: Group,
    cg: ConsumerGroup,
    memberId: string,
    p: HeartbeatParams,
    records: GroupLogRecord[],
  ): { member: ConsumerMember; isNew: boolean; replaced?: ConsumerMember } {
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
      checkEpoch(g, cg, m, p, records);
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
      checkEpoch(g, cg, existing, p, records);
      return { member: existing, isNew: false };
    }
    if (!existing) {
      const m = cg.members.get(memberId);
      if (m) {
        checkEpoch(g, cg, m, p, records);
        return { member: m, isNew: false };
      }
      return fresh();
    }
    if (existing.memberId === memberId) {
      checkEpoch(g, cg, existing, p, records);
      return { member: existing, isNew: false };
    }
    // A static member that left (epoch -2), or a classic one (a rolling upgrade), is replaced.
    if (existing.memberEpoch !== LEAVE_STATIC_EPOCH && existing.classic === null)
      fail(
        ErrorCode.UNRELEASED_INSTANCE_ID,
        `Static member ${memberId} with instance id ${p.instanceId} cannot join the group because the instance id is owned by member ${existing.memberId}.`,
      );
    // The static member is back under a new member id: it takes over the old one's partitions.
    const m = existing.cloneAs(memberId);
    m.memberEpoch = 0;
    m.previousMemberEpoch = 0;
    m.classic = null;
    // Only the partitions and epochs carry over: the subscription is what this join sends
    // (compared with the old incarnation's, so the same subscription moves no epoch).
    m.subscribedTopicNames = [];
    m.subscribedTopicRegex = null;
    m.serverAssignor = null;
    m.rackId = null;
    const target = cg.target.get(existing.memberId);
    removeMember(g, cg, existing, records);
    cg.members.set(m.memberId, m);
    cg.staticMembers.set(p.instanceId, m.memberId);
    if (target) {
      cg.target.set(m.memberId, target);
      records.push(targetRecord(g.groupId, m.memberId, target));
    }
    cg.addPartitionEpochs(m);
    records.push({
      key: encodeConsumerMemberKey(g.groupId, m.memberId),
      value: encodeConsumerMemberValue(memberValue(m)),
    });
    records.push(currentRecord(g.groupId, m));
    this.host.logger.info(
      { group: g.groupId, member: m.memberId, instance: p.instanceId, replaced: existing.memberId },
      'static member rejoined the consumer group',
    );
    return { member: m, isNew: false, replaced: existing };
  }
}

/**
 * Kafka's epoch check: a newer epoch is fenced; an older one only when it is not the previous
 * epoch with a subset of the partitions (a lost response). A member rejoining with epoch 0
 * that fails the check starts over (its partitions are released) instead of being fenced.
 */
export function checkEpoch(
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
    records.push(currentRecord(g.groupId, m));
    // Rejoining counts as a subscription change: the group epoch moves on.
    cg.groupEpoch++;
    records.push(epochRecord(g.groupId, cg));
    return;
  }
  fail(
    ErrorCode.FENCED_MEMBER_EPOCH,
    `The consumer group member has a ${received > m.memberEpoch ? 'greater' : 'smaller'} member epoch (${received}) than the one known by the group coordinator (${m.memberEpoch}). The member must abandon all its partitions and rejoin.`,
  );
}

/** Removes a member: its timers, partitions, target, and its records (tombstones). */
export function removeMember(
  g: Group,
  cg: ConsumerGroup,
  m: ConsumerMember,
  records: GroupLogRecord[],
): void {
  clearTimeout(m.sessionTimer);
  clearTimeout(m.rebalanceTimer);
  clearTimeout(m.joinTimer);
  clearTimeout(m.syncTimer);
  cg.removePartitionEpochs(m);
  cg.members.delete(m.memberId);
  cg.target.delete(m.memberId);
  if (m.instanceId !== null && cg.staticMembers.get(m.instanceId) === m.memberId)
    cg.staticMembers.delete(m.instanceId);
  records.push({ key: encodeConsumerCurrentMemberKey(g.groupId, m.memberId), value: null });
  records.push({ key: encodeConsumerTargetMemberKey(g.groupId, m.memberId), value: null });
  records.push({ key: encodeConsumerMemberKey(g.groupId, m.memberId), value: null });
}
