/** DeleteGroups 0–2: empty groups only (NON_EMPTY_GROUP otherwise); tombstones, then NONE. */
import { ApiKey, type DeleteGroupsRequest, type DeleteGroupsResponse, ErrorCode } from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { errorCodeOf } from '../errors.ts';
import { groupCoordinator } from '../groups/index.ts';

export function deleteGroupsHandler(b: Broker): ApiHandler<DeleteGroupsRequest, DeleteGroupsResponse> {
  const groups = groupCoordinator(b);
  return {
    apiKey: ApiKey.DeleteGroups,
    minVersion: 0,
    maxVersion: 2,
    errorResponse(req, errorCode) {
      return { throttleTimeMs: 0, results: req.groupsNames.map((groupId) => ({ groupId, errorCode })) };
    },
    async handle(req) {
      const results = await Promise.all(
        req.groupsNames.map(async (groupId) => {
          if (groupId === '') return { groupId, errorCode: ErrorCode.INVALID_GROUP_ID };
          try {
            return { groupId, errorCode: await groups.deleteGroup(groupId) };
          } catch (err) {
            return { groupId, errorCode: errorCodeOf(err) };
          }
        }),
      );
      return { throttleTimeMs: 0, results };
    },
  };
}
