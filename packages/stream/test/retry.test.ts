import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../src/object-store/memory.ts';
import { backoffDelayMs, withRetries } from '../src/object-store/retry.ts';
import { type ObjectStore, ObjectStoreError, type ObjectStoreErrorKind } from '../src/object-store/types.ts';
import { expectKind } from './object-store-contract.ts';

/** A memory store whose `get`/`head` fail with the scripted kinds first, then work. */
class ScriptedStore extends MemoryObjectStore {
  calls = 0;
  constructor(private readonly script: ObjectStoreErrorKind[]) {
    super();
  }
  private next(): void {
    const kind = this.script[this.calls++];
    if (kind !== undefined) throw new ObjectStoreError(kind, `scripted ${kind}`);
  }
  override async get(
    key: string,
    options?: { start?: number; end?: number; signal?: AbortSignal },
  ): Promise<Buffer> {
    this.next();
    return super.get(key, options);
  }
  override async head(key: string) {
    this.next();
    return super.head(key);
  }
}

function recorder(): { sleeps: number[]; sleep: (ms: number) => Promise<void> } {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms) => void sleeps.push(ms) };
}

describe('withRetries', () => {
  it('retries retriable errors until success', async () => {
    const inner = new ScriptedStore(['retriable', 'retriable']);
    await inner.put('k', Buffer.from('v'));
    const { sleeps, sleep } = recorder();
    const store = withRetries(inner, {
      attemptsMax: 5,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      random: () => 0.5,
      sleep,
    });
    expect((await store.get('k')).toString()).toBe('v');
    expect(inner.calls).toBe(3);
    expect(sleeps).toEqual([50, 100]);
  });

  it.each<ObjectStoreErrorKind>([
    'not-found',
    'precondition-failed',
    'unsupported',
    'invalid',
    'aborted',
    'fatal',
  ])('does not retry %s', async (kind) => {
    const inner = new ScriptedStore([kind]);
    await inner.put('k', Buffer.from('v'));
    const { sleeps, sleep } = recorder();
    const store = withRetries(inner, { attemptsMax: 5, sleep });
    await expectKind(store.head('k'), kind);
    expect(inner.calls).toBe(1);
    expect(sleeps).toEqual([]);
  });

  it('gives up after attemptsMax attempts, still retriable', async () => {
    const inner = new ScriptedStore(Array(10).fill('retriable'));
    const { sleeps, sleep } = recorder();
    const store = withRetries(inner, {
      attemptsMax: 4,
      baseDelayMs: 10,
      maxDelayMs: 10_000,
      random: () => 0.999,
      sleep,
    });
    const error = await expectKind(store.get('k'), 'retriable');
    expect(error.message).toMatch(/gave up after 4 attempts/);
    expect(inner.calls).toBe(4);
    expect(sleeps).toEqual([9, 19, 39]);
  });

  it('caps the backoff at maxDelayMs (full jitter below the cap)', () => {
    const caps = [1, 2, 3, 4, 5, 6, 7].map((retry) => backoffDelayMs(retry, 100, 1000, () => 0.9999999));
    expect(caps).toEqual([99, 199, 399, 799, 999, 999, 999]);
    expect(backoffDelayMs(3, 100, 1000, () => 0)).toBe(0);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (retry, base, max, r) => {
          const d = backoffDelayMs(retry, base, max, () => r);
          const cap = Math.min(max, base * 2 ** (retry - 1));
          return Number.isInteger(d) && d >= 0 && d < cap && d <= max;
        },
      ),
    );
  });

  it('times out a hung attempt, aborts it, and retries', async () => {
    const signals: AbortSignal[] = [];
    const hung: ObjectStore = Object.assign(new MemoryObjectStore(), {
      get: (_key: string, options?: { signal?: AbortSignal }) => {
        if (options?.signal) signals.push(options.signal);
        return new Promise<Buffer>(() => {});
      },
      head: () => new Promise<never>(() => {}),
    });
    const { sleeps, sleep } = recorder();
    const store = withRetries(hung, { attemptsMax: 3, timeoutMs: 20, sleep, random: () => 0 });
    const started = Date.now();
    const error = await expectKind(store.get('k'), 'retriable');
    expect(error.message).toMatch(/timed out after 20 ms.*gave up after 3 attempts/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(signals.length).toBe(3);
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(sleeps.length).toBe(2);
    await expectKind(store.head('k'), 'retriable');
  });

  it('stops retrying when the caller aborts', async () => {
    const inner = new ScriptedStore(Array(10).fill('retriable'));
    const controller = new AbortController();
    const store = withRetries(inner, {
      attemptsMax: 10,
      sleep: async () => controller.abort(),
    });
    await expectKind(store.get('k', { signal: controller.signal }), 'aborted');
    expect(inner.calls).toBe(1);
  });

  it('retries only the keys deleteMany failed retriably', async () => {
    const inner = new MemoryObjectStore();
    let round = 0;
    const seen: string[][] = [];
    const flaky: ObjectStore = Object.assign(Object.create(inner) as MemoryObjectStore, {
      deleteMany: async (keys: readonly string[]) => {
        seen.push([...keys]);
        round++;
        const failed = keys
          .filter((k) => (k === 'b' && round < 3) || k === 'c')
          .map((key) => ({
            key,
            error: new ObjectStoreError(key === 'b' ? 'retriable' : 'fatal', `scripted ${key}`),
          }));
        return { failed };
      },
    });
    const { sleep } = recorder();
    const store = withRetries(flaky, { attemptsMax: 5, sleep });
    const { failed } = await store.deleteMany(['a', 'b', 'c']);
    expect(failed.map((f) => [f.key, f.error.kind])).toEqual([['c', 'fatal']]);
    expect(seen).toEqual([['a', 'b', 'c'], ['b'], ['b']]);
  });

  it('rejects a bad attemptsMax', () => {
    expect(() => withRetries(new MemoryObjectStore(), { attemptsMax: 0 })).toThrow(ObjectStoreError);
  });
});
