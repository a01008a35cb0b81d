/**
 * The fake single-node broker behind the capture listener: it answers just enough of the
 * Kafka protocol, through the generated codecs, for real clients to run their admin,
 * produce and consume paths. It is itself the only broker, the controller, the coordinator
 * and the leader of every partition. Record batches are stored as sent (offsets rewritten)
 * so consumers get the produced records back.
 */
import type {
  ApiVersionsResponse,
  CreateTopicsRequest,
  CreateTopicsResponse,
  DeleteTopicsRequest,
  DeleteTopicsResponse,
  DescribeClusterResponse,
  FetchRequest,
  FetchResponse,
  FetchResponsePartitionData,
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  ListOffsetsRequest,
  ListOffsetsResponse,
  MetadataRequest,
  MetadataResponse,
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochResponse,
  ProduceRequest,
  ProduceResponse,
  ProduceResponsePartitionProduceResponse,
} from '../../../packages/protocol/src/generated/index.ts';
import {
  defaultFetchResponseEpochEndOffset,
  defaultFetchResponseLeaderIdAndEpoch,
  defaultFetchResponseSnapshotId,
  defaultProduceResponseLeaderIdAndEpoch,
  ZERO_UUID,
} from '../../../packages/protocol/src/generated/index.ts';
import { AUTO_PARTITIONS } from '../scenarios.ts';
import type { CapturedFrame } from './listener.ts';
import { ADVERTISED_RANGES, apiName, decodeRequest, encodeResponse } from './protocol.ts';

const NODE_ID = 1;
const CLUSTER_ID = 'golden-capture-cluster';
const UNSUPPORTED_VERSION = 35;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
const TOPIC_ALREADY_EXISTS = 36;
const INVALID_REQUEST = 42;
/** Bytes kept per partition; the recorder's record sets are a few KiB. */
const PARTITION_BYTES_MAX = 16 * 1024 * 1024;

interface PartitionLog {
  batches: { baseOffset: bigint; lastOffset: bigint; bytes: Buffer }[];
  nextOffset: bigint;
  bytes: number;
}

interface Topic {
  name: string;
  id: string;
  partitions: PartitionLog[];
}

/** Builds a non-zero topic id (base64url of 16 bytes) from a counter. */
function topicId(n: number): string {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(0x60_1d_e0_00, 0);
  b.writeUInt32BE(n, 12);
  return b.toString('base64url');
}

/** Splits a records blob into RecordBatch v2 slices (baseOffset i64, batchLength i32, ...). */
function splitBatches(records: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos + 12 <= records.length) {
    const len = records.readInt32BE(pos + 8);
    const end = pos + 12 + len;
    if (len < 49 || end > records.length) throw new Error(`bad batch length ${len} at ${pos}`);
    out.push(records.subarray(pos, end));
    pos = end;
  }
  if (pos !== records.length) throw new Error(`trailing ${records.length - pos} bytes after record batches`);
  return out;
}

/** In-memory state and request handling of the fake broker. */
export class FakeBroker {
  private readonly topics = new Map<string, Topic>();
  private port = 0;
  private producerIds = 1000n;
  private topicCounter = 0;

  /** Sets the port advertised in Metadata and FindCoordinator. */
  setPort(port: number): void {
    this.port = port;
  }

  /** The Kafka name of an api key (e.g. "Produce"). */
  apiName(apiKey: number): string {
    return apiName(apiKey);
  }

  /** Answers one request frame; null when no response is due (acks=0). */
  handle(frame: CapturedFrame): Buffer[] | null {
    const { apiKey, apiVersion, correlationId } = frame;
    if (apiKey === 18) return this.apiVersions(frame);
    const range = ADVERTISED_RANGES.get(apiKey);
    if (range === undefined || apiVersion < range[0] || apiVersion > range[1]) {
      throw new Error(`client sent ${apiName(apiKey)} v${apiVersion}, outside the advertised range`);
    }
    const { body } = decodeRequest(frame.bytes);
    const response = this.dispatch(apiKey, apiVersion, body);
    if (response === null) return null;
    return encodeResponse(apiKey, apiVersion, correlationId, response);
  }

  private dispatch(apiKey: number, v: number, body: unknown): object | null {
    switch (apiKey) {
      case 0:
        return this.produce(v, body as ProduceRequest);
      case 1:
        return this.fetch(v, body as FetchRequest);
      case 2:
        return this.listOffsets(v, body as ListOffsetsRequest);
      case 3:
        return this.metadata(v, body as MetadataRequest);
      case 10:
        return this.findCoordinator(v, body as FindCoordinatorRequest);
      case 19:
        return this.createTopics(v, body as CreateTopicsRequest);
      case 20:
        return this.deleteTopics(v, body as DeleteTopicsRequest);
      case 22:
        return { throttleTimeMs: 0, errorCode: 0, producerId: this.producerIds++, producerEpoch: 0 };
      case 23:
        return this.offsetForLeaderEpoch(body as OffsetForLeaderEpochRequest);
      case 60:
        return this.describeCluster();
      default:
        throw new Error(`capture broker does not answer ${apiName(apiKey)} v${v}`);
    }
  }

