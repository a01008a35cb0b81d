/** LeaveGroup 0–5 (v3+: a batch of members, by member id and/or group.instance.id). */
import { ApiKey, ErrorCode, type LeaveGroupRequest, type LeaveGroupResponse } from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { groupCoordinator } from '../groups/index.ts';

export function leaveGroupHandler(b: Broker): ApiHandler<LeaveGroupRequest, LeaveGroupResponse> {
  const groups = groupCoordinator(b);
  return {
    apiKey: ApiKey.LeaveGroup,
    minVersion: 0,
    maxVersion: 5,
    errorResponse(req, errorCode) {
      return {
        throttleTimeMs: 0,
        errorCode,
        members: req.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          errorCode,
        })),
      };
    },
    async handle(req, ctx) {
      if (ctx.apiVersion < 3) {
        const [code] = await groups.leave(req.groupId, [{ memberId: req.memberId, groupInstanceId: null }]);
        return { throttleTimeMs: 0, errorCode: code ?? ErrorCode.NONE, members: [] };
      }
      const refs = req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId }));
      const codes = await groups.leave(req.groupId, refs);
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        members: refs.map((m, i) => ({ ...m, errorCode: codes[i]! })),
      };
    },
  };
}
