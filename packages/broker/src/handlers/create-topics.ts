/** CreateTopics 2–7. Replication factor must be 1 or -1 (one broker; the object store replicates). */
import {
  ApiKey,
  type CreateTopicsRequest,
  type CreateTopicsResponse,
  type CreateTopicsResponseCreatableTopicResult,
  ErrorCode,
  ZERO_UUID,
} from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { errorCodeOf, KafkaError, messageOf } from '../errors.ts';
import { describeTopicConfigs } from './describe-configs.ts';

function result(
  name: string,
  errorCode: number,
  errorMessage: string | null = null,
): CreateTopicsResponseCreatableTopicResult {
  return {
    name,
    topicId: ZERO_UUID,
    errorCode,
    errorMessage,
    topicConfigErrorCode: 0,
    numPartitions: -1,
    replicationFactor: -1,
    configs: null,
  };
}

export function createTopicsHandler(b: Broker): ApiHandler<CreateTopicsRequest, CreateTopicsResponse> {
  return {
    apiKey: ApiKey.CreateTopics,
    minVersion: 2,
    maxVersion: 7,
    errorResponse(req, errorCode) {
      return { throttleTimeMs: 0, topics: req.topics.map((t) => result(t.name, errorCode)) };
    },
    async handle(req, ctx) {
      const counts = new Map<string, number>();
      for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
      const topics: CreateTopicsResponseCreatableTopicResult[] = [];
      for (const t of req.topics) {
        if ((counts.get(t.name) ?? 0) > 1) {
          topics.push(
            result(
              t.name,
              ErrorCode.INVALID_REQUEST,
              `topic '${t.name}' appears more than once in the request`,
            ),
          );
          continue;
        }
        try {
          let partitions = t.numPartitions;
          if (t.assignments.length > 0) {
            if (partitions !== -1 || t.replicationFactor !== -1) {
              throw new KafkaError(
                ErrorCode.INVALID_REQUEST,
                'give either assignments or numPartitions/replicationFactor',
              );
            }
            for (const a of t.assignments) {
              if (a.brokerIds.length !== 1 || a.brokerIds[0] !== b.brokerId) {
                throw new KafkaError(
                  ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                  `partition ${a.partitionIndex}: replicas must be [${b.brokerId}] (the only broker)`,
                );
              }
            }
            partitions = t.assignments.length;
          }
          if (partitions === -1) partitions = b.numPartitions;
          if (t.replicationFactor !== -1 && t.replicationFactor !== 1) {
            throw new KafkaError(
              ErrorCode.INVALID_REPLICATION_FACTOR,
              `replication factor ${t.replicationFactor} is larger than the 1 available broker (data is replicated by the object store)`,
            );
          }
          const configs: Record<string, string> = {};
          for (const c of t.configs) {
            if (c.value === null)
              throw new KafkaError(ErrorCode.INVALID_CONFIG, `null value for config ${c.name}`);
            configs[c.name] = c.value;
          }
          const rec = await b.topics.create(t.name, partitions, configs, req.validateOnly);
          if (!req.validateOnly) b.logger.info({ topic: t.name, partitions }, 'topic created');
          topics.push({
            ...result(t.name, ErrorCode.NONE),
            topicId: req.validateOnly ? ZERO_UUID : rec.id,
            numPartitions: partitions,
            replicationFactor: 1,
            configs:
              ctx.apiVersion >= 5
                ? describeTopicConfigs(rec.configs, null, false).map((c) => ({
                    name: c.name,
                    value: c.value,
                    readOnly: c.readOnly,
                    configSource: c.configSource,
                    isSensitive: c.isSensitive,
                  }))
                : null,
          });
        } catch (err) {
          topics.push(result(t.name, errorCodeOf(err), messageOf(err)));
        }
      }
      return { throttleTimeMs: 0, topics };
    },
  };
}
