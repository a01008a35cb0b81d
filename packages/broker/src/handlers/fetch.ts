/**
 * Fetch 4–12, sessionless (session id 0): long poll until minBytes are available or maxWaitMs
 * passes, woken by appends; per-partition and per-request byte limits (the first batch is
 * returned whole even when larger, so consumers always progress). read_committed reads up to
 * the last stable offset, which equals the high watermark until transactions exist.
 */
import {
  ApiKey,
  defaultFetchResponseEpochEndOffset,
  defaultFetchResponseLeaderIdAndEpoch,
  defaultFetchResponseSnapshotId,
  ErrorCode,
  type FetchRequest,
  type FetchResponse,
  type FetchResponsePartitionData,
} from '@tributary/protocol';
import type { ApiHandler, RequestContext } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { errorCodeOf, KafkaError } from '../errors.ts';
import type { Partition, ReadResult } from '../partition.ts';
import { checkLeaderEpoch, EMPTY_RECORDS } from './common.ts';

/** Longest wait honoured (Kafka caps nothing; this keeps a stuck client from pinning a handler). */
const MAX_WAIT_CAP_MS = 60_000;

function partitionData(
  partitionIndex: number,
  errorCode: number,
  readCommitted: boolean,
): FetchResponsePartitionData {
  return {
    partitionIndex,
    errorCode,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    divergingEpoch: defaultFetchResponseEpochEndOffset(),
    currentLeader: defaultFetchResponseLeaderIdAndEpoch(),
    snapshotId: defaultFetchResponseSnapshotId(),
    abortedTransactions: readCommitted ? [] : null,
    preferredReadReplica: -1,
    records: EMPTY_RECORDS,
  };
}

export function fetchHandler(b: Broker): ApiHandler<FetchRequest, FetchResponse> {
  return {
    apiKey: ApiKey.Fetch,
    minVersion: 4,
    maxVersion: 12,
    errorResponse(req, errorCode) {
      return {
        throttleTimeMs: 0,
        errorCode,
        sessionId: 0,
        responses: req.topics.map((t) => ({
          topic: t.topic,
          topicId: t.topicId,
          partitions: t.partitions.map((p) =>
            partitionData(p.partition, errorCode, req.isolationLevel === 1),
          ),
        })),
        nodeEndpoints: [],
      };
    },
    async handle(req, ctx) {
      const readCommitted = req.isolationLevel === 1;
      if (req.replicaId >= 0 || (req.replicaState?.replicaId ?? -1) >= 0) {
        // Follower fetches: there are no replicas; the object store replicates.
        return this.errorResponse(req, ErrorCode.NOT_LEADER_OR_FOLLOWER, ctx.apiVersion);
      }
      if (req.sessionId !== 0) {
        const r = this.errorResponse(req, ErrorCode.NONE, ctx.apiVersion);
        return { ...r, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, responses: [] };
      }
      const deadline = Date.now() + Math.min(Math.max(0, req.maxWaitMs), MAX_WAIT_CAP_MS);
      const targets = req.topics.map((t) => ({
        topic: t.topic,
        topicId: t.topicId,
        partitions: t.partitions.map((p) => ({
          req: p,
          partition: b.partition(topicName(b, t.topic), p.partition).catch(() => undefined),
        })),
      }));
      const readerBase = `${ctx.connectionId}`;
      for (;;) {
        const { response, bytes, partitions } = await readAll(req, targets, readCommitted, readerBase);
        const now = Date.now();
        if (
          bytes >= Math.max(1, req.minBytes) ||
          now >= deadline ||
          ctx.signal.aborted ||
          partitions.length === 0
        ) {
          return response;
        }
        await waitForAppend(partitions, deadline - now, ctx);
      }
    },
  };
}

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The topic a Fetch names. @platformatic/kafka 1.35 writes the topic id, as UUID text, into
 * the v12 name field: a name that is no topic but is a known topic id in that form is
 * taken as that topic (the response echoes the name as sent, which is what it expects).
 */
function topicName(b: Broker, name: string): string {
  if (b.topics.get(name) !== undefined || !UUID_TEXT.test(name)) return name;
  const id = Buffer.from(name.replace(/-/g, ''), 'hex').toString('base64url');
  return b.topics.nameOfId(id) ?? name;
}

type Target = {
  topic: string;
  topicId: string;
  partitions: {
    req: FetchRequest['topics'][number]['partitions'][number];
    partition: Promise<Partition | undefined>;
  }[];
};

async function readAll(
  req: FetchRequest,
  targets: Target[],
  readCommitted: boolean,
  readerBase: string,
): Promise<{ response: FetchResponse; bytes: number; partitions: Partition[] }> {
  let total = 0;
  const live: Partition[] = [];
  const responses = [];
  // When every partition's limit fits the request's, all reads start at once (object reads
  // overlap instead of queueing partition after partition); otherwise they go in order and
  // each gets what is left of maxBytes.
  const all = targets.flatMap((t) => t.partitions);
  const concurrent = all.reduce((n, x) => n + Math.max(0, x.req.partitionMaxBytes), 0) <= req.maxBytes;
  const early = new Map<object, Promise<ReadResult>>();
  if (concurrent) {
    for (const x of all) {
      const pr = x.req;
      early.set(
        x,
        x.partition.then((p) => {
          if (p === undefined) return { records: null, bytes: 0 };
          checkLeaderEpoch(pr.currentLeaderEpoch, p.leaderEpoch);
          return p.read(
            Number(pr.fetchOffset),
            Math.max(1, pr.partitionMaxBytes),
            `${readerBase}/${pr.partition}`,
          );
        }),
      );
    }
    for (const r of early.values()) r.catch(() => {});
  }
  for (const t of targets) {
    const partitions: FetchResponsePartitionData[] = [];
    for (const x of t.partitions) {
      const { req: pr, partition } = x;
      const p = await partition;
      if (p === undefined) {
        partitions.push(partitionData(pr.partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, readCommitted));
        continue;
      }
      const out = partitionData(pr.partition, ErrorCode.NONE, readCommitted);
      try {
        checkLeaderEpoch(pr.currentLeaderEpoch, p.leaderEpoch);
        const offset = Number(pr.fetchOffset);
        const room = req.maxBytes - total;
        const started = early.get(x);
        if (started !== undefined || room > 0 || total === 0) {
          const limit = Math.max(1, Math.min(pr.partitionMaxBytes, room > 0 ? room : pr.partitionMaxBytes));
          const r = await (started ?? p.read(offset, limit, `${readerBase}/${pr.partition}`));
          if (r.records !== null) {
            out.records = r.records;
            total += r.bytes;
          }
        } else if (offset < p.logStartOffset || offset > p.highWatermark) {
          throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${offset} out of range`);
        }
        live.push(p);
      } catch (err) {
        out.errorCode = errorCodeOf(err);
      }
      out.highWatermark = BigInt(p.highWatermark);
      out.lastStableOffset = BigInt(p.highWatermark);
      out.logStartOffset = BigInt(p.logStartOffset);
      partitions.push(out);
    }
    responses.push({ topic: t.topic, topicId: t.topicId, partitions });
  }
  return {
    response: { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses, nodeEndpoints: [] },
    bytes: total,
    partitions: live,
  };
}

function waitForAppend(partitions: Partition[], ms: number, ctx: RequestContext): Promise<void> {
  return new Promise((resolve) => {
    const removers: (() => void)[] = [];
    const done = () => {
      clearTimeout(timer);
      for (const r of removers) r();
      ctx.signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const p of partitions) removers.push(p.onAppend(done));
    ctx.signal.addEventListener('abort', done, { once: true });
  });
}
