import { describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../src/object-store/memory.ts';
import { ObjectStoreError } from '../src/object-store/types.ts';
import { FaultSpecError, FaultyObjectStore, parseFaultSpec, VirtualClock } from '../src/testing/index.ts';

/** Lets pending callbacks run. */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

function track<T>(p: Promise<T>): { settled: () => boolean; p: Promise<T> } {
  let done = false;
  const q = p.finally(() => {
    done = true;
  });
  q.catch(() => {});
  return { settled: () => done, p: q };
}

describe('FaultyObjectStore rules', () => {
  it('fails the next N matching calls only', async () => {
    const inner = new MemoryObjectStore();
    const store = new FaultyObjectStore(inner, { rules: [{ op: 'put', keyPrefix: 'x/', failNext: 3 }] });
    const results: string[] = [];
    for (let i = 0; i < 5; i++) {
      await store.put('y/other', Buffer.from('y')); // not matching: never fails
      await store.get('x/1').catch(() => {}); // other op: never faulted by the rule
      results.push(
        await store.put('x/1', Buffer.from(`v${i}`)).then(
          () => 'ok',
          (e: ObjectStoreError) => e.kind,
        ),
      );
    }
    expect(results).toEqual(['retriable', 'retriable', 'retriable', 'ok', 'ok']);
    expect((await inner.get('x/1')).toString()).toBe('v4');
    expect(store.log.map((r) => [r.op, r.key, r.kind, r.rule, r.status])).toEqual([
      ['put', 'x/1', 'slow-down', 0, 503],
      ['put', 'x/1', 'slow-down', 0, 503],
      ['put', 'x/1', 'slow-down', 0, 503],
    ]);
  });

  it('takes the first rule that fires, applies rule fault kinds, and can be removed', async () => {
    const inner = new MemoryObjectStore();
    const store = new FaultyObjectStore(inner);
    store.addRule({ op: ['put', 'delete'], keyPrefix: 'w/', fault: 'after-write', failNext: 1 });
    const remove = store.addRule({ keyPrefix: 'w/', fault: 'reset' });
    await expect(store.put('w/a', Buffer.from('1'))).rejects.toMatchObject({ kind: 'retriable' });
    expect((await inner.get('w/a')).toString()).toBe('1'); // after-write: it landed
    await expect(store.put('w/b', Buffer.from('2'))).rejects.toMatchObject({ kind: 'retriable' });
    await expect(inner.head('w/b')).rejects.toMatchObject({ kind: 'not-found' }); // reset: it did not
    await expect(store.list({ prefix: 'w/' })).rejects.toMatchObject({ kind: 'retriable' });
    remove();
    await store.put('w/b', Buffer.from('2'));
    await expect(store.deleteMany(['a', 'w/b'])).resolves.toEqual({ failed: [] });
    expect(store.log.map((r) => [r.kind, r.rule])).toEqual([
      ['after-write', 0],
      ['reset', 1],
      ['reset', 1],
    ]);
  });

  it('fires probabilistic rules deterministically per seed', async () => {
    const run = async (seed: number): Promise<number[]> => {
      const store = new FaultyObjectStore(new MemoryObjectStore(), {
        seed,
        rules: [{ op: 'head', probability: 0.3, fault: 'throttle' }],
      });
      for (let i = 0; i < 100; i++) await store.head('k').catch(() => {});
      return store.log.map((r) => r.seq);
    };
    const a = await run(11);
    expect(await run(11)).toEqual(a);
    expect(await run(12)).not.toEqual(a);
    expect(a.length).toBeGreaterThan(15);
    expect(a.length).toBeLessThan(45);
  });
});

describe('FaultyObjectStore stall and resume', () => {
  it('holds new calls until resumed', async () => {
    const inner = new MemoryObjectStore();
    const store = new FaultyObjectStore(inner);
    store.stall();
    expect(store.stalled).toBe(true);
    const put = track(store.put('a', Buffer.from('x')));
    const get = track(store.get('b'));
    await turns();
    expect(put.settled()).toBe(false);
    expect(get.settled()).toBe(false);
    expect(store.stalledCalls).toBe(2);
    await expect(inner.head('a')).rejects.toMatchObject({ kind: 'not-found' });
    store.resume();
    await expect(put.p).resolves.toMatchObject({ key: 'a', size: 1 });
    await expect(get.p).rejects.toMatchObject({ kind: 'not-found' });
    expect(store.stalledCalls).toBe(0);
    expect(store.stalled).toBe(false);
  });

  it('holds calls in flight after their effect', async () => {
    const clock = new VirtualClock();
    const inner = new MemoryObjectStore();
    const store = new FaultyObjectStore(inner, { latencyMs: 10, sleep: clock.sleep });
    const put = track(store.put('a', Buffer.from('x')));
    await turns();
    store.stall();
    await clock.advance(10);
    expect((await inner.get('a')).toString()).toBe('x'); // it landed…
    expect(put.settled()).toBe(false); // …but the caller still waits
    store.resume();
    await expect(put.p).resolves.toMatchObject({ key: 'a' });
  });

  it('lets an abort signal or close release a stalled call', async () => {
    const store = new FaultyObjectStore(new MemoryObjectStore());
    store.stall();
    const ac = new AbortController();
    const aborted = track(store.put('a', Buffer.from('x'), { signal: ac.signal }));
    const closed = track(store.head('a'));
    await turns();
    ac.abort();
    await expect(aborted.p).rejects.toMatchObject({ kind: 'aborted' });
    expect(closed.settled()).toBe(false);
    await store.close();
    await expect(closed.p).rejects.toMatchObject({ kind: 'fatal' });
    await expect(store.head('a')).rejects.toBeInstanceOf(ObjectStoreError);
  });
});

describe('parseFaultSpec', () => {
  it('parses the documented example', () => {
    expect(
      parseFaultSpec('seed=7,latencyMs=5..50,putError=0.1,getError=0.05,reset=0.01,afterWrite=0.05'),
    ).toEqual({
      seed: 7,
      latencyMs: { min: 5, max: 50 },
      rates: { reset: 0.01, afterWrite: 0.05 },
      opRates: { put: { error: 0.1 }, get: { error: 0.05 } },
    });
  });

  it('parses every key, tolerates spaces, and an empty spec means no faults', () => {
    expect(parseFaultSpec('')).toEqual({});
    expect(
      parseFaultSpec(
        ' latencyMs = 3 , latency=log, status=429, slowReadMs=10..20, trickleBps=1e6, slowRead=0.2, ' +
          'deleteManyAfterWrite=0.5, listReset=0.1, error=0.01',
      ),
    ).toEqual({
      latencyMs: 3,
      latencyDistribution: 'log',
      errorStatus: 429,
      slowReadMs: { min: 10, max: 20 },
      trickleBytesPerSecond: 1_000_000,
      rates: { slowRead: 0.2, error: 0.01 },
      opRates: { deleteMany: { afterWrite: 0.5 }, list: { reset: 0.1 } },
    });
  });

  it('builds a store that injects what the spec says', async () => {
    const store = new FaultyObjectStore(
      new MemoryObjectStore(),
      parseFaultSpec('seed=5,putError=1,status=503'),
    );
    await expect(store.put('a', Buffer.from('x'))).rejects.toMatchObject({ kind: 'retriable' });
    await expect(store.list()).resolves.toMatchObject({ objects: [] });
    expect(store.description).toContain('seed=5');
  });

  it.each([
    ['putErr=0.1', /unknown key "putErr"/],
    ['seed=7,seed=8', /duplicate key "seed"/],
    ['error', /"error" is not key=value/],
    ['error=', /error: missing value/],
    ['error=abc', /error: "abc" is not a non-negative number/],
    ['error=-0.1', /is not a non-negative number/],
    ['error=1.5', /probability 1.5 is above 1/],
    ['latencyMs=50..5', /max < min/],
    ['latencyMs=1..2..3', /expected <ms> or <min>..<max>/],
    ['seed=1.5', /seed: "1.5" is not a uint32/],
    ['seed=4294967296', /not a uint32/],
    ['status=500', /status: expected 503, 429 or mixed/],
    ['latency=gauss', /latency: expected uniform or log/],
    ['trickleBps=0', /trickleBps: must be > 0/],
    ['putError=0.6,reset=0.5', /put: fault probabilities add up to 1.1/],
  ])('rejects %j', (spec, message) => {
    expect(() => parseFaultSpec(spec)).toThrow(FaultSpecError);
    expect(() => parseFaultSpec(spec)).toThrow(message);
    expect(() => parseFaultSpec(spec)).toThrow(`bad fault spec "${spec}"`);
  });
});
