/** DescribeConfigs 1–4: topic configs (overrides and defaults) and this broker's static configs. */
import {
  ApiKey,
  type DescribeConfigsRequest,
  type DescribeConfigsResponse,
  type DescribeConfigsResponseDescribeConfigsResourceResult,
  ErrorCode,
} from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { ConfigType, TOPIC_CONFIGS } from '../topic-config.ts';
import { ConfigSource, ResourceType } from './common.ts';

type Described = DescribeConfigsResponseDescribeConfigsResourceResult;

/** Every topic config (or those in `keys`) with its value and source. */
export function describeTopicConfigs(
  overrides: Readonly<Record<string, string>>,
  keys: readonly string[] | null,
  includeDocumentation: boolean,
): Described[] {
  const out: Described[] = [];
  for (const [name, def] of TOPIC_CONFIGS) {
    if (keys !== null && keys.length > 0 && !keys.includes(name)) continue;
    const override = overrides[name];
    out.push({
      name,
      value: override ?? def.default,
      readOnly: false,
      isDefault: override === undefined,
      configSource: override === undefined ? ConfigSource.DEFAULT_CONFIG : ConfigSource.DYNAMIC_TOPIC_CONFIG,
      isSensitive: false,
      synonyms: [],
      configType: def.type,
      documentation: includeDocumentation ? def.doc || null : null,
    });
  }
  return out;
}

/** This broker's configs as DescribeConfigs reports them (read-only: set at start). */
export function brokerConfigs(b: Broker): [string, string, number][] {
  return [
    ['broker.id', String(b.brokerId), ConfigType.INT],
    ['node.id', String(b.brokerId), ConfigType.INT],
    ['auto.create.topics.enable', String(b.autoCreateTopics), ConfigType.BOOLEAN],
    ['num.partitions', String(b.numPartitions), ConfigType.INT],
    ['default.replication.factor', '1', ConfigType.SHORT],
    ['min.insync.replicas', '1', ConfigType.INT],
    ['offsets.topic.replication.factor', '1', ConfigType.SHORT],
    ['transaction.state.log.replication.factor', '1', ConfigType.SHORT],
    ['message.max.bytes', TOPIC_CONFIGS.get('max.message.bytes')!.default, ConfigType.INT],
    ['log.retention.ms', TOPIC_CONFIGS.get('retention.ms')!.default, ConfigType.LONG],
    ['log.retention.bytes', TOPIC_CONFIGS.get('retention.bytes')!.default, ConfigType.LONG],
    ['log.message.timestamp.type', 'CreateTime', ConfigType.STRING],
    ['log.cleanup.policy', 'delete', ConfigType.LIST],
    ['delete.topic.enable', 'true', ConfigType.BOOLEAN],
  ];
}

export function describeConfigsHandler(
  b: Broker,
): ApiHandler<DescribeConfigsRequest, DescribeConfigsResponse> {
  return {
    apiKey: ApiKey.DescribeConfigs,
    minVersion: 1,
    maxVersion: 4,
    errorResponse(req, errorCode) {
      return {
        throttleTimeMs: 0,
        results: req.resources.map((r) => ({
          errorCode,
          errorMessage: null,
          resourceType: r.resourceType,
          resourceName: r.resourceName,
          configs: [],
        })),
      };
    },
    handle(req) {
      const results = req.resources.map((r) => {
        const base = { errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName };
        if (r.resourceType === ResourceType.TOPIC) {
          const rec = b.topics.get(r.resourceName);
          if (rec === undefined) {
            return {
              ...base,
              errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              errorMessage: `topic '${r.resourceName}' does not exist`,
              configs: [],
            };
          }
          return {
            ...base,
            errorCode: ErrorCode.NONE,
            configs: describeTopicConfigs(rec.configs, r.configurationKeys, req.includeDocumentation),
          };
        }
        if (r.resourceType === ResourceType.BROKER) {
          if (r.resourceName !== '' && r.resourceName !== String(b.brokerId)) {
            return {
              ...base,
              errorCode: ErrorCode.INVALID_REQUEST,
              errorMessage: `unexpected broker id ${r.resourceName}`,
              configs: [],
            };
          }
          const configs: Described[] = brokerConfigs(b)
            .filter(
              ([name]) =>
                r.configurationKeys === null ||
                r.configurationKeys.length === 0 ||
                r.configurationKeys.includes(name),
            )
            .map(([name, value, configType]) => ({
              name,
              value,
              readOnly: true,
              isDefault: false,
              configSource: ConfigSource.STATIC_BROKER_CONFIG,
              isSensitive: false,
              synonyms: [],
              configType,
              documentation: null,
            }));
          return { ...base, errorCode: ErrorCode.NONE, configs };
        }
        return {
          ...base,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: `unsupported resource type ${r.resourceType}`,
          configs: [],
        };
      });
      return { throttleTimeMs: 0, results };
    },
  };
}
