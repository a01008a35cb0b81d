/**
 * Errors of the stream layer.
 */

/** The stream is owned by a newer epoch (another opener took it over); this handle is dead. */
export class FencedError extends Error {
  override readonly name = 'FencedError';
  readonly streamId: number;

  constructor(streamId: number, message: string) {
    super(message);
    this.streamId = streamId;
  }
}

/** The store cannot go on (its uploader or WAL failed, or it was closed). */
export class StreamStoreError extends Error {
  override readonly name = 'StreamStoreError';
  override readonly cause?: unknown;

  constructor(message: string, cause?: unknown) {
    super(message);
    this.cause = cause;
  }
}
