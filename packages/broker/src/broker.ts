/**
 * The broker: backends (WAL, object store, metadata) → StreamStore → topics and partitions
 * → API handlers → the Kafka wire server. `startBroker(options)` is the in-process API.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ErrorCode } from '@tributary/protocol';
import { KafkaServer, type Logger } from '@tributary/server';
import {
  EmbeddedMetadataStore,
  MemoryMetadataStore,
  type MetadataStore,
  type ObjectStore,
  openObjectStore,
  StreamStore,
} from '@tributary/stream';
import { FaultyObjectStore, parseFaultSpec } from '@tributary/stream/testing';
import { FileWal, MemoryWal, type WriteAheadLog } from '@tributary/wal';
import { KafkaError } from './errors.ts';
import { closeGroupCoordinator, type GroupBrokerOptions, onTopicDeleted } from './groups/index.ts';
import { buildHandlers } from './handlers/index.ts';
import { Partition, type PartitionSettings } from './partition.ts';
import { ProducerIds } from './producer-ids.ts';
import { topicConfigNumber, topicConfigValue } from './topic-config.ts';
import { type TopicRecord, TopicStore } from './topics.ts';

/** Options of {@link startBroker}; every one has a default (see BROKER_DEFAULTS). */
export interface BrokerOptions extends GroupBrokerOptions {
  /** Broker id (node id in Metadata). */
  brokerId?: number;
  /** Listen address. */
  host?: string;
  /** Listen port (0: ephemeral). */
  port?: number;
  /** Host and port clients are told to connect to (default: the listen address). */
  advertisedHost?: string;
  advertisedPort?: number;
  /** Data directory for the file WAL, file objects and embedded metadata. */
  dataDir?: string;
  /** `file://<path>` (default `<dataDir>/wal`) or `memory://`. */
  wal?: string;
  /** Size of a new file WAL in bytes. */
  walBytes?: number;
  /** `file://<dir>` (default `<dataDir>/objects`), `s3://…`, `memory://`. */
  objectStore?: string;
  /**
   * Drills: a fault spec for the object store (seeded latency, 503/429, resets, failures
   * after the write, slow reads; grammar in `faultSpecHelp` of @tributary/stream/testing).
   */
  objectStoreFaults?: string;
  /** `embedded` (default, under `<dataDir>/metadata`) or `memory`. */
  metadata?: string;
  /** Create unknown topics on Metadata/Produce requests (auto.create.topics.enable). */
  autoCreateTopics?: boolean;
  /** Partitions of auto-created topics and of CreateTopics with -1 (num.partitions). */
  numPartitions?: number;
  /** Bytes of unuploaded data held in memory. */
  cacheBytes?: number;
  /** Upload once this many bytes are cached. */
  uploadBytes?: number;
  /** Upload whatever is cached this often. */
  uploadIntervalMs?: number;
  /** Run compaction this often. */
  compactionIntervalMs?: number;
  /** Apply retention.ms / retention.bytes this often (log.retention.check.interval.ms). */
  retentionCheckIntervalMs?: number;
  /** Largest request frame (socket.request.max.bytes). */
  maxFrameBytes?: number;
  /** Cluster id reported in Metadata (default: stored one, or a new random id). */
  clusterId?: string;
  logger?: Logger;
}

/** The defaults: one source of truth (printed by `tributary config --defaults`). */
export const BROKER_DEFAULTS = {
  brokerId: 1,
  host: '127.0.0.1',
  port: 9092,
  dataDir: './data',
  walBytes: 1024 * 1024 * 1024,
  metadata: 'embedded',
  autoCreateTopics: true,
  numPartitions: 1,
  cacheBytes: 256 * 1024 * 1024,
  uploadBytes: 16 * 1024 * 1024,
  uploadIntervalMs: 1000,
  compactionIntervalMs: 60_000,
  retentionCheckIntervalMs: 300_000,
  maxFrameBytes: 100 * 1024 * 1024,
} as const;

