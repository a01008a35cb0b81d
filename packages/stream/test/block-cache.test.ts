import { describe, expect, it } from 'vitest';
import { BlockCache } from '../src/cache/block-cache.ts';

const cache = (bytesMax: number) => new BlockCache<Buffer>({ bytesMax, sizeOf: (b) => b.length });
const key = (objectId: string | number, position: number) => ({ objectId, position });

/** A promise with its resolve/reject exposed. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('BlockCache', () => {
  it('keys by (objectId, position) and counts hits and misses', () => {
    const c = cache(100);
    const a = Buffer.alloc(10);
    c.set(key('obj1', 0), a);
    expect(c.get(key('obj1', 0))).toBe(a);
    expect(c.get(key('obj1', 10))).toBeUndefined();
    expect(c.get(key('obj2', 0))).toBeUndefined();
    // A numeric id and its string spelling are different objects.
    c.set(key(5, 0), Buffer.alloc(1));
    expect(c.get(key('5', 0))).toBeUndefined();
    expect(c.stats()).toMatchObject({ hits: 1, misses: 3, entries: 2, bytes: 11 });
    expect(() => c.get(key('x', -1))).toThrow(RangeError);
  });

  it('stays within bytesMax, evicting the least recently used blocks', () => {
    const c = cache(100);
    c.set(key('o', 0), Buffer.alloc(40));
    c.set(key('o', 1), Buffer.alloc(40));
    c.get(key('o', 0)); // 0 is now more recent than 1
    c.set(key('o', 2), Buffer.alloc(40));
    expect(c.has(key('o', 1))).toBe(false);
    expect(c.has(key('o', 0))).toBe(true);
    expect(c.has(key('o', 2))).toBe(true);
    expect(c.stats()).toMatchObject({ bytes: 80, evictions: 1 });
    c.set(key('o', 3), Buffer.alloc(100));
    expect(c.stats()).toMatchObject({ bytes: 100, entries: 1, evictions: 3 });
  });

  it('never keeps a block larger than bytesMax, and bounds bytes over many sets', () => {
    const c = cache(100);
    c.set(key('o', 0), Buffer.alloc(101));
    expect(c.has(key('o', 0))).toBe(false);
    for (let i = 0; i < 200; i++) {
      c.set(key('p', i), Buffer.alloc(1 + (i % 37)));
      expect(c.stats().bytes).toBeLessThanOrEqual(100);
    }
  });

  it('single flight: concurrent getOrLoad of one key run the loader once', async () => {
    const c = cache(100);
    const d = deferred<Buffer>();
    let calls = 0;
    const loader = () => {
      calls++;
      return d.promise;
    };
    const p1 = c.getOrLoad(key('o', 0), loader);
    const p2 = c.getOrLoad(key('o', 0), loader);
    const other = c.getOrLoad(key('o', 1), async () => Buffer.alloc(2));
    expect(c.stats().inflight).toBe(2);
    const value = Buffer.alloc(5);
    d.resolve(value);
    expect(await p1).toBe(value);
    expect(await p2).toBe(value);
    expect((await other).length).toBe(2);
    expect(calls).toBe(1);
    expect(await c.getOrLoad(key('o', 0), loader)).toBe(value); // now cached
    expect(calls).toBe(1);
    expect(c.stats()).toMatchObject({ loads: 2, inflight: 0, hits: 1, misses: 3 });
  });

  it('does not cache failed loads: every waiter gets the error and the next call retries', async () => {
    const c = cache(100);
    const d = deferred<Buffer>();
    const p1 = c.getOrLoad(key('o', 0), () => d.promise);
    const p2 = c.getOrLoad(key('o', 0), () => d.promise);
    d.reject(new Error('503'));
    await expect(p1).rejects.toThrow('503');
    await expect(p2).rejects.toThrow('503');
    expect(c.has(key('o', 0))).toBe(false);
    // A loader that throws synchronously is a failed load too, and leaves nothing behind.
    await expect(
      c.getOrLoad(key('o', 0), () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(c.stats()).toMatchObject({ loadFailures: 2, inflight: 0 });
    const ok = Buffer.alloc(3);
    expect(await c.getOrLoad(key('o', 0), async () => ok)).toBe(ok);
    expect(c.get(key('o', 0))).toBe(ok);
  });

  it('delete and clear drop blocks', () => {
    const c = cache(100);
    c.set(key('o', 0), Buffer.alloc(1));
    c.set(key('o', 1), Buffer.alloc(1));
    c.delete(key('o', 0));
    expect(c.has(key('o', 0))).toBe(false);
    c.clear();
    expect(c.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });

  it('rejects a bad bound and bad block sizes', async () => {
    expect(() => cache(0)).toThrow(RangeError);
    const c = cache(10);
    expect(() => c.set(key('o', 0), Buffer.alloc(0))).toThrow(/positive integer/);
  });
});
