/** DeleteTopics 1–6 (by name; by topic id from v6). */
import {
  ApiKey,
  type DeleteTopicsRequest,
  type DeleteTopicsResponse,
  type DeleteTopicsResponseDeletableTopicResult,
  ErrorCode,
  ZERO_UUID,
} from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { errorCodeOf, messageOf } from '../errors.ts';

function targets(req: DeleteTopicsRequest, version: number): { name: string | null; topicId: string }[] {
  return version >= 6
    ? req.topics.map((t) => ({ name: t.name, topicId: t.topicId }))
    : req.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
}

export function deleteTopicsHandler(b: Broker): ApiHandler<DeleteTopicsRequest, DeleteTopicsResponse> {
  return {
    apiKey: ApiKey.DeleteTopics,
    minVersion: 1,
    maxVersion: 6,
    errorResponse(req, errorCode, version) {
      return {
        throttleTimeMs: 0,
        responses: targets(req, version).map((t) => ({
          name: t.name,
          topicId: t.topicId,
          errorCode,
          errorMessage: null,
        })),
      };
    },
    async handle(req, ctx) {
      const responses: DeleteTopicsResponseDeletableTopicResult[] = [];
      for (const t of targets(req, ctx.apiVersion)) {
        let name = t.name;
        if (name === null || name === '') {
          name = t.topicId === ZERO_UUID ? null : (b.topics.nameOfId(t.topicId) ?? null);
          if (name === null) {
            responses.push({
              name: null,
              topicId: t.topicId,
              errorCode: ErrorCode.UNKNOWN_TOPIC_ID,
              errorMessage: 'unknown topic id',
            });
            continue;
          }
        }
        const topicId = b.topics.get(name)?.id ?? t.topicId;
        try {
          await b.deleteTopic(name);
          responses.push({ name, topicId, errorCode: ErrorCode.NONE, errorMessage: null });
        } catch (err) {
          responses.push({ name, topicId, errorCode: errorCodeOf(err), errorMessage: messageOf(err) });
        }
      }
      return { throttleTimeMs: 0, responses };
    },
  };
}
