/** IncrementalAlterConfigs 0–1: SET (0), DELETE (1), APPEND (2) and SUBTRACT (3) on topic configs. */
import {
  ApiKey,
  ErrorCode,
  type IncrementalAlterConfigsRequest,
  type IncrementalAlterConfigsResponse,
} from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { errorCodeOf, KafkaError, messageOf } from '../errors.ts';
import { ConfigType, TOPIC_CONFIGS, topicConfigValue } from '../topic-config.ts';
import { ResourceType } from './common.ts';

export function incrementalAlterConfigsHandler(
  b: Broker,
): ApiHandler<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse> {
  return {
    apiKey: ApiKey.IncrementalAlterConfigs,
    minVersion: 0,
    maxVersion: 1,
    errorResponse(req, errorCode) {
      return {
        throttleTimeMs: 0,
        responses: req.resources.map((r) => ({
          errorCode,
          errorMessage: null,
          resourceType: r.resourceType,
          resourceName: r.resourceName,
        })),
      };
    },
    async handle(req) {
      const responses = [];
      for (const r of req.resources) {
        const base = { resourceType: r.resourceType, resourceName: r.resourceName };
        try {
          if (r.resourceType !== ResourceType.TOPIC) {
            throw new KafkaError(
              ErrorCode.INVALID_REQUEST,
              'only topic configs can be altered (broker configs are set at start)',
            );
          }
          const rec = b.topics.get(r.resourceName);
          if (rec === undefined)
            throw new KafkaError(
              ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              `topic '${r.resourceName}' does not exist`,
            );
          const next: Record<string, string> = { ...rec.configs };
          for (const c of r.configs) {
            const def = TOPIC_CONFIGS.get(c.name);
            if (def === undefined)
              throw new KafkaError(ErrorCode.INVALID_CONFIG, `unknown topic config '${c.name}'`);
            switch (c.configOperation) {
              case 0:
                if (c.value === null)
                  throw new KafkaError(ErrorCode.INVALID_CONFIG, `null value for ${c.name}`);
                next[c.name] = c.value;
                break;
              case 1:
                delete next[c.name];
                break;
              case 2:
              case 3: {
                if (def.type !== ConfigType.LIST) {
                  throw new KafkaError(
                    ErrorCode.INVALID_CONFIG,
                    `${c.name} is not a list: APPEND/SUBTRACT do not apply`,
                  );
                }
                const items = topicConfigValue(next, c.name)
                  .split(',')
                  .map((s) => s.trim())
                  .filter((s) => s !== '');
                const given = (c.value ?? '')
                  .split(',')
                  .map((s) => s.trim())
                  .filter((s) => s !== '');
                const result =
                  c.configOperation === 2
                    ? [...items, ...given.filter((g) => !items.includes(g))]
                    : items.filter((i) => !given.includes(i));
                next[c.name] = result.join(',');
                break;
              }
              default:
                throw new KafkaError(
                  ErrorCode.INVALID_REQUEST,
                  `unknown config operation ${c.configOperation}`,
                );
            }
          }
          await b.topics.setConfigs(r.resourceName, next, req.validateOnly);
          responses.push({ ...base, errorCode: ErrorCode.NONE, errorMessage: null });
        } catch (err) {
          responses.push({ ...base, errorCode: errorCodeOf(err), errorMessage: messageOf(err) });
        }
      }
      return { throttleTimeMs: 0, responses };
    },
  };
}
