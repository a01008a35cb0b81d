/** AlterConfigs 0–2: replaces a topic's config overrides with the given set. Broker configs are static. */
import { type AlterConfigsRequest, type AlterConfigsResponse, ApiKey, ErrorCode } from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { errorCodeOf, messageOf } from '../errors.ts';
import { ResourceType } from './common.ts';

export function alterConfigsHandler(b: Broker): ApiHandler<AlterConfigsRequest, AlterConfigsResponse> {
  return {
    apiKey: ApiKey.AlterConfigs,
    minVersion: 0,
    maxVersion: 2,
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
        if (r.resourceType !== ResourceType.TOPIC) {
          responses.push({
            ...base,
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage: 'only topic configs can be altered (broker configs are set at start)',
          });
          continue;
        }
        try {
          const configs: Record<string, string> = {};
          for (const c of r.configs) if (c.value !== null) configs[c.name] = c.value;
          await b.topics.setConfigs(r.resourceName, configs, req.validateOnly);
          responses.push({ ...base, errorCode: ErrorCode.NONE, errorMessage: null });
        } catch (err) {
          responses.push({ ...base, errorCode: errorCodeOf(err), errorMessage: messageOf(err) });
        }
      }
      return { throttleTimeMs: 0, responses };
    },
  };
}
