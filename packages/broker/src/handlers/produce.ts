/** Produce (versions 3–11 served; 0–2 advertised and answered UNSUPPORTED_VERSION, as Kafka 4 does). */
import {
  ApiKey,
  defaultProduceResponseLeaderIdAndEpoch,
  ErrorCode,
  type ProduceRequest,
  type ProduceResponse,
  type ProduceResponsePartitionProduceResponse,
} from '@tributary/protocol';
import { type ApiHandler, NO_RESPONSE } from '@tributary/server';
import { type Broker, RECORDS_BYTES_MAX } from '../broker.ts';
import { errorCodeOf, KafkaError, messageOf } from '../errors.ts';
import { OFFSETS_TOPIC } from '../groups/log.ts';
import type { AppendResult, Partition } from '../partition.ts';

function partitionResponse(
  index: number,
  errorCode: number,
  errorMessage: string | null = null,
): ProduceResponsePartitionProduceResponse {
  return {
    index,
    errorCode,
    baseOffset: -1n,
    logAppendTimeMs: -1n,
    logStartOffset: -1n,
    recordErrors: [],
    errorMessage,
    currentLeader: defaultProduceResponseLeaderIdAndEpoch(),
  };
}

/** True when the first batch of `records` carries a producer id (an idempotent producer). */
function hasProducerId(records: Buffer | null): boolean {
  return records !== null && records.length >= 61 && records.readBigInt64BE(43) >= 0n;
}

export function produceHandler(b: Broker): ApiHandler<ProduceRequest, ProduceResponse> {
  /** Serialises the offset-assignment phase of requests in arrival order. */
  let gate: Promise<unknown> = Promise.resolve();
  return {
    apiKey: ApiKey.Produce,
    minVersion: 0,
    maxVersion: 11,
    servedMinVersion: 3,
    errorResponse(req, errorCode) {
      return {
        responses: req.topicData.map((t) => ({
          name: t.name,
          partitionResponses: t.partitionData.map((p) => partitionResponse(p.index, errorCode)),
        })),
        throttleTimeMs: 0,
        nodeEndpoints: [],
      };
    },
    async handle(req, ctx) {
      const acksOk = req.acks === -1 || req.acks === 0 || req.acks === 1;
      const now = Date.now();
      type Slot = {
        index: number;
        records: Buffer | null;
        partition: Promise<Partition | undefined> | undefined;
        error?: KafkaError;
        result?: Promise<AppendResult>;
      };
      const topics = req.topicData.map((t) => {
        const rec = b.topics.get(t.name);
        const slots: Slot[] = t.partitionData.map((p) => {
          let error: KafkaError | undefined;
          if (!acksOk)
            error = new KafkaError(
              ErrorCode.INVALID_REQUIRED_ACKS,
              `acks must be -1, 0 or 1, got ${req.acks}`,
            );
          else if (rec === undefined || p.index < 0 || p.index >= rec.partitions.length) {
            error = new KafkaError(
              ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              `unknown partition ${t.name}-${p.index}`,
            );
          } else if (t.name === OFFSETS_TOPIC) {
            // Only the group coordinator writes it (its compaction relies on that), as in Kafka.
            error = new KafkaError(
              ErrorCode.INVALID_TOPIC_EXCEPTION,
              `Cannot append to internal topic ${OFFSETS_TOPIC}`,
            );
          } else if (p.records !== null && p.records.length > RECORDS_BYTES_MAX) {
            error = new KafkaError(
              ErrorCode.RECORD_LIST_TOO_LARGE,
              `${p.records.length} bytes of records for one partition exceed ${RECORDS_BYTES_MAX}`,
            );
          }
          return {
            index: p.index,
            records: p.records,
            partition: error === undefined ? b.partition(t.name, p.index) : undefined,
            ...(error ? { error } : {}),
          };
        });
        return { name: t.name, rec, slots };
      });
      const opened = Promise.all(
        topics.flatMap((t) => t.slots.map((s) => s.partition?.catch(() => undefined))),
      );
      // Partitions receiving idempotent batches wait for their producer state (rebuilt in the
      // background when a partition opens); others go ahead.
      const idempotent = topics.flatMap((t) => t.slots.map((sl) => hasProducerId(sl.records)));
      const turn = gate
        .then(() => opened)
        .then(async (ps) => {
          await Promise.all(
            ps.map((p, j) => (p !== undefined && idempotent[j] ? p.producerStateReady : undefined)),
          );
          return ps;
        });
      gate = turn.catch(() => {});
      const parts = await turn;
      // From here to the end of the loop nothing awaits: appends are issued in request order.
      let i = 0;
      for (const t of topics) {
        const settings = t.rec ? b.settings(t.rec) : undefined;
        for (const s of t.slots) {
          const p = s.partition === undefined ? undefined : parts[i];
          i++;
          if (s.error || settings === undefined) continue;
          if (p === undefined) {
            s.error = new KafkaError(
              ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              `unknown partition ${t.name}-${s.index}`,
            );
            continue;
          }
          s.result = p.append(s.records, settings, now);
          s.result.catch(() => {});
        }
      }
      if (req.acks === 0) {
        // No response; like Kafka, any failure closes the connection so the producer notices.
        const slots = topics.flatMap((t) => t.slots);
        const early = slots.find((s) => s.error);
        if (early?.error) ctx.close(`acks=0 produce failed: ${early.error.message}`);
        else {
          Promise.allSettled(slots.map((s) => s.result)).then((rs) => {
            const bad = rs.find((r) => r.status === 'rejected');
            if (bad) ctx.close(`acks=0 produce failed: ${messageOf((bad as PromiseRejectedResult).reason)}`);
          });
        }
        return NO_RESPONSE;
      }
      const responses = [];
      for (const t of topics) {
        const partitionResponses: ProduceResponsePartitionProduceResponse[] = [];
        for (const s of t.slots) {
          if (s.error) {
            partitionResponses.push(partitionResponse(s.index, s.error.code, s.error.message));
            continue;
          }
          try {
            const r = await s.result!;
            const p = await b.partition(t.name, s.index);
            partitionResponses.push({
              ...partitionResponse(s.index, ErrorCode.NONE),
              baseOffset: BigInt(r.baseOffset),
              logAppendTimeMs: BigInt(r.logAppendTimeMs),
              logStartOffset: BigInt(p?.logStartOffset ?? 0),
            });
          } catch (err) {
            const code = errorCodeOf(err);
            if (!(err instanceof KafkaError))
              b.logger.error({ err: messageOf(err), topic: t.name, partition: s.index }, 'append failed');
            partitionResponses.push(partitionResponse(s.index, code, messageOf(err)));
          }
        }
        responses.push({ name: t.name, partitionResponses });
      }
      return { responses, throttleTimeMs: 0, nodeEndpoints: [] };
    },
  };
}
