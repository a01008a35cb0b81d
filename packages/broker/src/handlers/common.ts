/** Helpers shared by the API handlers. */
import { ErrorCode } from '@tributary/protocol';
import { KafkaError } from '../errors.ts';

/** The only leader epoch of a partition on a single broker (streams are opened at epoch 0). */
export const LEADER_EPOCH = 0;

/** Checks a request's currentLeaderEpoch (-1: no check): FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH. */
export function checkLeaderEpoch(current: number, leaderEpoch: number): void {
  if (current < 0 || current === leaderEpoch) return;
  if (current < leaderEpoch) {
    throw new KafkaError(
      ErrorCode.FENCED_LEADER_EPOCH,
      `leader epoch ${current} is older than ${leaderEpoch}`,
    );
  }
  throw new KafkaError(
    ErrorCode.UNKNOWN_LEADER_EPOCH,
    `leader epoch ${current} is newer than ${leaderEpoch}`,
  );
}

/** Kafka's "not requested" value of authorized-operations fields. */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

export const EMPTY_RECORDS = Buffer.alloc(0);

/** Config sources of DescribeConfigs. */
export const ConfigSource = {
  UNKNOWN: 0,
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const;

/** Resource types of the config APIs. */
export const ResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8 } as const;
