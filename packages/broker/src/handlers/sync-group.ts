/** SyncGroup 0–5: the leader's assignments are stored durably before anyone gets theirs. */
import { ApiKey, type SyncGroupRequest, type SyncGroupResponse } from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { groupCoordinator } from '../groups/index.ts';

export function syncGroupHandler(b: Broker): ApiHandler<SyncGroupRequest, SyncGroupResponse> {
  const groups = groupCoordinator(b);
  return {
    apiKey: ApiKey.SyncGroup,
    minVersion: 0,
    maxVersion: 5,
    errorResponse(_req, errorCode) {
      return {
        throttleTimeMs: 0,
        errorCode,
        protocolType: null,
        protocolName: null,
        assignment: Buffer.alloc(0),
      };
    },
    async handle(req, ctx) {
      const v = ctx.apiVersion;
      const r = await groups.sync({
        groupId: req.groupId,
        generationId: req.generationId,
        memberId: req.memberId,
        groupInstanceId: v >= 3 ? req.groupInstanceId : null,
        protocolType: v >= 5 ? req.protocolType : null,
        protocolName: v >= 5 ? req.protocolName : null,
        assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
      });
      return { throttleTimeMs: 0, ...r };
    },
  };
}
