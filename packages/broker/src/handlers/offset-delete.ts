/**
 * OffsetDelete 0: removes committed offsets of an empty group, or of topics a consumer group's
 * members do not subscribe to (GROUP_SUBSCRIBED_TO_TOPIC for the others).
 */
import { ApiKey, ErrorCode, type OffsetDeleteRequest, type OffsetDeleteResponse } from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { groupCoordinator } from '../groups/index.ts';

export function offsetDeleteHandler(b: Broker): ApiHandler<OffsetDeleteRequest, OffsetDeleteResponse> {
  const groups = groupCoordinator(b);
  return {
    apiKey: ApiKey.OffsetDelete,
    minVersion: 0,
    maxVersion: 0,
    errorResponse(_req, errorCode) {
      return { errorCode, throttleTimeMs: 0, topics: [] };
    },
    async handle(req) {
      if (req.groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, throttleTimeMs: 0, topics: [] };
      const known = req.topics.map((t) => {
        const rec = b.topics.get(t.name);
        return {
          name: t.name,
          partitions: t.partitions
            .map((p) => p.partitionIndex)
            .filter((p) => rec !== undefined && p >= 0 && p < rec.partitions.length),
        };
      });
      const r = await groups.deleteOffsets(req.groupId, known);
      if (r.errorCode !== ErrorCode.NONE) return { errorCode: r.errorCode, throttleTimeMs: 0, topics: [] };
      const codes = new Map<string, number>();
      for (const t of r.topics)
        for (const p of t.partitions) codes.set(`${p.partition}:${t.name}`, p.errorCode);
      return {
        errorCode: ErrorCode.NONE,
        throttleTimeMs: 0,
        topics: req.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({
            partitionIndex: p.partitionIndex,
            errorCode: codes.get(`${p.partitionIndex}:${t.name}`) ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          })),
        })),
      };
    },
  };
}
