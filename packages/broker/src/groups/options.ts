/**
 * The group coordinator's settings (Kafka's names in the comments) and their defaults; every
 * part of the coordinator reads them from the one object the {@link GroupCoordinator} holds.
 */
import type { ConsumerProtocolOptions, TopicView } from './consumer-protocol.ts';

/** Where the coordinator logs. */
export interface GroupLogger {
  warn(o: object, msg?: string): void;
  info(o: object, msg?: string): void;
}

export interface GroupCoordinatorOptions {
  /** group.initial.rebalance.delay.ms: how long a new group waits for more members. */
  initialRebalanceDelayMs: number;
  /** group.min.session.timeout.ms / group.max.session.timeout.ms. */
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  /** group.max.size: members (and pending members) per group. */
  maxGroupSize: number;
  /** Groups per broker (memory bound); a join that would create one more gets COORDINATOR_NOT_AVAILABLE. */
  maxGroups: number;
  /** offset.metadata.max.bytes. */
  offsetMetadataMaxBytes: number;
  /** How long a new member may wait in its first JoinGroup before it is dropped (Kafka: 5 minutes). */
  newMemberJoinTimeoutMs: number;
  /**
   * Log compaction of a group log partition starts once this many bytes were appended since the
   * last one, and at least as many as that compaction kept (so the log stays under about twice
   * its live size plus this).
   */
  logCompactMinBytes: number;
  /** Bytes of one member's protocol metadata (all protocols) and of one assignment. */
  memberMetadataMaxBytes: number;
  /** offsets.retention.minutes, in ms: offsets of a group that stays empty this long expire. */
  offsetsRetentionMs: number;
  /** offsets.retention.check.interval.ms (0: no periodic check). */
  offsetsRetentionCheckIntervalMs: number;
  /** False while the log does not exist yet (listings then need not create and load it). */
  logExists: () => boolean;
  /** The KIP-848 protocol's settings (group.consumer.*). */
  consumer: ConsumerProtocolOptions;
  /** The topics (for KIP-848 subscriptions and server-side assignment). */
  topics: TopicView;
  logger: GroupLogger;
}

export const GROUP_DEFAULTS = {
  initialRebalanceDelayMs: 3000,
  minSessionTimeoutMs: 6000,
  maxSessionTimeoutMs: 1_800_000,
  maxGroupSize: 1000,
  maxGroups: 100_000,
  offsetMetadataMaxBytes: 4096,
  newMemberJoinTimeoutMs: 300_000,
  logCompactMinBytes: 16 << 20,
  memberMetadataMaxBytes: 1 << 20,
  offsetsRetentionMs: 7 * 24 * 60 * 60 * 1000,
  offsetsRetentionCheckIntervalMs: 600_000,
} as const;
