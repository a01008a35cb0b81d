/** DescribeGroups 0–5: state, protocol and members (metadata and assignments when Stable). */
import {
  ApiKey,
  type DescribeGroupsRequest,
  type DescribeGroupsResponse,
  ErrorCode,
} from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { errorCodeOf } from '../errors.ts';
import { groupCoordinator } from '../groups/index.ts';
import { AUTHORIZED_OPERATIONS_OMITTED } from './common.ts';

/** READ (3), DELETE (6), DESCRIBE (8): what anyone may do to a group without an authorizer. */
const GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);

export function describeGroupsHandler(b: Broker): ApiHandler<DescribeGroupsRequest, DescribeGroupsResponse> {
  const groups = groupCoordinator(b);
  const failed = (groupId: string, errorCode: number) => ({
    errorCode,
    groupId,
    groupState: '',
    protocolType: '',
    protocolData: '',
    members: [],
    authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  });
  return {
    apiKey: ApiKey.DescribeGroups,
    minVersion: 0,
    maxVersion: 5,
    errorResponse(req, errorCode) {
      return { throttleTimeMs: 0, groups: req.groups.map((g) => failed(g, errorCode)) };
    },
    async handle(req, ctx) {
      const ops =
        ctx.apiVersion >= 3 && req.includeAuthorizedOperations
          ? GROUP_OPERATIONS
          : AUTHORIZED_OPERATIONS_OMITTED;
      const out = await Promise.all(
        req.groups.map(async (groupId) => {
          if (groupId === '') return failed(groupId, ErrorCode.INVALID_GROUP_ID);
          try {
            const d = await groups.describe(groupId);
            return {
              errorCode: ErrorCode.NONE,
              groupId,
              groupState: d.state,
              protocolType: d.protocolType,
              protocolData: d.protocolData,
              members: d.members.map((m) => ({
                memberId: m.memberId,
                groupInstanceId: m.groupInstanceId,
                clientId: m.clientId,
                clientHost: m.clientHost,
                memberMetadata: m.metadata,
                memberAssignment: m.assignment,
              })),
              authorizedOperations: ops,
            };
          } catch (err) {
            return failed(groupId, errorCodeOf(err));
          }
        }),
      );
      return { throttleTimeMs: 0, groups: out };
    },
  };
}
