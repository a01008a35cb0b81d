/**
 * OffsetForLeaderEpoch 2–4. Every partition has had one leader epoch (0) on this broker, so
 * the end offset of epoch 0 (or any later one asked for) is the log end offset.
 */
import {
  ApiKey,
  ErrorCode,
  type OffsetForLeaderEpochRequest,
  type OffsetForLeaderEpochResponse,
} from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { errorCodeOf, KafkaError } from '../errors.ts';
import { checkLeaderEpoch } from './common.ts';

export function offsetForLeaderEpochHandler(
  b: Broker,
): ApiHandler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse> {
  return {
    apiKey: ApiKey.OffsetForLeaderEpoch,
    minVersion: 2,
    maxVersion: 4,
    errorResponse(req, errorCode) {
      return {
        throttleTimeMs: 0,
        topics: req.topics.map((t) => ({
          topic: t.topic,
          partitions: t.partitions.map((p) => ({
            errorCode,
            partition: p.partition,
            leaderEpoch: -1,
            endOffset: -1n,
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
            const p = await b.partition(t.topic, pr.partition);
            if (p === undefined)
              throw new KafkaError(
                ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                `unknown partition ${t.topic}-${pr.partition}`,
              );
            checkLeaderEpoch(pr.currentLeaderEpoch, p.leaderEpoch);
            const known = pr.leaderEpoch >= p.leaderEpoch;
            partitions.push({
              errorCode: ErrorCode.NONE,
              partition: pr.partition,
              leaderEpoch: known ? p.leaderEpoch : -1,
              endOffset: known ? BigInt(p.highWatermark) : -1n,
            });
          } catch (err) {
            partitions.push({
              errorCode: errorCodeOf(err),
              partition: pr.partition,
              leaderEpoch: -1,
              endOffset: -1n,
            });
          }
        }
        topics.push({ topic: t.topic, partitions });
      }
      return { throttleTimeMs: 0, topics };
    },
  };
}