/** Largest `records` field of one partition in a produce request (one WAL record). */
export const RECORDS_BYTES_MAX = 64 * 1024 * 1024;

const CLUSTER_ID_KEY = 'kafka/cluster-id';

const silent: Logger = { info() {}, warn() {}, error() {} };

/** A running broker. */
export class Broker {
  readonly brokerId: number;
  readonly clusterId: string;
  readonly autoCreateTopics: boolean;
  readonly numPartitions: number;
  readonly logger: Logger;
  private readonly partitions = new Map<string, Map<number, Promise<Partition>>>();
  private server: KafkaServer | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  private closed = false;
  advertised: { host: string; port: number } = { host: '127.0.0.1', port: 0 };

  private constructor(
    readonly options: BrokerOptions,
    readonly wal: WriteAheadLog,
    readonly objectStore: ObjectStore,
    readonly metadata: MetadataStore,
    readonly streams: StreamStore,
    readonly topics: TopicStore,
    readonly producerIds: ProducerIds,
    clusterId: string,
  ) {
    this.brokerId = options.brokerId ?? BROKER_DEFAULTS.brokerId;
    this.clusterId = clusterId;
    this.autoCreateTopics = options.autoCreateTopics ?? BROKER_DEFAULTS.autoCreateTopics;
    this.numPartitions = options.numPartitions ?? BROKER_DEFAULTS.numPartitions;
    this.logger = options.logger ?? silent;
  }

  /** Opens the backends, recovers the WAL, starts the server. */
  static async start(o: BrokerOptions = {}): Promise<Broker> {
    const logger = o.logger ?? silent;
    const dataDir = resolve(o.dataDir ?? BROKER_DEFAULTS.dataDir);
    const needsDir =
      o.wal === undefined || o.objectStore === undefined || (o.metadata ?? 'embedded') === 'embedded';
    if (needsDir) await mkdir(dataDir, { recursive: true });
    const metadata = await openMetadata(o.metadata ?? BROKER_DEFAULTS.metadata, dataDir);
    const cleanup: (() => Promise<void>)[] = [() => metadata.close()];
    try {
      const plain = openObjectStore(o.objectStore ?? `file://${join(dataDir, 'objects')}`);
      const objectStore =
        o.objectStoreFaults === undefined || o.objectStoreFaults === ''
          ? plain
          : new FaultyObjectStore(plain, parseFaultSpec(o.objectStoreFaults));
      if (objectStore !== plain)
        logger.warn({ faults: o.objectStoreFaults }, 'object store faults injected (drill)');
      cleanup.push(() => objectStore.close());
      const wal = await openWal(
        o.wal ?? `file://${join(dataDir, 'wal')}`,
        o.walBytes ?? BROKER_DEFAULTS.walBytes,
      );
      cleanup.push(() => wal.close());
      const brokerId = o.brokerId ?? BROKER_DEFAULTS.brokerId;
      const streams = await StreamStore.start({
        wal,
        objectStore,
        metadata,
        nodeId: `broker-${brokerId}`,
        cacheBytesMax: o.cacheBytes ?? BROKER_DEFAULTS.cacheBytes,
        batchBytesMax: RECORDS_BYTES_MAX,
        uploadBytesThreshold: o.uploadBytes ?? BROKER_DEFAULTS.uploadBytes,
        uploadIntervalMs: o.uploadIntervalMs ?? BROKER_DEFAULTS.uploadIntervalMs,
        compactionIntervalMs: o.compactionIntervalMs ?? BROKER_DEFAULTS.compactionIntervalMs,
      });
      cleanup.unshift(() => streams.close());
      logger.info({ recovery: streams.recovery }, 'stream store recovered');
      const topics = await TopicStore.load(metadata);
      const clusterId = o.clusterId ?? (await loadClusterId(metadata));
      const broker = new Broker(
        o,
        wal,
        objectStore,
        metadata,
        streams,
        topics,
        new ProducerIds(metadata),
        clusterId,
      );
      const host = o.host ?? BROKER_DEFAULTS.host;
      broker.server = await KafkaServer.start({
        host,
        port: o.port ?? BROKER_DEFAULTS.port,
        handlers: buildHandlers(broker),
        maxFrameBytes: o.maxFrameBytes ?? BROKER_DEFAULTS.maxFrameBytes,
        logger,
      });
      broker.advertised = {
        host: o.advertisedHost ?? broker.server.address.host,
        port: o.advertisedPort ?? broker.server.address.port,
      };
      const every = o.retentionCheckIntervalMs ?? BROKER_DEFAULTS.retentionCheckIntervalMs;
      if (every > 0) {
        broker.retentionTimer = setInterval(() => {
          broker
            .applyRetention()
            .catch((err: unknown) => logger.warn({ err: String(err) }, 'retention check failed'));
        }, every);
        broker.retentionTimer.unref();
      }
      logger.info(
        { host, port: broker.server.address.port, brokerId, clusterId, topics: topics.list().length },
        'broker ready',
      );
      return broker;
    } catch (err) {
      for (const c of cleanup) await c().catch(() => {});
      throw err;
    }
  }

