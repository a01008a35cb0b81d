/** Heartbeat 0–4. */
import { ApiKey, type HeartbeatRequest, type HeartbeatResponse } from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { groupCoordinator } from '../groups/index.ts';

export function heartbeatHandler(b: Broker): ApiHandler<HeartbeatRequest, HeartbeatResponse> {
  const groups = groupCoordinator(b);
  return {
    apiKey: ApiKey.Heartbeat,
    minVersion: 0,
    maxVersion: 4,
    errorResponse(_req, errorCode) {
      return { throttleTimeMs: 0, errorCode };
    },
    async handle(req, ctx) {
      const errorCode = await groups.heartbeat(
        req.groupId,
        req.generationId,
        req.memberId,
        ctx.apiVersion >= 3 ? req.groupInstanceId : null,
      );
      return { throttleTimeMs: 0, errorCode };
    },
  };
}
