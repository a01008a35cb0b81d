/**
 * ListOffsets 1–7: latest (-1, the high watermark = LSO), earliest (-2), max timestamp (-3,
 * v7+), and by timestamp (the first record at or after it, via the committed ranges' newest
 * timestamps and the batch headers).
 */
import {
  ApiKey,
  ErrorCode,
  type ListOffsetsRequest,
  type ListOffsetsResponse,
  type ListOffsetsResponseListOffsetsPartitionResponse,
} from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { errorCodeOf, KafkaError } from '../errors.ts';
import { checkLeaderEpoch } from './common.ts';

const LATEST = -1n;
const EARLIEST = -2n;
const MAX_TIMESTAMP = -3n;
const EARLIEST_LOCAL = -4n;

function answer(
  partitionIndex: number,
  errorCode: number,
  offset = -1,
  timestamp = -1,
  leaderEpoch = -1,
): ListOffsetsResponseListOffsetsPartitionResponse {
  return {
    partitionIndex,
    errorCode,
    oldStyleOffsets: [],
    timestamp: BigInt(timestamp),
    offset: BigInt(offset),
    leaderEpoch,
  };
}

export function listOffsetsHandler(b: Broker): ApiHandler<ListOffsetsRequest, ListOffsetsResponse> {
  return {
    apiKey: ApiKey.ListOffsets,
    minVersion: 1,
    maxVersion: 7,
    errorResponse(req, errorCode) {
      return {
        throttleTimeMs: 0,
        topics: req.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => answer(p.partitionIndex, errorCode)),
        })),
      };
    },
    async handle(req, ctx) {
      const topics = [];
      for (const t of req.topics) {
        const partitions = [];
        for (const pr of t.partitions) {
          try {
            const p = await b.partition(t.name, pr.partitionIndex);
            if (p === undefined) {
              throw new KafkaError(
                ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                `unknown partition ${t.name}-${pr.partitionIndex}`,
              );
            }
            checkLeaderEpoch(pr.currentLeaderEpoch, p.leaderEpoch);
            const ts = pr.timestamp;
            if (ts === LATEST)
              partitions.push(answer(pr.partitionIndex, 0, p.highWatermark, -1, p.leaderEpoch));
            else if (ts === EARLIEST || ts === EARLIEST_LOCAL) {
              partitions.push(answer(pr.partitionIndex, 0, p.logStartOffset, -1, p.leaderEpoch));
            } else if (ts === MAX_TIMESTAMP) {
              if (ctx.apiVersion < 7)
                throw new KafkaError(ErrorCode.UNSUPPORTED_VERSION, 'max timestamp needs ListOffsets v7');
              const hit = await p.maxTimestampOffset();
              partitions.push(
                hit
                  ? answer(pr.partitionIndex, 0, hit.offset, hit.timestamp, p.leaderEpoch)
                  : answer(pr.partitionIndex, 0),
              );
            } else if (ts < 0n) {
              throw new KafkaError(ErrorCode.INVALID_REQUEST, `unknown special timestamp ${ts}`);
            } else {
              const hit = await p.offsetForTimestamp(Number(ts));
              partitions.push(
                hit
                  ? answer(pr.partitionIndex, 0, hit.offset, hit.timestamp, p.leaderEpoch)
                  : answer(pr.partitionIndex, 0),
              );
            }
          } catch (err) {
            partitions.push(answer(pr.partitionIndex, errorCodeOf(err)));
          }
        }
        topics.push({ name: t.name, partitions });
      }
      return { throttleTimeMs: 0, topics };
    },
  };
}
