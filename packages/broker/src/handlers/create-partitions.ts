/** CreatePartitions 0–3. */
import {
  ApiKey,
  type CreatePartitionsRequest,
  type CreatePartitionsResponse,
  ErrorCode,
} from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { errorCodeOf, KafkaError, messageOf } from '../errors.ts';

export function createPartitionsHandler(
  b: Broker,
): ApiHandler<CreatePartitionsRequest, CreatePartitionsResponse> {
  return {
    apiKey: ApiKey.CreatePartitions,
    minVersion: 0,
    maxVersion: 3,
    errorResponse(req, errorCode) {
      return {
        throttleTimeMs: 0,
        results: req.topics.map((t) => ({ name: t.name, errorCode, errorMessage: null })),
      };
    },
    async handle(req) {
      const results = [];
      for (const t of req.topics) {
        try {
          for (const a of t.assignments ?? []) {
            if (a.brokerIds.length !== 1 || a.brokerIds[0] !== b.brokerId) {
              throw new KafkaError(
                ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                `replicas must be [${b.brokerId}] (the only broker)`,
              );
            }
          }
          const rec = b.topics.get(t.name);
          if (rec && t.assignments && t.assignments.length !== t.count - rec.partitions.length) {
            throw new KafkaError(
              ErrorCode.INVALID_REPLICA_ASSIGNMENT,
              'one assignment per new partition is required',
            );
          }
          await b.topics.addPartitions(t.name, t.count, req.validateOnly);
          results.push({ name: t.name, errorCode: ErrorCode.NONE, errorMessage: null });
        } catch (err) {
          results.push({ name: t.name, errorCode: errorCodeOf(err), errorMessage: messageOf(err) });
        }
      }
      return { throttleTimeMs: 0, results };
    },
  };
}
