/** ListGroups 0–5 (v4: states filter, v5: types filter; both case-insensitive as in Kafka). */
import { ApiKey, ErrorCode, type ListGroupsRequest, type ListGroupsResponse } from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { groupCoordinator } from '../groups/index.ts';

export function listGroupsHandler(b: Broker): ApiHandler<ListGroupsRequest, ListGroupsResponse> {
  const groups = groupCoordinator(b);
  return {
    apiKey: ApiKey.ListGroups,
    minVersion: 0,
    maxVersion: 5,
    errorResponse(_req, errorCode) {
      return { throttleTimeMs: 0, errorCode, groups: [] };
    },
    async handle(req, ctx) {
      const states =
        ctx.apiVersion >= 4 ? new Set(req.statesFilter.map((s) => s.toLowerCase())) : new Set<string>();
      const types =
        ctx.apiVersion >= 5 ? new Set(req.typesFilter.map((s) => s.toLowerCase())) : new Set<string>();
      const all = await groups.list();
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        groups: all
          .filter((g) => states.size === 0 || states.has(g.state.toLowerCase()))
          .filter((g) => types.size === 0 || types.has(g.type))
          .map((g) => ({
            groupId: g.groupId,
            protocolType: g.protocolType,
            groupState: g.state,
            groupType: g.type,
          })),
      };
    },
  };
}
