/** Maps AWS SDK / network errors to {@link ObjectStoreError} kinds. */
import { ObjectStoreError, type ObjectStoreErrorKind } from './types.ts';

interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const RETRIABLE_NAMES = new Set([
  'SlowDown',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'ConditionalRequestConflict',
]);

const RETRIABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
]);

/** The kind of an S3 error code as found in DeleteObjects results or error names. */
export function kindOfS3Code(name: string, status?: number): ObjectStoreErrorKind {
  if (name === 'AbortError') return 'aborted';
  if (name === 'NoSuchBucket') return 'fatal';
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return 'not-found';
  if (name === 'PreconditionFailed' || status === 412) return 'precondition-failed';
  if (name === 'InvalidRange' || status === 416) return 'invalid';
  if (
    RETRIABLE_NAMES.has(name) ||
    status === 429 ||
    status === 409 ||
    (status !== undefined && status >= 500)
  ) {
    return 'retriable';
  }
  return 'fatal';
}

/** Converts anything the SDK throws into an ObjectStoreError. */
export function mapS3Error(err: unknown, context: string): ObjectStoreError {
  if (err instanceof ObjectStoreError) return err;
  const e = (err ?? {}) as SdkErrorShape;
  const name = e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  const code = e.code ?? (e as { cause?: { code?: string } }).cause?.code;
  let kind = kindOfS3Code(name, status);
  if (kind === 'fatal' && code !== undefined && RETRIABLE_CODES.has(code)) kind = 'retriable';
  if (kind === 'fatal' && /socket hang up|timed? ?out/i.test(e.message ?? '')) kind = 'retriable';
  const detail = [name, status !== undefined ? `HTTP ${status}` : undefined, code, e.message]
    .filter((x) => x !== undefined && x !== '')
    .join(', ');
  return new ObjectStoreError(kind, `${context}: ${detail || String(err)}`, err);
}
