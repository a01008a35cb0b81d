/**
 * The one error type that decoding untrusted bytes may raise.
 *
 * Every malformed, truncated or hostile input to a decoder in this package ends in a
 * `ProtocolError`; a `RangeError`, `TypeError` or an unbounded allocation escaping a decoder
 * is a bug. `kind` lets callers map the failure to a Kafka error code or a connection close.
 */
export type ProtocolErrorKind =
  /** The frame or field is shorter than its declared length, or a length is out of bounds. */
  | 'truncated'
  /** A value is outside what the format allows (bad varint, negative length, bad magic). */
  | 'invalid'
  /** A record batch checksum does not match (Kafka: CORRUPT_MESSAGE). */
  | 'corrupt'
  /** A version, format or codec this implementation does not handle. */
  | 'unsupported'
  /** An encoder was asked to write a value the chosen version cannot carry. */
  | 'unencodable';

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly kind: ProtocolErrorKind;

  constructor(message: string, kind: ProtocolErrorKind = 'invalid') {
    super(message);
    this.kind = kind;
  }
}

/** Builds the error raised when fewer than `needed` bytes remain at `offset`. */
export function truncated(what: string, needed: number, offset: number, end: number): ProtocolError {
  return new ProtocolError(
    `truncated ${what}: need ${needed} byte(s) at offset ${offset}, ${Math.max(0, end - offset)} left`,
    'truncated',
  );
}
