/** JoinGroup 0–9: MEMBER_ID_REQUIRED for new dynamic members from v4, static members from v5. */
import { ApiKey, type JoinGroupRequest, type JoinGroupResponse } from '@tributary/protocol';
import type { ApiHandler, RequestContext } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { groupCoordinator } from '../groups/index.ts';

/** Kafka's client host: "/" + the peer's address. */
export function clientHostOf(ctx: RequestContext): string {
  const a = ctx.remoteAddress;
  const i = a.lastIndexOf(':');
  const host = i > 0 ? a.slice(0, i) : a;
  return `/${host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host}`;
}

export function joinGroupHandler(b: Broker): ApiHandler<JoinGroupRequest, JoinGroupResponse> {
  const groups = groupCoordinator(b);
  return {
    apiKey: ApiKey.JoinGroup,
    minVersion: 0,
    maxVersion: 9,
    errorResponse(req, errorCode, apiVersion) {
      return {
        throttleTimeMs: 0,
        errorCode,
        generationId: -1,
        protocolType: null,
        protocolName: apiVersion >= 7 ? null : '',
        leader: '',
        skipAssignment: false,
        memberId: req.memberId,
        members: [],
      };
    },
    async handle(req, ctx) {
      const v = ctx.apiVersion;
      const r = await groups.join({
        groupId: req.groupId,
        memberId: req.memberId,
        groupInstanceId: v >= 5 ? req.groupInstanceId : null,
        clientId: ctx.header.clientId ?? '',
        clientHost: clientHostOf(ctx),
        sessionTimeoutMs: req.sessionTimeoutMs,
        rebalanceTimeoutMs:
          v >= 1 && req.rebalanceTimeoutMs >= 0 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
        protocolType: req.protocolType,
        protocols: req.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
        requireKnownMemberId: v >= 4,
        supportsSkipAssignment: v >= 9,
      });
      return {
        throttleTimeMs: 0,
        errorCode: r.errorCode,
        generationId: r.generationId,
        protocolType: r.protocolType,
        protocolName: v >= 7 ? r.protocolName : (r.protocolName ?? ''),
        leader: r.leader,
        skipAssignment: r.skipAssignment,
        memberId: r.memberId,
        members: r.members,
      };
    },
  };
}
