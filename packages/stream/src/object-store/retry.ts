/**
 * The retry layer above every backend: retries only ObjectStoreError('retriable'), with
 * exponential backoff and full jitter, a bounded number of attempts, and an optional
 * per-attempt timeout (a timed-out attempt is retriable). Randomness and sleeping are
 * injectable so tests are deterministic.
 *
 * A conditional put retried after a lost response may report 'precondition-failed' for an
 * object that its own first attempt wrote; callers that care compare the stored content.
 */
import { asObjectStoreError } from './common.ts';
import {
  type GetOptions,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  type ObjectStore,
  ObjectStoreError,
  type PutOptions,
} from './types.ts';

/** Options of {@link withRetries}. */
export interface RetryOptions {
  /** Attempts in total, the first included; default 5. */
  attemptsMax?: number;
  /** Backoff cap of the first retry; doubles each retry; default 100 ms. */
  baseDelayMs?: number;
  /** Largest backoff cap; default 5 000 ms. */
  maxDelayMs?: number;
  /** Per-attempt timeout; default none. */
  timeoutMs?: number;
  /** Uniform in [0, 1); default Math.random. */
  random?: () => number;
  /** Waits `ms`; default a setTimeout promise. */
  sleep?: (ms: number) => Promise<void>;
  /** Called before each backoff sleep (for logs and metrics). */
  onRetry?: (event: { operation: string; attempt: number; delayMs: number; error: ObjectStoreError }) => void;
}

/**
 * The full-jitter delay before retry number `retry` (1 for the first retry):
 * uniform in [0, min(maxDelayMs, baseDelayMs × 2^(retry−1))).
 */
export function backoffDelayMs(
  retry: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number,
): number {
  const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(retry - 1, 52));
  return Math.floor(random() * cap);
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Wraps a store so that retriable failures are retried (see the module comment). */
export function withRetries(store: ObjectStore, options: RetryOptions = {}): ObjectStore {
  return new RetryingObjectStore(store, options);
}

class RetryingObjectStore implements ObjectStore {
  readonly capabilities: { readonly conditionalPut: boolean };
  readonly description: string;
  private readonly attemptsMax: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number | undefined;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly onRetry: RetryOptions['onRetry'];

  constructor(
    private readonly inner: ObjectStore,
    options: RetryOptions,
  ) {
    this.capabilities = inner.capabilities;
    this.description = inner.description;
    this.attemptsMax = options.attemptsMax ?? 5;
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 5_000;
    this.timeoutMs = options.timeoutMs;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? defaultSleep;
    this.onRetry = options.onRetry;
    if (!Number.isInteger(this.attemptsMax) || this.attemptsMax < 1) {
      throw new ObjectStoreError(
        'invalid',
        `attemptsMax must be a positive integer, got ${options.attemptsMax}`,
      );
    }
  }

  put(key: string, body: Buffer | readonly Buffer[], options: PutOptions = {}): Promise<ObjectInfo> {
    return this.run(`put ${key}`, options.signal, (signal) =>
      this.inner.put(key, body, { ...options, signal }),
    );
  }

  get(key: string, options: GetOptions = {}): Promise<Buffer> {
    return this.run(`get ${key}`, options.signal, (signal) => this.inner.get(key, { ...options, signal }));
  }

  head(key: string): Promise<ObjectInfo> {
    return this.run(`head ${key}`, undefined, () => this.inner.head(key));
  }

  list(options: ListOptions = {}): Promise<ListPage> {
    return this.run('list', undefined, () => this.inner.list(options));
  }

  delete(key: string): Promise<void> {
    return this.run(`delete ${key}`, undefined, () => this.inner.delete(key));
  }

  /** Retries the keys whose deletion failed with a retriable error. */
  async deleteMany(keys: readonly string[]): Promise<{ failed: { key: string; error: ObjectStoreError }[] }> {
    const final: { key: string; error: ObjectStoreError }[] = [];
    let pending = keys;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const { failed } = await this.run(`deleteMany (${pending.length} keys)`, undefined, () =>
        this.inner.deleteMany(pending),
      );
      const retry: string[] = [];
      let last: ObjectStoreError | undefined;
      for (const f of failed) {
        if (f.error.kind === 'retriable' && attempt < this.attemptsMax) {
          retry.push(f.key);
          last = f.error;
        } else {
          final.push(f);
        }
      }
      pending = retry;
      if (last !== undefined) await this.backoff('deleteMany', attempt, last);
    }
    return { failed: final };
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async run<T>(
    operation: string,
    callerSignal: AbortSignal | undefined,
    fn: (signal: AbortSignal | undefined) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(operation, callerSignal, fn);
      } catch (err) {
        const error = asObjectStoreError(err, operation);
        if (callerSignal?.aborted) throw new ObjectStoreError('aborted', `${operation} aborted`, error);
        if (error.kind !== 'retriable') throw error;
        if (attempt >= this.attemptsMax) {
          throw new ObjectStoreError(
            'retriable',
            `${error.message} (gave up after ${attempt} attempts)`,
            error,
          );
        }
        await this.backoff(operation, attempt, error);
        if (callerSignal?.aborted) throw new ObjectStoreError('aborted', `${operation} aborted`, error);
      }
    }
  }

  private async backoff(operation: string, attempt: number, error: ObjectStoreError): Promise<void> {
    const delayMs = backoffDelayMs(attempt, this.baseDelayMs, this.maxDelayMs, this.random);
    this.onRetry?.({ operation, attempt, delayMs, error });
    await this.sleep(delayMs);
  }

  /** One attempt, bounded by `timeoutMs` when set (the attempt's signal is then aborted). */
  private async attempt<T>(
    operation: string,
    callerSignal: AbortSignal | undefined,
    fn: (signal: AbortSignal | undefined) => Promise<T>,
  ): Promise<T> {
    const timeoutMs = this.timeoutMs;
    if (timeoutMs === undefined) return fn(callerSignal);
    const controller = new AbortController();
    const signal =
      callerSignal !== undefined ? AbortSignal.any([callerSignal, controller.signal]) : controller.signal;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new ObjectStoreError('retriable', `${operation}: timed out after ${timeoutMs} ms`));
        controller.abort(new Error('timeout'));
      }, timeoutMs);
    });
    try {
      return await Promise.race([fn(signal), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
