/**
 * OffsetCommit 2–9: per partition, the topic must exist and the metadata fit
 * offset.metadata.max.bytes; the rest is committed as one durable batch (the response waits
 * for it) once the coordinator accepts the committer (generation, member, instance id).
 */
import { ApiKey, ErrorCode, type OffsetCommitRequest, type OffsetCommitResponse } from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { groupCoordinator } from '../groups/index.ts';

export function offsetCommitHandler(b: Broker): ApiHandler<OffsetCommitRequest, OffsetCommitResponse> {
  const groups = groupCoordinator(b);
  const all = (req: OffsetCommitRequest, errorCode: number): OffsetCommitResponse => ({
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
    })),
  });
  return {
    apiKey: ApiKey.OffsetCommit,
    minVersion: 2,
    maxVersion: 9,
    errorResponse: (req, errorCode) => all(req, errorCode),
    async handle(req, ctx) {
      const v = ctx.apiVersion;
      if (req.groupId === '') return all(req, ErrorCode.INVALID_GROUP_ID);
      const maxMeta = groups.options.offsetMetadataMaxBytes;
      const codes: number[][] = [];
      const offsets: {
        topic: string;
        partition: number;
        offset: bigint;
        leaderEpoch: number;
        metadata: string;
      }[] = [];
      for (const t of req.topics) {
        const topic = b.topics.get(t.name);
        codes.push(
          t.partitions.map((p) => {
            if (topic === undefined || p.partitionIndex < 0 || p.partitionIndex >= topic.partitions.length)
              return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
            const metadata = p.committedMetadata ?? '';
            if (metadata.length > maxMeta) return ErrorCode.OFFSET_METADATA_TOO_LARGE;
            offsets.push({
              topic: t.name,
              partition: p.partitionIndex,
              offset: p.committedOffset,
              leaderEpoch: v >= 6 ? p.committedLeaderEpoch : -1,
              metadata,
            });
            return -1000;
          }),
        );
      }
      const code = await groups.commit({
        groupId: req.groupId,
        generationId: req.generationIdOrMemberEpoch,
        memberId: req.memberId,
        groupInstanceId: v >= 7 ? req.groupInstanceId : null,
        retentionTimeMs: v <= 4 ? Number(req.retentionTimeMs) : -1,
        unknownGroupError: v >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION,
        apiVersion: v,
        offsets,
      });
      return {
        throttleTimeMs: 0,
        topics: req.topics.map((t, i) => ({
          name: t.name,
          partitions: t.partitions.map((p, j) => ({
            partitionIndex: p.partitionIndex,
            errorCode: codes[i]![j] === -1000 ? code : codes[i]![j]!,
          })),
        })),
      };
    },
  };
}
