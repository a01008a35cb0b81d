import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../src/cache/byte-budget.ts';
import { LogCache } from '../src/cache/log-cache.ts';

/** Resolves after pending promise callbacks have run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Tracks which of several promises have settled, in settling order. */
function track(promises: Record<string, Promise<void>>): string[] {
  const done: string[] = [];
  for (const [name, p] of Object.entries(promises)) {
    p.then(
      () => done.push(name),
      () => done.push(`${name}!`),
    );
  }
  return done;
}

describe('LogCache backpressure', () => {
  it('reserve resolves at once while there is room, then waits until a free makes room', async () => {
    const cache = new LogCache({ bytesMax: 100, blockBytesTarget: 50 });
    await cache.reserve(60);
    cache.append(1, 0, 1, Buffer.alloc(60), 0, 60);
    const done = track({ a: cache.reserve(50) });
    await settle();
    expect(done).toEqual([]);
    expect(cache.stats().waiters).toBe(1);
    const s = cache.seal()!;
    await settle();
    expect(done).toEqual([]); // sealing alone frees nothing
    cache.free(s.id);
    await settle();
    expect(done).toEqual(['a']);
    expect(cache.stats()).toMatchObject({ bytes: 0, reservedBytes: 50, waiters: 0 });
  });

  it('wakes waiters in FIFO order: a small request never overtakes a waiting large one', async () => {
    const cache = new LogCache({ bytesMax: 100, blockBytesTarget: 10 });
    await cache.reserve(90);
    cache.append(1, 0, 1, Buffer.alloc(90), 0, 90);
    const done = track({ big: cache.reserve(80), small: cache.reserve(5), small2: cache.reserve(10) });
    await settle();
    expect(done).toEqual([]); // small (5) would fit in the 10 free bytes, but big is first
    cache.free(cache.seal()!.id);
    await settle();
    expect(done).toEqual(['big', 'small', 'small2']);
    expect(cache.stats().reservedBytes).toBe(95);
  });

  it('rejects a record larger than bytesMax with a clear error', async () => {
    const cache = new LogCache({ bytesMax: 100, blockBytesTarget: 10 });
    await expect(cache.reserve(101)).rejects.toThrow(/101 bytes is larger than bytesMax 100/);
    await cache.reserve(100);
    cache.release(100);
  });

  it('append consumes the reservation; unreserved bytes must fit and not jump the queue', async () => {
    const cache = new LogCache({ bytesMax: 100, blockBytesTarget: 10 });
    await cache.reserve(30);
    cache.append(1, 0, 1, Buffer.alloc(20), 0, 1); // from the reservation
    expect(cache.stats()).toMatchObject({ bytes: 20, reservedBytes: 10 });
    cache.append(1, 1, 1, Buffer.alloc(50), 1, 2); // 10 reserved + 40 free
    expect(cache.stats()).toMatchObject({ bytes: 70, reservedBytes: 0 });
    expect(() => cache.append(1, 2, 1, Buffer.alloc(31), 2, 3)).toThrow(/call reserve\(\) first/);
    const waiting = cache.reserve(40);
    expect(() => cache.append(1, 2, 1, Buffer.alloc(10), 2, 3)).toThrow(/not reserved/);
    expect(cache.stats().bytes).toBe(70);
    cache.free(cache.seal()!.id);
    await waiting;
    cache.assertInvariants();
  });

  it('release gives room back to waiters; close rejects them', async () => {
    const cache = new LogCache({ bytesMax: 100, blockBytesTarget: 10 });
    await cache.reserve(100);
    const done = track({ a: cache.reserve(60), b: cache.reserve(60) });
    cache.release(100);
    await settle();
    expect(done).toEqual(['a']);
    expect(() => cache.release(61)).toThrow(RangeError);
    cache.close(new Error('closing'));
    await settle();
    expect(done).toEqual(['a', 'b!']);
    await expect(cache.reserve(1)).rejects.toThrow('closing');
  });
});

describe('ByteBudget', () => {
  it('bounds its queue of waiters', async () => {
    const budget = new ByteBudget({ bytesMax: 10, waitersMax: 2, name: 'test budget' });
    await budget.reserve(10);
    const a = budget.reserve(1);
    const b = budget.reserve(1);
    await expect(budget.reserve(1)).rejects.toThrow(/test budget: 2 reservations already waiting/);
    budget.release(10);
    await Promise.all([a, b]);
    expect(budget.reserved).toBe(2);
  });

  it('rejects bad sizes and frees it never held', async () => {
    expect(() => new ByteBudget({ bytesMax: 0 })).toThrow(RangeError);
    const budget = new ByteBudget({ bytesMax: 10 });
    expect(() => budget.free(1)).toThrow(RangeError);
    expect(() => budget.commit(-1)).toThrow(RangeError);
    await expect(budget.reserve(1.5)).rejects.toThrow(RangeError);
  });
});
