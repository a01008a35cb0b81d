/** DeleteRecords 0–2: moves a partition's log start offset up (offset -1: to the high watermark). */
import {
  ApiKey,
  type DeleteRecordsRequest,
  type DeleteRecordsResponse,
  ErrorCode,
} from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { errorCodeOf, KafkaError } from '../errors.ts';
import { OFFSETS_TOPIC } from '../groups/log.ts';

export function deleteRecordsHandler(b: Broker): ApiHandler<DeleteRecordsRequest, DeleteRecordsResponse> {
  return {
    apiKey: ApiKey.DeleteRecords,
    minVersion: 0,
    maxVersion: 2,
    errorResponse(req, errorCode) {
      return {
        throttleTimeMs: 0,
        topics: req.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({
            partitionIndex: p.partitionIndex,
            lowWatermark: -1n,
            errorCode,
          })),
        })),
      };
    },
    async handle(req) {
      const topics = [];
      for (const t of req.topics) {
        const partitions = [];
        for (const pr of t.partitions) {
          try {
            if (t.name === OFFSETS_TOPIC)
              throw new KafkaError(
                ErrorCode.INVALID_TOPIC_EXCEPTION,
                `Cannot delete records of internal topic ${OFFSETS_TOPIC}`,
              );
            const p = await b.partition(t.name, pr.partitionIndex);
            if (p === undefined) {
              throw new KafkaError(
                ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                `unknown partition ${t.name}-${pr.partitionIndex}`,
              );
            }
            const low = await p.deleteRecordsBefore(Number(pr.offset));
            partitions.push({
              partitionIndex: pr.partitionIndex,
              lowWatermark: BigInt(low),
              errorCode: ErrorCode.NONE,
            });
          } catch (err) {
            partitions.push({
              partitionIndex: pr.partitionIndex,
              lowWatermark: -1n,
              errorCode: errorCodeOf(err),
            });
          }
        }
        topics.push({ name: t.name, partitions });
      }
      return { throttleTimeMs: 0, topics };
    },
  };
}
