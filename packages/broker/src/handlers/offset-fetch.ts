/**
 * OffsetFetch 1–9 (v2+: null topics = every committed offset of the group; v8+: several
 * groups). require_stable (v7+) needs nothing: no transactional offsets are ever pending.
 */
import {
  ApiKey,
  ErrorCode,
  type OffsetFetchRequest,
  type OffsetFetchResponse,
  type OffsetFetchResponseOffsetFetchResponsePartitions,
} from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { errorCodeOf } from '../errors.ts';
import { groupCoordinator } from '../groups/index.ts';

type Topics = { name: string; partitions: OffsetFetchResponseOffsetFetchResponsePartitions[] }[];

export function offsetFetchHandler(b: Broker): ApiHandler<OffsetFetchRequest, OffsetFetchResponse> {
  const groups = groupCoordinator(b);
  const fetchGroup = async (
    groupId: string,
    topics: { name: string; partitionIndexes: number[] }[] | null,
    member?: { memberId: string | null; memberEpoch: number },
  ): Promise<{ errorCode: number; topics: Topics }> => {
    try {
      const got = await groups.fetchOffsets(
        groupId,
        topics === null ? null : topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes })),
        member,
      );
      return {
        errorCode: ErrorCode.NONE,
        topics: got.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({
            partitionIndex: p.partition,
            committedOffset: p.offset,
            committedLeaderEpoch: p.leaderEpoch,
            metadata: p.metadata,
            errorCode: ErrorCode.NONE,
          })),
        })),
      };
    } catch (err) {
      return { errorCode: errorCodeOf(err), topics: [] };
    }
  };
  return {
    apiKey: ApiKey.OffsetFetch,
    minVersion: 1,
    maxVersion: 9,
    errorResponse(req, errorCode) {
      return {
        throttleTimeMs: 0,
        errorCode,
        topics: (req.topics ?? []).map((t) => ({
          name: t.name,
          partitions: t.partitionIndexes.map((p) => ({
            partitionIndex: p,
            committedOffset: -1n,
            committedLeaderEpoch: -1,
            metadata: '',
            errorCode,
          })),
        })),
        groups: req.groups.map((g) => ({ groupId: g.groupId, errorCode, topics: [] })),
      };
    },
    async handle(req, ctx) {
      const v = ctx.apiVersion;
      if (v >= 8) {
        const out = await Promise.all(
          req.groups.map(async (g) => ({
            groupId: g.groupId,
            ...(await fetchGroup(
              g.groupId,
              g.topics,
              v >= 9 ? { memberId: g.memberId, memberEpoch: g.memberEpoch } : undefined,
            )),
          })),
        );
        return { throttleTimeMs: 0, errorCode: 0, topics: [], groups: out };
      }
      const r = await fetchGroup(req.groupId, v >= 2 ? req.topics : (req.topics ?? []));
      if (r.errorCode !== ErrorCode.NONE && v < 2) {
        // v1 has no top-level error: every requested partition carries it.
        return this.errorResponse(req, r.errorCode, v);
      }
      return { throttleTimeMs: 0, errorCode: r.errorCode, topics: r.topics, groups: [] };
    },
  };
}