  /** The bound listen address. */
  get address(): { host: string; port: number } {
    if (!this.server) throw new Error('broker not started');
    return this.server.address;
  }

  /** The server's counters. */
  serverStats() {
    return this.server?.stats();
  }

  /**
   * The partition, opening its stream on first use; undefined when the topic or partition
   * does not exist.
   */
  async partition(topic: string, index: number): Promise<Partition | undefined> {
    const rec = this.topics.get(topic);
    if (rec === undefined || index < 0 || index >= rec.partitions.length) return undefined;
    let byIndex = this.partitions.get(topic);
    if (!byIndex) {
      byIndex = new Map();
      this.partitions.set(topic, byIndex);
    }
    let p = byIndex.get(index);
    if (p === undefined) {
      const streamId = rec.partitions[index]!.streamId;
      p = this.streams.open(streamId, 0).then((stream) => {
        const partition = new Partition(topic, index, stream, 0);
        // In the background: only idempotent produce requests wait for it (see produce.ts).
        partition.producerStateReady = partition.loadProducerState().then(
          () => {},
          (err: unknown) => {
            this.logger.warn({ topic, partition: index, err: String(err) }, 'producer state not loaded');
          },
        );
        return partition;
      });
      p.catch(() => byIndex.delete(index));
      byIndex.set(index, p);
    }
    return p;
  }

  /** Produce-path settings of a topic. */
  settings(topic: TopicRecord): PartitionSettings {
    return {
      maxMessageBytes: topicConfigNumber(topic.configs, 'max.message.bytes'),
      logAppendTime: topicConfigValue(topic.configs, 'message.timestamp.type') === 'LogAppendTime',
    };
  }

  /** Creates a topic with the defaults (auto creation); TOPIC_ALREADY_EXISTS races are fine. */
  async autoCreate(name: string): Promise<TopicRecord | undefined> {
    if (!this.autoCreateTopics) return undefined;
    try {
      const rec = await this.topics.create(name, this.numPartitions, {});
      this.logger.info({ topic: name, partitions: this.numPartitions }, 'topic auto-created');
      return rec;
    } catch (err) {
      if (err instanceof KafkaError && err.code === ErrorCode.TOPIC_ALREADY_EXISTS)
        return this.topics.get(name);
      throw err;
    }
  }

  /** Deletes a topic: its record, then its streams (their objects go at the next compaction). */
  async deleteTopic(name: string): Promise<void> {
    const rec = await this.topics.delete(name);
    const open = this.partitions.get(name);
    this.partitions.delete(name);
    if (open)
      for (const p of open.values())
        p.then(
          (x) => x.wakeAll(),
          () => {},
        );
    for (const part of rec.partitions) await this.streams.deleteStream(part.streamId);
    await onTopicDeleted(this, name);
    this.logger.info({ topic: name }, 'topic deleted');
  }

