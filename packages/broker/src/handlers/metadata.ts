/**
 * Metadata 0–12: this broker is the only broker, the controller and every partition's leader
 * and only replica (the object store replicates). Unknown topics are created when auto
 * creation is on and the request allows it (always for v0–3).
 */
import {
  ApiKey,
  ErrorCode,
  type MetadataRequest,
  type MetadataResponse,
  type MetadataResponseMetadataResponseTopic,
  ZERO_UUID,
} from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { errorCodeOf } from '../errors.ts';
import { checkTopicName, type TopicRecord } from '../topics.ts';
import { AUTHORIZED_OPERATIONS_OMITTED, LEADER_EPOCH } from './common.ts';

export function describeTopic(b: Broker, rec: TopicRecord): MetadataResponseMetadataResponseTopic {
  return {
    errorCode: ErrorCode.NONE,
    name: rec.name,
    topicId: rec.id,
    isInternal: rec.name.startsWith('__'),
    partitions: rec.partitions.map((_, i) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: i,
      leaderId: b.brokerId,
      leaderEpoch: LEADER_EPOCH,
      replicaNodes: [b.brokerId],
      isrNodes: [b.brokerId],
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

function missing(
  name: string | null,
  topicId: string,
  errorCode: number,
): MetadataResponseMetadataResponseTopic {
  return {
    errorCode,
    name,
    topicId,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

export function metadataHandler(b: Broker): ApiHandler<MetadataRequest, MetadataResponse> {
  const base = (): Omit<MetadataResponse, 'topics'> => ({
    throttleTimeMs: 0,
    brokers: [{ nodeId: b.brokerId, host: b.advertised.host, port: b.advertised.port, rack: null }],
    clusterId: b.clusterId,
    controllerId: b.brokerId,
    clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  });
  return {
    apiKey: ApiKey.Metadata,
    minVersion: 0,
    maxVersion: 12,
    errorResponse(req, errorCode) {
      return {
        ...base(),
        topics: (req.topics ?? []).map((t) => missing(t.name, t.topicId, errorCode)),
      };
    },
    async handle(req, ctx) {
      const v = ctx.apiVersion;
      // v0: an empty list means all topics; v1+: null means all, empty means none.
      const all = req.topics === null || (v === 0 && req.topics.length === 0);
      if (all) return { ...base(), topics: b.topics.list().map((rec) => describeTopic(b, rec)) };
      const allowCreate = v < 4 || req.allowAutoTopicCreation;
      const topics: MetadataResponseMetadataResponseTopic[] = [];
      for (const t of req.topics ?? []) {
        let name = t.name;
        if (name === null || name === '') {
          if (t.topicId !== ZERO_UUID) name = b.topics.nameOfId(t.topicId) ?? null;
          if (name === null) {
            topics.push(missing(null, t.topicId, ErrorCode.UNKNOWN_TOPIC_ID));
            continue;
          }
        }
        let rec = b.topics.get(name);
        if (rec === undefined) {
          try {
            checkTopicName(name);
            if (allowCreate) rec = await b.autoCreate(name);
          } catch (err) {
            topics.push(missing(name, t.topicId, errorCodeOf(err)));
            continue;
          }
        }
        topics.push(
          rec ? describeTopic(b, rec) : missing(name, t.topicId, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
        );
      }
      return { ...base(), topics };
    },
  };
}