  private apiVersions(frame: CapturedFrame): Buffer[] {
    const apiKeys = [...ADVERTISED_RANGES].map(([apiKey, [minVersion, maxVersion]]) => ({
      apiKey,
      minVersion,
      maxVersion,
    }));
    const body: ApiVersionsResponse = {
      errorCode: 0,
      apiKeys,
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1n,
      finalizedFeatures: [],
      zkMigrationReady: false,
    };
    const [min, max] = ADVERTISED_RANGES.get(18)!;
    if (frame.apiVersion < min || frame.apiVersion > max) {
      return encodeResponse(18, 0, frame.correlationId, { ...body, errorCode: UNSUPPORTED_VERSION });
    }
    return encodeResponse(18, frame.apiVersion, frame.correlationId, body);
  }

  private ensureTopic(name: string, partitions: number): Topic {
    let t = this.topics.get(name);
    if (t === undefined) {
      t = { name, id: topicId(++this.topicCounter), partitions: [] };
      for (let i = 0; i < partitions; i++) t.partitions.push({ batches: [], nextOffset: 0n, bytes: 0 });
      this.topics.set(name, t);
    }
    return t;
  }

  private byId(id: string): Topic | undefined {
    for (const t of this.topics.values()) if (t.id === id) return t;
    return undefined;
  }

  private metadata(v: number, b: MetadataRequest): MetadataResponse {
    let names: string[];
    if (b.topics === null || (v === 0 && b.topics.length === 0)) names = [...this.topics.keys()];
    else names = b.topics.map((t) => t.name ?? this.byId(t.topicId)?.name ?? '');
    const topics = names.map((name) => {
      const t = this.ensureTopic(name, AUTO_PARTITIONS);
      return {
        errorCode: 0,
        name,
        topicId: v >= 10 ? t.id : ZERO_UUID,
        isInternal: false,
        partitions: t.partitions.map((_, i) => ({
          errorCode: 0,
          partitionIndex: i,
          leaderId: NODE_ID,
          leaderEpoch: v >= 7 ? 0 : -1,
          replicaNodes: [NODE_ID],
          isrNodes: [NODE_ID],
          offlineReplicas: [],
        })),
        topicAuthorizedOperations: -2147483648,
      };
    });
    return {
      throttleTimeMs: 0,
      brokers: [{ nodeId: NODE_ID, host: '127.0.0.1', port: this.port, rack: null }],
      clusterId: v >= 2 ? CLUSTER_ID : null,
      controllerId: v >= 1 ? NODE_ID : -1,
      topics,
      clusterAuthorizedOperations: -2147483648,
    };
  }

  private produce(v: number, b: ProduceRequest): ProduceResponse | null {
    const responses = b.topicData.map((td) => ({
      name: td.name,
      partitionResponses: td.partitionData.map((pd) =>
        this.appendPartition(v, td.name, pd.index, pd.records),
      ),
    }));
    if (b.acks === 0) return null;
    return { responses, throttleTimeMs: 0, nodeEndpoints: [] };
  }

  private appendPartition(
    v: number,
    topic: string,
    index: number,
    records: Buffer | null,
  ): ProduceResponsePartitionProduceResponse {
    const result = (errorCode: number, baseOffset = -1n): ProduceResponsePartitionProduceResponse => ({
      index,
      errorCode,
      baseOffset,
      logAppendTimeMs: -1n,
      logStartOffset: v >= 5 ? 0n : -1n,
      recordErrors: [],
      errorMessage: null,
      currentLeader: defaultProduceResponseLeaderIdAndEpoch(),
    });
    if (v < 3) return result(UNSUPPORTED_VERSION);
    const log = this.topics.get(topic)?.partitions[index];
    if (log === undefined) return result(UNKNOWN_TOPIC_OR_PARTITION);
    if (records === null) return result(INVALID_REQUEST);
    const first = log.nextOffset;
    for (const batch of splitBatches(records)) {
      if (log.bytes + batch.length > PARTITION_BYTES_MAX) throw new Error('capture partition full');
      const copy = Buffer.from(batch);
      copy.writeBigInt64BE(log.nextOffset, 0);
      const lastOffset = log.nextOffset + BigInt(copy.readInt32BE(23));
      log.batches.push({ baseOffset: log.nextOffset, lastOffset, bytes: copy });
      log.nextOffset = lastOffset + 1n;
      log.bytes += copy.length;
    }
    return result(0, first);
  }

