/**
 * The broker's group coordinator: one per broker, on the `__consumer_offsets` log, with its
 * options from the broker's options (Kafka's names in the comments).
 */
import type { Broker } from '../broker.ts';
import { SERVER_ASSIGNORS } from './assignors.ts';
import { CONSUMER_PROTOCOL_DEFAULTS } from './consumer-protocol.ts';
import { GROUP_DEFAULTS, GroupCoordinator } from './coordinator.ts';
import { OFFSETS_TOPIC, TopicGroupLog } from './log.ts';

/** Broker options of the group coordinator (BrokerOptions extends this). */
export interface GroupBrokerOptions {
  /** group.initial.rebalance.delay.ms (default 3000). */
  groupInitialRebalanceDelayMs?: number;
  /** group.min.session.timeout.ms (default 6000). */
  groupMinSessionTimeoutMs?: number;
  /** group.max.session.timeout.ms (default 1800000). */
  groupMaxSessionTimeoutMs?: number;
  /** group.max.size (default 1000). */
  groupMaxSize?: number;
  /** Groups per broker (default 100000). */
  groupsMax?: number;
  /** offsets.retention.minutes (default 10080 = 7 days). */
  offsetsRetentionMinutes?: number;
  /** offsets.retention.check.interval.ms (default 600000). */
  offsetsRetentionCheckIntervalMs?: number;
  /** offset.metadata.max.bytes (default 4096). */
  offsetMetadataMaxBytes?: number;
  /** offsets.topic.num.partitions (default 50; fixed once the topic exists). */
  offsetsTopicPartitions?: number;
  /** Compaction of a __consumer_offsets partition starts after this many bytes appended (default 16 MiB). */
  offsetsCompactMinBytes?: number;
  /** group.consumer.session.timeout.ms: KIP-848 members (default 45000). */
  groupConsumerSessionTimeoutMs?: number;
  /** group.consumer.heartbeat.interval.ms: KIP-848 members (default 5000). */
  groupConsumerHeartbeatIntervalMs?: number;
  /** group.consumer.max.size (default 1000). */
  groupConsumerMaxSize?: number;
  /** group.consumer.assignors: server-side assignors, the first is the default (default uniform,range). */
  groupConsumerAssignors?: string[];
}

export const GROUP_BROKER_DEFAULTS = {
  groupInitialRebalanceDelayMs: GROUP_DEFAULTS.initialRebalanceDelayMs,
  groupMinSessionTimeoutMs: GROUP_DEFAULTS.minSessionTimeoutMs,
  groupMaxSessionTimeoutMs: GROUP_DEFAULTS.maxSessionTimeoutMs,
  groupMaxSize: GROUP_DEFAULTS.maxGroupSize,
  groupsMax: GROUP_DEFAULTS.maxGroups,
  offsetsRetentionMinutes: GROUP_DEFAULTS.offsetsRetentionMs / 60_000,
  offsetsRetentionCheckIntervalMs: GROUP_DEFAULTS.offsetsRetentionCheckIntervalMs,
  offsetMetadataMaxBytes: GROUP_DEFAULTS.offsetMetadataMaxBytes,
  offsetsTopicPartitions: 50,
  offsetsCompactMinBytes: GROUP_DEFAULTS.logCompactMinBytes,
  groupConsumerSessionTimeoutMs: CONSUMER_PROTOCOL_DEFAULTS.sessionTimeoutMs,
  groupConsumerHeartbeatIntervalMs: CONSUMER_PROTOCOL_DEFAULTS.heartbeatIntervalMs,
  groupConsumerMaxSize: CONSUMER_PROTOCOL_DEFAULTS.maxGroupSize,
  groupConsumerAssignors: CONSUMER_PROTOCOL_DEFAULTS.assignors,
} as const;

const coordinators = new WeakMap<Broker, GroupCoordinator>();

/** The broker's coordinator (created on first use). */
export function groupCoordinator(b: Broker): GroupCoordinator {
  let c = coordinators.get(b);
  if (!c) {
    const o = b.options as GroupBrokerOptions;
    for (const a of o.groupConsumerAssignors ?? [])
      if (!SERVER_ASSIGNORS.has(a))
        throw new Error(`unknown server-side assignor '${a}' (${[...SERVER_ASSIGNORS.keys()].join(', ')})`);
    const existing = b.topics.get(OFFSETS_TOPIC)?.partitions.length;
    const log = new TopicGroupLog(
      b,
      existing ?? o.offsetsTopicPartitions ?? GROUP_BROKER_DEFAULTS.offsetsTopicPartitions,
    );
    c = new GroupCoordinator(log, {
      initialRebalanceDelayMs: o.groupInitialRebalanceDelayMs,
      minSessionTimeoutMs: o.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: o.groupMaxSessionTimeoutMs,
      maxGroupSize: o.groupMaxSize,
      maxGroups: o.groupsMax,
      offsetMetadataMaxBytes: o.offsetMetadataMaxBytes,
      ...(o.offsetsRetentionMinutes === undefined
        ? {}
        : { offsetsRetentionMs: o.offsetsRetentionMinutes * 60_000 }),
      offsetsRetentionCheckIntervalMs: o.offsetsRetentionCheckIntervalMs,
      logExists: () => b.topics.get(OFFSETS_TOPIC) !== undefined,
      logCompactMinBytes: o.offsetsCompactMinBytes,
      consumer: {
        sessionTimeoutMs: o.groupConsumerSessionTimeoutMs ?? CONSUMER_PROTOCOL_DEFAULTS.sessionTimeoutMs,
        heartbeatIntervalMs:
          o.groupConsumerHeartbeatIntervalMs ?? CONSUMER_PROTOCOL_DEFAULTS.heartbeatIntervalMs,
        maxGroupSize: o.groupConsumerMaxSize ?? CONSUMER_PROTOCOL_DEFAULTS.maxGroupSize,
        maxGroups: o.groupsMax ?? GROUP_DEFAULTS.maxGroups,
        assignors: o.groupConsumerAssignors ?? CONSUMER_PROTOCOL_DEFAULTS.assignors,
        metadataRefreshMs: CONSUMER_PROTOCOL_DEFAULTS.metadataRefreshMs,
      },
      topics: {
        byName: (name) => {
          const t = b.topics.get(name);
          return t ? { id: t.id, partitions: t.partitions.length } : undefined;
        },
        nameOfId: (id) => b.topics.nameOfId(id),
        names: () => b.topics.list().map((t) => t.name),
      },
      logger: b.logger,
    });
    coordinators.set(b, c);
  }
  return c;
}

/** Stops the broker's coordinator (timers, waiting requests); called by Broker.close/kill. */
export function closeGroupCoordinator(b: Broker): void {
  coordinators.get(b)?.close();
  coordinators.delete(b);
}

/** Broker.deleteTopic calls this: committed offsets of the topic go (never fails the deletion). */
export async function onTopicDeleted(b: Broker, topic: string): Promise<void> {
  if (topic === OFFSETS_TOPIC) return;
  try {
    await groupCoordinator(b).deleteTopicOffsets(topic);
  } catch (err) {
    b.logger.warn({ topic, err: String(err) }, 'removing committed offsets of a deleted topic failed');
  }
}

export { GroupCoordinator } from './coordinator.ts';
