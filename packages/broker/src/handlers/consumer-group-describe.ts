/** ConsumerGroupDescribe 0 (KIP-848 groups; a classic group answers GROUP_ID_NOT_FOUND, as in Kafka). */
import {
  ApiKey,
  type ConsumerGroupDescribeRequest,
  type ConsumerGroupDescribeResponse,
} from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { errorCodeOf, messageOf } from '../errors.ts';
import { groupCoordinator } from '../groups/index.ts';

/** Kafka's "not requested" value of authorizedOperations. */
const NOT_REQUESTED = -2147483648;
/** READ, DESCRIBE, DELETE (3, 8, 6) of a group: no ACLs, every operation is allowed. */
const GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);

export function consumerGroupDescribeHandler(
  b: Broker,
): ApiHandler<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse> {
  const groups = groupCoordinator(b);
  const empty = (groupId: string, errorCode: number, errorMessage: string | null) => ({
    errorCode,
    errorMessage,
    groupId,
    groupState: '',
    groupEpoch: 0,
    assignmentEpoch: 0,
    assignorName: '',
    members: [],
    authorizedOperations: NOT_REQUESTED,
  });
  return {
    apiKey: ApiKey.ConsumerGroupDescribe,
    minVersion: 0,
    maxVersion: 0,
    errorResponse(req, errorCode) {
      return { throttleTimeMs: 0, groups: req.groupIds.map((id) => empty(id, errorCode, null)) };
    },
    async handle(req) {
      const out = await Promise.all(
        req.groupIds.map(async (groupId) => {
          try {
            const d = await groups.consumer.describe(groupId);
            return {
              ...d,
              members: d.members.map((m) => ({
                ...m,
                assignment: { topicPartitions: m.assignment },
                targetAssignment: { topicPartitions: m.targetAssignment },
              })),
              authorizedOperations: req.includeAuthorizedOperations ? GROUP_OPERATIONS : NOT_REQUESTED,
            };
          } catch (err) {
            return empty(groupId, errorCodeOf(err), messageOf(err));
          }
        }),
      );
      return { throttleTimeMs: 0, groups: out };
    },
  };
}