  private fetch(v: number, b: FetchRequest): FetchResponse {
    const responses = b.topics.map((ft) => {
      const t = v >= 13 ? this.byId(ft.topicId) : this.topics.get(ft.topic);
      return {
        topic: ft.topic,
        topicId: ft.topicId,
        partitions: ft.partitions.map((fp): FetchResponsePartitionData => {
          const log = t?.partitions[fp.partition];
          const part = (
            errorCode: number,
            hw: bigint,
            records: Buffer | null,
          ): FetchResponsePartitionData => ({
            partitionIndex: fp.partition,
            errorCode,
            highWatermark: hw,
            lastStableOffset: hw,
            logStartOffset: v >= 5 ? 0n : -1n,
            divergingEpoch: defaultFetchResponseEpochEndOffset(),
            currentLeader: defaultFetchResponseLeaderIdAndEpoch(),
            snapshotId: defaultFetchResponseSnapshotId(),
            abortedTransactions: [],
            preferredReadReplica: -1,
            records,
          });
          if (log === undefined) return part(UNKNOWN_TOPIC_OR_PARTITION, -1n, null);
          const chosen: Buffer[] = [];
          let size = 0;
          for (const batch of log.batches) {
            if (batch.lastOffset < fp.fetchOffset) continue;
            if (chosen.length > 0 && size + batch.bytes.length > fp.partitionMaxBytes) break;
            chosen.push(batch.bytes);
            size += batch.bytes.length;
          }
          return part(0, log.nextOffset, Buffer.concat(chosen));
        }),
      };
    });
    return { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses, nodeEndpoints: [] };
  }

  private listOffsets(v: number, b: ListOffsetsRequest): ListOffsetsResponse {
    const topics = b.topics.map((lt) => {
      const t = this.topics.get(lt.name);
      return {
        name: lt.name,
        partitions: lt.partitions.map((lp) => {
          const log = t?.partitions[lp.partitionIndex];
          const offset = log === undefined ? -1n : lp.timestamp === -1n ? log.nextOffset : 0n;
          return {
            partitionIndex: lp.partitionIndex,
            errorCode: log === undefined ? UNKNOWN_TOPIC_OR_PARTITION : 0,
            oldStyleOffsets: v === 0 ? [offset] : [],
            timestamp: -1n,
            offset: v >= 1 ? offset : -1n,
            leaderEpoch: v >= 4 ? 0 : -1,
          };
        }),
      };
    });
    return { throttleTimeMs: 0, topics };
  }

  private offsetForLeaderEpoch(b: OffsetForLeaderEpochRequest): OffsetForLeaderEpochResponse {
    return {
      throttleTimeMs: 0,
      topics: b.topics.map((ot) => ({
        topic: ot.topic,
        partitions: ot.partitions.map((op) => {
          const log = this.topics.get(ot.topic)?.partitions[op.partition];
          return {
            errorCode: log === undefined ? UNKNOWN_TOPIC_OR_PARTITION : 0,
            partition: op.partition,
            leaderEpoch: 0,
            endOffset: log?.nextOffset ?? -1n,
          };
        }),
      })),
    };
  }

  private describeCluster(): DescribeClusterResponse {
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      errorMessage: null,
      endpointType: 1,
      clusterId: CLUSTER_ID,
      controllerId: NODE_ID,
      brokers: [{ brokerId: NODE_ID, host: '127.0.0.1', port: this.port, rack: null }],
      clusterAuthorizedOperations: -2147483648,
    };
  }

  private findCoordinator(v: number, b: FindCoordinatorRequest): FindCoordinatorResponse {
    const host = '127.0.0.1';
    const old = v < 4;
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      errorMessage: null,
      nodeId: old ? NODE_ID : 0,
      host: old ? host : '',
      port: old ? this.port : 0,
      coordinators: old
        ? []
        : b.coordinatorKeys.map((key) => ({
            key,
            nodeId: NODE_ID,
            host,
            port: this.port,
            errorCode: 0,
            errorMessage: null,
          })),
    };
  }

  private createTopics(v: number, b: CreateTopicsRequest): CreateTopicsResponse {
    const topics = b.topics.map((ct) => {
      const existing = this.topics.get(ct.name);
      const n = ct.numPartitions > 0 ? ct.numPartitions : AUTO_PARTITIONS;
      const t = existing ?? (b.validateOnly ? undefined : this.ensureTopic(ct.name, n));
      return {
        name: ct.name,
        topicId: v >= 7 ? (t?.id ?? ZERO_UUID) : ZERO_UUID,
        errorCode: existing !== undefined ? TOPIC_ALREADY_EXISTS : 0,
        errorMessage: existing !== undefined ? `topic ${ct.name} already exists` : null,
        topicConfigErrorCode: 0,
        numPartitions: v >= 5 ? (t?.partitions.length ?? n) : -1,
        replicationFactor: v >= 5 ? 1 : -1,
        configs: v >= 5 ? [] : null,
      };
    });
    return { throttleTimeMs: 0, topics };
  }

  private deleteTopics(v: number, b: DeleteTopicsRequest): DeleteTopicsResponse {
    const wanted = v >= 6 ? b.topics : b.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
    const responses = wanted.map((w) => {
      const t = w.name !== null ? this.topics.get(w.name) : this.byId(w.topicId);
      if (t !== undefined) this.topics.delete(t.name);
      return {
        name: t?.name ?? w.name,
        topicId: v >= 6 ? (t?.id ?? w.topicId) : ZERO_UUID,
        errorCode: t === undefined ? UNKNOWN_TOPIC_OR_PARTITION : 0,
        errorMessage: null,
      };
    });
    return { throttleTimeMs: 0, responses };
  }
}
