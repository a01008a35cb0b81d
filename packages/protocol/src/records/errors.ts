import { ProtocolError, type ProtocolErrorKind } from '../primitives/errors.ts';

/**
 * The Kafka error a record-batch failure maps to:
 * - CORRUPT_MESSAGE (2): checksum mismatch, bad lengths, unknown magic, undecodable compression.
 * - INVALID_RECORD (87): the batch is intact but breaks a rule (record count, malformed records,
 *   a control batch from a client).
 * - UNSUPPORTED_FOR_MESSAGE_FORMAT (43): magic 0 or 1 (message sets v0/v1).
 * - UNSUPPORTED_COMPRESSION_TYPE (76): a compression id this broker cannot decode.
 */
export type RecordErrorCode =
  | 'CORRUPT_MESSAGE'
  | 'INVALID_RECORD'
  | 'UNSUPPORTED_FOR_MESSAGE_FORMAT'
  | 'UNSUPPORTED_COMPRESSION_TYPE';

const KIND: Record<RecordErrorCode, ProtocolErrorKind> = {
  CORRUPT_MESSAGE: 'corrupt',
  INVALID_RECORD: 'invalid',
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 'unsupported',
  UNSUPPORTED_COMPRESSION_TYPE: 'unsupported',
};

/** A ProtocolError raised by record-batch validation or decoding, with its Kafka error code. */
export class RecordBatchError extends ProtocolError {
  readonly code: RecordErrorCode;

  constructor(code: RecordErrorCode, message: string) {
    super(message, KIND[code]);
    this.code = code;
  }
}

/**
 * The Kafka error code for any error thrown while validating or decoding records: the code of a
 * RecordBatchError; CORRUPT_MESSAGE for any other ProtocolError (truncation, bad compressed
 * data), except an unavailable codec (UNSUPPORTED_COMPRESSION_TYPE); undefined otherwise.
 */
export function recordErrorCode(err: unknown): RecordErrorCode | undefined {
  if (err instanceof RecordBatchError) return err.code;
  if (err instanceof ProtocolError) {
    return err.kind === 'unsupported' ? 'UNSUPPORTED_COMPRESSION_TYPE' : 'CORRUPT_MESSAGE';
  }
  return undefined;
}
