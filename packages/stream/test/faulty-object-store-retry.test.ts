import { Rng } from '@tributary/wal/testing';
import { describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../src/object-store/memory.ts';
import { withRetries } from '../src/object-store/retry.ts';
import { type ObjectStore, ObjectStoreError } from '../src/object-store/types.ts';
import { FaultyObjectStore } from '../src/testing/index.ts';

/** Every object under `prefix`, through as many list pages as it takes. */
async function listAll(store: ObjectStore, prefix: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await store.list({ prefix, maxKeys: 7, continuationToken: token });
    for (const o of page.objects) out.set(o.key, o.size);
    token = page.continuationToken;
  } while (token !== undefined);
  return out;
}

describe('withRetries over FaultyObjectStore', () => {
  it.each([1, 2, 3, 42, 0xdeadbeef])(
    'recovers from 503s, 429s and resets with no data loss (seed %i)',
    async (seed) => {
      const inner = new MemoryObjectStore({ name: `retry-${seed}` });
      const faulty = new FaultyObjectStore(inner, {
        seed,
        rates: { error: 0.2, reset: 0.1, afterWrite: 0.1, slowRead: 0.1 },
        slowReadMs: 0,
        sleep: async () => {},
      });
      const rng = new Rng(seed);
      const store = withRetries(faulty, {
        attemptsMax: 30,
        random: () => rng.float(),
        sleep: async () => {},
      });
      const written = new Map<string, Buffer>();
      for (let i = 0; i < 120; i++) {
        const key = `data/${String(i).padStart(4, '0')}`;
        const body = rng.bytes(rng.int(1, 300));
        const half = body.length >> 1;
        // Half the objects go up as a Buffer list, as multipart-sized bodies would.
        await store.put(key, i % 2 === 0 ? body : [body.subarray(0, half), body.subarray(half)]);
        written.set(key, body);
      }
      for (let i = 0; i < 120; i += 10) {
        const key = `data/${String(i).padStart(4, '0')}`;
        await store.delete(key);
        written.delete(key);
      }
      expect((await store.deleteMany(['data/0001', 'data/0003'])).failed).toEqual([]);
      written.delete('data/0001');
      written.delete('data/0003');

      const context = `seed ${seed}`;
      expect(await listAll(store, 'data/'), context).toEqual(
        new Map([...written].map(([k, v]) => [k, v.length])),
      );
      for (const [key, body] of written) {
        expect((await store.get(key)).equals(body), `${context}: ${key}`).toBe(true);
        const start = Math.min(3, body.length - 1);
        expect(
          (await store.get(key, { start, end: start + 5 })).equals(body.subarray(start, start + 5)),
        ).toBe(true);
        expect((await store.head(key)).size, context).toBe(body.length);
      }
      // Every fault kind was actually injected and recovered from.
      for (const kind of ['slow-down', 'throttle', 'reset', 'after-write', 'slow-read'] as const)
        expect(faulty.faultsByKind[kind], `${context}: ${kind}`).toBeGreaterThan(0);
      // The retries went through the faulty store: more calls than the caller made.
      expect(faulty.counters.put.calls, context).toBe(120 + faulty.counters.put.faults);
    },
  );

  it('gives up with a retriable error once the attempts are spent', async () => {
    const faulty = new FaultyObjectStore(new MemoryObjectStore(), {
      rules: [{ op: 'get', fault: 'reset', failNext: 4 }],
    });
    const store = withRetries(faulty, { attemptsMax: 3, sleep: async () => {} });
    await store.put('a', Buffer.from('x'));
    await expect(store.get('a')).rejects.toMatchObject({ kind: 'retriable', message: /gave up after 3/ });
    expect(faulty.counters.get).toEqual({ calls: 3, faults: 3 });
    expect((await store.get('a')).toString()).toBe('x'); // fourth fault, then success
  });

  it('a conditional put whose response was lost reports precondition-failed on retry; the bytes are ours', async () => {
    const inner = new MemoryObjectStore();
    const faulty = new FaultyObjectStore(inner, {
      rules: [{ op: 'put', keyPrefix: 'fence/', fault: 'after-write', failNext: 1 }],
    });
    const store = withRetries(faulty, { sleep: async () => {} });
    const body = Buffer.from('epoch-7');
    const err = await store.put('fence/epoch', body, { ifNoneMatch: '*' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectStoreError);
    expect((err as ObjectStoreError).kind).toBe('precondition-failed');
    // The caller copes by reading back: the object holds exactly what its first attempt sent.
    expect((await store.get('fence/epoch')).equals(body)).toBe(true);
    expect(faulty.log.map((r) => r.kind)).toEqual(['after-write']);
  });
});
