import { describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../src/object-store/memory.ts';
import { ObjectStoreError } from '../src/object-store/types.ts';
import {
  type FaultRecord,
  FaultyObjectStore,
  type FaultyObjectStoreOptions,
  injectedFaultKind,
  VirtualClock,
} from '../src/testing/index.ts';

/** A store with no real delays unless the test asks for them. */
function faulty(options: FaultyObjectStoreOptions = {}): {
  inner: MemoryObjectStore;
  store: FaultyObjectStore;
} {
  const inner = new MemoryObjectStore({ name: 'faulty-test' });
  return { inner, store: new FaultyObjectStore(inner, options) };
}

async function outcome<T>(p: Promise<T>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof ObjectStoreError) return `${err.kind}:${injectedFaultKind(err) ?? 'real'}`;
    throw err;
  }
}

async function rejection(p: Promise<unknown>): Promise<ObjectStoreError> {
  const r = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(r).toBeInstanceOf(ObjectStoreError);
  return r as ObjectStoreError;
}

/** A fixed mixed workload; returns the outcome of each call. */
async function workload(store: FaultyObjectStore, calls: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < calls; i++) {
    const key = `k/${i % 7}`;
    switch (i % 5) {
      case 0:
      case 1:
        out.push(await outcome(store.put(key, Buffer.from(`v${i}`))));
        break;
      case 2:
        out.push(await outcome(store.get(key)));
        break;
      case 3:
        out.push(await outcome(store.list({ prefix: 'k/' })));
        break;
      default:
        out.push(await outcome(store.delete(key)));
    }
  }
  return out;
}

const mixed: FaultyObjectStoreOptions = {
  rates: { error: 0.15, reset: 0.05, afterWrite: 0.1, slowRead: 0.1 },
  slowReadMs: 0,
};

describe('FaultyObjectStore determinism', () => {
  it('gives the same faults for the same seed and different faults for another', async () => {
    const a = faulty({ ...mixed, seed: 7 }).store;
    const b = faulty({ ...mixed, seed: 7 }).store;
    const c = faulty({ ...mixed, seed: 8 }).store;
    const [oa, ob, oc] = [await workload(a, 300), await workload(b, 300), await workload(c, 300)];
    expect(ob).toEqual(oa);
    expect(oc).not.toEqual(oa);
    expect(b.log).toEqual(a.log);
    expect(a.log.length).toBeGreaterThan(30);
    expect(c.log).not.toEqual(a.log);
    // Every kind shows up in a long enough run, each roughly at its rate.
    const kinds = new Set(a.log.map((r) => r.kind));
    expect([...kinds].sort()).toEqual(['after-write', 'reset', 'slow-down', 'slow-read', 'throttle']);
    expect(a.faults).toBe(a.log.length);
  });

  it('keeps the fault sequence when only the latency changes', async () => {
    const clock = new VirtualClock();
    const plain = faulty({ ...mixed, seed: 3 }).store;
    const slow = faulty({ ...mixed, seed: 3, latencyMs: { min: 1, max: 5 }, sleep: clock.sleep }).store;
    const run = workload(slow, 100);
    let done = false;
    void run.finally(() => {
      done = true;
    });
    while (!done) await clock.advance(5);
    await workload(plain, 100);
    expect(slow.log).toEqual(plain.log);
  });
});

