/**
 * Helpers shared by the object store backends: key validation, range resolution, body
 * handling, key ordering and abort checks. Internal to the object-store folder.
 */
import { ObjectStoreError } from './types.ts';

/** Longest key accepted, in UTF-8 bytes (the S3 limit). */
export const KEY_BYTES_MAX = 1024;

/** Default and largest page size of `list`. */
export const LIST_KEYS_MAX = 1000;

/**
 * Checks a key against the rules every backend enforces, so that a key valid on one backend
 * is valid on all: non-empty, at most 1024 UTF-8 bytes, no NUL, `/`-separated segments that
 * are neither empty nor `.` / `..` (so no leading, trailing or doubled `/`).
 * Throws ObjectStoreError('invalid').
 */
export function validateKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) {
    throw new ObjectStoreError('invalid', 'invalid key: empty');
  }
  if (Buffer.byteLength(key, 'utf8') > KEY_BYTES_MAX) {
    throw new ObjectStoreError('invalid', `invalid key: longer than ${KEY_BYTES_MAX} bytes`);
  }
  if (key.includes('\0')) {
    throw new ObjectStoreError('invalid', 'invalid key: contains NUL');
  }
  for (const segment of key.split('/')) {
    if (segment === '') {
      throw new ObjectStoreError(
        'invalid',
        `invalid key ${JSON.stringify(key)}: empty segment (leading, trailing or doubled '/')`,
      );
    }
    if (segment === '.' || segment === '..') {
      throw new ObjectStoreError('invalid', `invalid key ${JSON.stringify(key)}: '${segment}' segment`);
    }
  }
}

/** Checks a list prefix: may be empty; otherwise at most 1024 bytes and no NUL. */
export function validatePrefix(prefix: string): void {
  if (Buffer.byteLength(prefix, 'utf8') > KEY_BYTES_MAX || prefix.includes('\0')) {
    throw new ObjectStoreError('invalid', 'invalid list prefix');
  }
}

/** Resolves `maxKeys` to 1..1000; anything else is 'invalid'. */
export function resolveMaxKeys(maxKeys: number | undefined): number {
  if (maxKeys === undefined) return LIST_KEYS_MAX;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) {
    throw new ObjectStoreError('invalid', `invalid maxKeys ${maxKeys}: must be a positive integer`);
  }
  return Math.min(maxKeys, LIST_KEYS_MAX);
}

/** Validates the raw range arguments (before the object size is known). */
export function validateRange(start: number | undefined, end: number | undefined): void {
  if (start !== undefined && (!Number.isSafeInteger(start) || start < 0)) {
    throw new ObjectStoreError('invalid', `invalid range start ${start}`);
  }
  if (end !== undefined && (!Number.isSafeInteger(end) || end < 0)) {
    throw new ObjectStoreError('invalid', `invalid range end ${end}`);
  }
  if (start !== undefined && end !== undefined && end < start) {
    throw new ObjectStoreError('invalid', `invalid range [${start}, ${end}): end before start`);
  }
}

/**
 * Resolves a range against the object size: end is clamped to the size; a start past the
 * size is 'invalid' (a start equal to the size gives an empty range).
 */
export function resolveRange(
  key: string,
  size: number,
  start: number | undefined,
  end: number | undefined,
): { start: number; end: number } {
  validateRange(start, end);
  const s = start ?? 0;
  if (s > size) {
    throw new ObjectStoreError('invalid', `range start ${s} is past the end of ${key} (${size} bytes)`);
  }
  const e = Math.min(end ?? size, size);
  return { start: s, end: Math.max(s, e) };
}

/** The body as a list of buffers and its total size. */
export function bodyParts(body: Buffer | readonly Buffer[]): { parts: readonly Buffer[]; size: number } {
  const parts = Buffer.isBuffer(body) ? [body] : body;
  let size = 0;
  for (const part of parts) {
    if (!Buffer.isBuffer(part)) throw new ObjectStoreError('invalid', 'body parts must be Buffers');
    size += part.length;
  }
  return { parts, size };
}

/** Compares keys in S3 order (UTF-8 bytes), which differs from JS string order above U+FFFF. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Throws ObjectStoreError('aborted') when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new ObjectStoreError('aborted', `${what} aborted`, signal.reason);
}

/** Wraps anything thrown into an ObjectStoreError (kept as is when it already is one). */
export function asObjectStoreError(err: unknown, context: string): ObjectStoreError {
  if (err instanceof ObjectStoreError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ObjectStoreError('fatal', `${context}: ${message}`, err);
}

/** Runs `fn` over `items` with at most `concurrency` calls in flight, in order of start. */
export async function forEachBounded<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index] as T, index);
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < Math.min(concurrency, items.length); i++) workers.push(worker());
  await Promise.all(workers);
}
