/**
 * ConsumerGroupDescribe of a KIP-848 group: state, epochs, assignor, and each member's
 * subscription, current and target assignment (topic names resolved). A classic group, or
 * none, is GROUP_ID_NOT_FOUND, as in Kafka (admin clients then fall back to DescribeGroups).
 */
import { ErrorCode } from '@tributary/protocol';
import { type Assignment, toTopicPartitions } from './consumer-group.ts';
import type { ConsumerProtocol } from './consumer-protocol.ts';

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

export async function describeConsumerGroup(
  cp: ConsumerProtocol,
  groupId: string,
): Promise<ConsumerGroupDescription> {
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
  if (groupId === '') return none(ErrorCode.INVALID_GROUP_ID, "GroupId can't be empty.");
  const s = await cp.host.shardFor(groupId);
  const g = s.groups.get(groupId);
  if (!g || g.state === 'Dead') return none(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${groupId} not found.`);
  const cg = g.consumer;
  if (!cg) return none(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${groupId} is not a consumer group.`);
  const named = (a: Assignment): { topicId: string; topicName: string; partitions: number[] }[] =>
    toTopicPartitions(a).map((tp) => ({ ...tp, topicName: cp.topics.nameOfId(tp.topicId) ?? '' }));
  return {
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    groupId,
    groupState: cg.state(),
    groupEpoch: cg.groupEpoch,
    assignmentEpoch: cg.assignmentEpoch,
    assignorName: cg.assignorName ?? cg.preferredAssignor() ?? cp.options.assignors[0] ?? 'uniform',
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