describe('FaultyObjectStore fault kinds', () => {
  it('injects 503 SlowDown before the call has any effect', async () => {
    const { inner, store } = faulty({ rates: { error: 1 }, errorStatus: 503 });
    const err = await rejection(store.put('a', Buffer.from('x')));
    expect(err.kind).toBe('retriable');
    expect(err.message).toContain('503 SlowDown');
    expect(err.cause).toMatchObject({ code: 'SlowDown', statusCode: 503 });
    expect(injectedFaultKind(err)).toBe('slow-down');
    expect((await rejection(inner.head('a'))).kind).toBe('not-found');
    expect(store.log).toEqual([{ seq: 1, op: 'put', key: 'a', kind: 'slow-down', status: 503 }]);
  });

  it('injects 429 throttling', async () => {
    const { store } = faulty({ rates: { error: 1 }, errorStatus: 429 });
    const err = await rejection(store.get('a'));
    expect(err.kind).toBe('retriable');
    expect(err.cause).toMatchObject({ code: 'TooManyRequests', statusCode: 429 });
    expect(injectedFaultKind(err)).toBe('throttle');
    expect(store.faultsByKind.throttle).toBe(1);
  });

  it('injects connection resets with an ECONNRESET cause and no effect', async () => {
    const { inner, store } = faulty({ rates: { reset: 1 } });
    const err = await rejection(store.put('a', Buffer.from('x')));
    expect(err.kind).toBe('retriable');
    expect(err.cause).toMatchObject({ code: 'ECONNRESET', syscall: 'read' });
    expect(injectedFaultKind(err)).toBe('reset');
    await expect(inner.list()).resolves.toMatchObject({ objects: [] });
  });

  it('fails a put after the bytes were written: the object exists although the put rejected', async () => {
    const { inner, store } = faulty({ rates: { afterWrite: 1 } });
    const err = await rejection(store.put('seg/1', [Buffer.from('hello '), Buffer.from('world')]));
    expect(err.kind).toBe('retriable');
    expect(injectedFaultKind(err)).toBe('after-write');
    expect((await inner.get('seg/1')).toString()).toBe('hello world');
    // With the rate at 1 every put "fails" yet lands; a conditional put then finds the object.
    await expect(store.put('seg/1', Buffer.from('hello world'))).rejects.toThrow(ObjectStoreError);
    await expect(inner.put('seg/1', Buffer.from('again'), { ifNoneMatch: '*' })).rejects.toMatchObject({
      kind: 'precondition-failed',
    });
    // Reads are not subject to the (mutating-only) afterWrite rate.
    expect((await store.get('seg/1')).toString()).toBe('hello world');
    expect(store.counters.put).toEqual({ calls: 2, faults: 2 });
    expect(store.counters.get).toEqual({ calls: 1, faults: 0 });
  });

  it('fails a delete after it took effect', async () => {
    const { inner, store } = faulty({ opRates: { delete: { afterWrite: 1 } } });
    await store.put('a', Buffer.from('x'));
    const err = await rejection(store.delete('a'));
    expect(injectedFaultKind(err)).toBe('after-write');
    expect((await rejection(inner.head('a'))).kind).toBe('not-found');
  });

  it('adds seeded latency within its range, on a virtual clock', async () => {
    const clock = new VirtualClock();
    const { store } = faulty({ latencyMs: { min: 10, max: 20 }, sleep: clock.sleep });
    let settled = false;
    const p = store.put('a', Buffer.from('x')).then(() => {
      settled = true;
    });
    await clock.advance(9);
    expect(settled).toBe(false);
    await clock.advance(11);
    await p;
    expect(settled).toBe(true);
    expect(store.log).toEqual([]);
  });

  it('draws log-distributed latencies within the range', async () => {
    const slept: number[] = [];
    const sleep = async (ms: number): Promise<void> => {
      slept.push(ms);
    };
    const { store } = faulty({ latencyMs: { min: 1, max: 1000 }, latencyDistribution: 'log', sleep });
    for (let i = 0; i < 200; i++) await store.head('missing').catch(() => {});
    expect(slept.length).toBe(200);
    expect(Math.min(...slept)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...slept)).toBeLessThanOrEqual(1000);
    // Log-uniform: about half the draws below sqrt(1000) ≈ 32.
    const small = slept.filter((ms) => ms < 32).length;
    expect(small).toBeGreaterThan(60);
    expect(small).toBeLessThan(140);
  });

  it('slows and trickles reads in proportion to their size', async () => {
    const clock = new VirtualClock();
    const { store } = faulty({
      rates: { slowRead: 1 },
      slowReadMs: 100,
      trickleBytesPerSecond: 1000,
      sleep: clock.sleep,
    });
    await store.put('a', Buffer.alloc(2000, 1));
    let got: Buffer | undefined;
    const p = store.get('a', { start: 0, end: 500 }).then((b) => {
      got = b;
    });
    await clock.advance(599);
    expect(got).toBeUndefined();
    await clock.advance(1);
    await p;
    expect(got?.length).toBe(500);
    expect(store.log).toEqual([{ seq: 2, op: 'get', key: 'a', kind: 'slow-read', delayMs: 600 }]);
  });

  it('passes real errors of the inner store through without counting them as faults', async () => {
    const { store } = faulty();
    const err = await rejection(store.get('nope'));
    expect(err.kind).toBe('not-found');
    expect(injectedFaultKind(err)).toBeUndefined();
    expect(store.counters.get).toEqual({ calls: 1, faults: 0 });
  });

  it('bounds its log', async () => {
    const { store } = faulty({ rates: { error: 1 }, logEntriesMax: 3 });
    for (let i = 0; i < 5; i++) await store.head(`k${i}`).catch(() => {});
    expect(store.log.map((r: FaultRecord) => r.key)).toEqual(['k2', 'k3', 'k4']);
    expect(store.logDropped).toBe(2);
    expect(store.counters.head).toEqual({ calls: 5, faults: 5 });
  });

  it('rejects bad options', () => {
    const inner = new MemoryObjectStore();
    expect(() => new FaultyObjectStore(inner, { rates: { error: 1.5 } })).toThrow(/probability/);
    expect(() => new FaultyObjectStore(inner, { rates: { error: 0.6, reset: 0.6 } })).toThrow(/add up/);
    expect(() => new FaultyObjectStore(inner, { latencyMs: { min: 5, max: 1 } })).toThrow(/latencyMs/);
    expect(() => new FaultyObjectStore(inner, { seed: -1 })).toThrow(/seed/);
    expect(() => new FaultyObjectStore(inner, { rules: [{ failNext: 1.5 }] })).toThrow(/failNext/);
  });
});