  /** Applies retention.ms / retention.bytes to every open partition. */
  async applyRetention(): Promise<void> {
    for (const [topic, byIndex] of this.partitions) {
      const rec = this.topics.get(topic);
      if (!rec) continue;
      const retentionMs = topicConfigNumber(rec.configs, 'retention.ms');
      const retentionBytes = topicConfigNumber(rec.configs, 'retention.bytes');
      const policy = {
        ...(retentionMs >= 0 && Number.isFinite(retentionMs) ? { retentionMs } : {}),
        ...(retentionBytes >= 0 && Number.isFinite(retentionBytes) ? { retentionBytes } : {}),
      };
      if (Object.keys(policy).length === 0) continue;
      for (const pp of byIndex.values()) {
        const p = await pp.catch(() => undefined);
        if (p) await p.stream.applyRetention(policy);
      }
    }
  }

  /**
   * Stops accepting requests, lets in-flight ones finish, uploads everything cached, closes
   * the backends.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await this.server?.close({ timeoutMs: 10_000 });
    closeGroupCoordinator(this);
    try {
      await this.streams.close();
    } finally {
      await this.wal.close().catch(() => {});
      await this.objectStore.close().catch(() => {});
      await this.metadata.close().catch(() => {});
    }
    this.logger.info({}, 'broker stopped');
  }

  /** Stops everything at once without uploading (for crash tests): the WAL keeps the data. */
  async kill(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    this.streams.halt();
    closeGroupCoordinator(this);
    await this.server?.close({ timeoutMs: 0 });
    await this.wal.close().catch(() => {});
    await this.objectStore.close().catch(() => {});
    await this.metadata.close().catch(() => {});
  }
}

async function openMetadata(spec: string, dataDir: string): Promise<MetadataStore> {
  if (spec === 'memory') return new MemoryMetadataStore();
  if (spec === 'embedded') return EmbeddedMetadataStore.open(join(dataDir, 'metadata'));
  if (spec.startsWith('embedded://'))
    return EmbeddedMetadataStore.open(resolve(spec.slice('embedded://'.length)));
  throw new Error(`unknown metadata store '${spec}' (expected embedded, embedded://<dir> or memory)`);
}

async function openWal(uri: string, sizeBytes: number): Promise<WriteAheadLog> {
  if (uri === 'memory://' || uri === 'memory')
    return new MemoryWal({ capacityBytes: sizeBytes, recordBytesMax: RECORDS_BYTES_MAX + 64 });
  if (uri.startsWith('file://')) {
    const path = resolve(uri.slice('file://'.length));
    await mkdir(join(path, '..'), { recursive: true });
    return FileWal.open({ path, sizeBytes, recordBytesMax: RECORDS_BYTES_MAX + 64 });
  }
  throw new Error(`unknown WAL URI '${uri}' (expected file://<path> or memory://)`);
}

async function loadClusterId(metadata: MetadataStore): Promise<string> {
  const kv = await metadata.get(CLUSTER_ID_KEY);
  if (kv !== undefined) return kv.value.toString('utf8');
  const id = randomBytes(16).toString('base64url');
  const res = await metadata.txn({
    compare: [{ key: CLUSTER_ID_KEY, target: 'exists', op: '==', value: false }],
    success: [{ type: 'put', key: CLUSTER_ID_KEY, value: Buffer.from(id) }],
  });
  if (res.succeeded) return id;
  return (await metadata.get(CLUSTER_ID_KEY))!.value.toString('utf8');
}

/** Starts a broker (see {@link BrokerOptions}; with no options: 127.0.0.1:9092, data in ./data). */
export function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  return Broker.start(options);
}
