/**
 * A Kafka error with its code, raised inside the broker and turned into the error code of
 * the response field it concerns.
 */
import { ErrorCode } from '@tributary/protocol';

export class KafkaError extends Error {
  override name = 'KafkaError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The Kafka error code for any error (UNKNOWN_SERVER_ERROR for unexpected ones). */
export function errorCodeOf(err: unknown): number {
  if (err instanceof KafkaError) return err.code;
  if (err instanceof RangeError) return ErrorCode.OFFSET_OUT_OF_RANGE;
  const name = err instanceof Error ? err.name : '';
  // The stream layer's errors, by name (the broker does not depend on their classes' identity).
  if (name === 'StreamStoreError') return ErrorCode.KAFKA_STORAGE_ERROR;
  if (name === 'FencedError') return ErrorCode.NOT_LEADER_OR_FOLLOWER;
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}

/** A short message for any error. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
