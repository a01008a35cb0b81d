import { describe, expect, it } from 'vitest';
import { LogCache, LogCacheOrderError } from '../src/cache/log-cache.ts';

const buf = (n: number, fill = 1): Buffer => Buffer.alloc(n, fill);

/** A cache with a WAL position helper: each append takes `len` bytes of WAL. */
function setup(bytesMax = 1000, blockBytesTarget = 100) {
  const cache = new LogCache({ bytesMax, blockBytesTarget });
  let wal = 0;
  const append = (stream: number, base: number, count: number, b: Buffer): void => {
    cache.append(stream, base, count, b, wal, wal + b.length + 8);
    wal += b.length + 8;
  };
  return { cache, append, walAt: () => wal };
}

describe('LogCache append order and continuity', () => {
  it('first append sets the stream start; later appends must continue at its end', () => {
    const { cache, append } = setup();
    append(7, 100, 5, buf(10));
    expect(cache.streamStart(7)).toBe(100);
    expect(cache.streamEnd(7)).toBe(105);
    append(7, 105, 1, buf(10));
    expect(cache.streamEnd(7)).toBe(106);
    expect(() => append(7, 108, 1, buf(10))).toThrow(/gap/);
    expect(() => append(7, 104, 1, buf(10))).toThrow(/overlap/);
    expect(() => append(7, 106, 0, buf(10))).toThrow(RangeError);
    expect(cache.streamEnd(8)).toBeUndefined();
    cache.assertInvariants();
  });

  it('rejects WAL offsets that go backwards or overlap the previous record', () => {
    const cache = new LogCache({ bytesMax: 1000, blockBytesTarget: 100 });
    cache.append(1, 0, 1, buf(10), 100, 120);
    expect(() => cache.append(2, 0, 1, buf(10), 119, 130)).toThrow(LogCacheOrderError);
    expect(() => cache.append(2, 0, 1, buf(10), 50, 60)).toThrow(/WAL offset 50/);
    expect(() => cache.append(2, 0, 1, buf(10), 130, 130)).toThrow(RangeError);
    cache.append(2, 0, 1, buf(10), 120, 130);
    // A failed append changed nothing.
    expect(cache.stats().bytes).toBe(20);
    expect(cache.streamEnd(2)).toBe(1);
    cache.assertInvariants();
  });

  it('rejects offsets and ids outside [0, 2^53)', () => {
    const { cache } = setup();
    expect(() => cache.append(-1, 0, 1, buf(1), 0, 1)).toThrow(RangeError);
    expect(() => cache.append(1, 2 ** 53, 1, buf(1), 0, 1)).toThrow(RangeError);
    expect(() => cache.append(1, 2 ** 53 - 1, 1, buf(1), 0, 1)).toThrow(RangeError);
    expect(() => cache.append(1, 0.5, 1, buf(1), 0, 1)).toThrow(RangeError);
    cache.append(1, 2 ** 53 - 2, 1, buf(1), 0, 1);
    expect(cache.streamEnd(1)).toBe(2 ** 53 - 1);
  });
});

describe('LogCache fetch', () => {
  it('returns the appended Buffer objects themselves (zero copy)', () => {
    const { cache, append } = setup();
    const a = buf(10, 1);
    const b = buf(10, 2);
    append(1, 0, 3, a);
    append(1, 3, 2, b);
    const got = cache.fetch(1, 0, 1000)!;
    expect(got.map((x) => x.baseOffset)).toEqual([0, 3]);
    expect(got[0]!.batch).toBe(a);
    expect(got[1]!.batch).toBe(b);
    // An offset inside a batch returns that batch.
    expect(cache.fetch(1, 4, 1000)![0]!.batch).toBe(b);
  });

  it('returns at least one batch, then stops before exceeding maxBytes', () => {
    const { cache, append } = setup();
    append(1, 0, 1, buf(50));
    append(1, 1, 1, buf(30));
    append(1, 2, 1, buf(30));
    expect(cache.fetch(1, 0, 10)!.length).toBe(1);
    expect(cache.fetch(1, 0, 80)!.length).toBe(2);
    expect(cache.fetch(1, 0, 109)!.length).toBe(2);
    expect(cache.fetch(1, 0, 110)!.length).toBe(3);
  });

  it('reads across sealed and unsealed parts, skipping other streams', () => {
    const { cache, append } = setup();
    append(1, 0, 2, buf(10));
    append(2, 50, 1, buf(10));
    const s1 = cache.seal()!;
    append(2, 51, 1, buf(10));
    const s2 = cache.seal()!;
    append(1, 2, 2, buf(10));
    append(1, 4, 1, buf(10));
    expect(s1.id).toBeLessThan(s2.id);
    expect(s2.streams.has(1)).toBe(false);
    expect(cache.fetch(1, 1, 1000)!.map((x) => x.baseOffset)).toEqual([0, 2, 4]);
    expect(cache.fetch(1, 2, 1000)!.map((x) => x.baseOffset)).toEqual([2, 4]);
    expect(cache.fetch(2, 50, 1000)!.map((x) => x.baseOffset)).toEqual([50, 51]);
    cache.assertInvariants();
  });

  it('is undefined below the cached range or for unknown streams, empty at or past the end', () => {
    const { cache, append } = setup();
    append(1, 10, 2, buf(10));
    expect(cache.fetch(1, 9, 100)).toBeUndefined();
    expect(cache.fetch(3, 0, 100)).toBeUndefined();
    expect(cache.fetch(1, 12, 100)).toEqual([]);
    expect(cache.fetch(1, 99, 100)).toEqual([]);
    const sealed = cache.seal()!;
    append(1, 12, 1, buf(10));
    cache.free(sealed.id);
    expect(cache.streamStart(1)).toBe(12);
    expect(cache.fetch(1, 11, 100)).toBeUndefined();
    expect(cache.fetch(1, 12, 100)!.map((x) => x.baseOffset)).toEqual([12]);
  });
});

describe('LogCache seal and free', () => {
  it('seals everything since the last seal with its WAL bounds; nothing to seal is undefined', () => {
    const { cache, append, walAt } = setup();
    expect(cache.seal()).toBeUndefined();
    append(1, 0, 1, buf(10));
    append(2, 0, 1, buf(20));
    append(1, 1, 1, buf(30));
    const s = cache.seal()!;
    expect(s.bytes).toBe(60);
    expect(s.walStart).toBe(0);
    expect(s.walEnd).toBe(walAt());
    expect([...s.streams.keys()]).toEqual([1, 2]);
    expect(s.streams.get(1)!.map((x) => x.baseOffset)).toEqual([0, 1]);
    expect(cache.seal()).toBeUndefined();
    expect(cache.stats()).toMatchObject({ bytes: 60, activeBytes: 0, sealedCount: 1 });
  });

  it('frees seals only in seal order and returns the WAL trim point', () => {
    const { cache, append } = setup();
    append(1, 0, 1, buf(10));
    const a = cache.seal()!;
    append(1, 1, 1, buf(10));
    const b = cache.seal()!;
    expect(() => cache.free(b.id)).toThrow(/out of order/);
    expect(() => cache.free(999)).toThrow(LogCacheOrderError);
    expect(cache.free(a.id)).toBe(a.walEnd);
    expect(() => cache.free(a.id)).toThrow(/out of order/);
    expect(cache.free(b.id)).toBe(b.walEnd);
    expect(() => cache.free(b.id + 1)).toThrow(/oldest sealed block is none/);
    expect(cache.stats()).toMatchObject({ bytes: 0, sealedCount: 0 });
    // Continuity survives the free.
    expect(cache.streamEnd(1)).toBe(2);
    expect(() => cache.append(1, 0, 1, buf(1), 1000, 1001)).toThrow(/overlap/);
    expect(cache.forgetStream(1)).toBe(true);
    expect(cache.streamEnd(1)).toBeUndefined();
  });

  it('shouldSeal once blockBytesTarget bytes are appended, or when reservers wait', async () => {
    const { cache, append } = setup(100, 50);
    append(1, 0, 1, buf(40));
    expect(cache.shouldSeal()).toBe(false);
    append(1, 1, 1, buf(10));
    expect(cache.shouldSeal()).toBe(true);
    cache.seal();
    expect(cache.shouldSeal()).toBe(false);
    append(1, 2, 1, buf(10));
    const waiting = cache.reserve(95);
    expect(cache.stats().waiters).toBe(1);
    // A sealed block is still held: freeing it makes room, so no tiny seal yet.
    expect(cache.shouldSeal()).toBe(false);
    cache.free(1);
    expect(cache.shouldSeal()).toBe(true); // memory pressure with nothing left to free
    cache.close(new Error('bye'));
    await expect(waiting).rejects.toThrow('bye');
  });

  it('does not let a stream with batches be forgotten', () => {
    const { cache, append } = setup();
    append(1, 0, 1, buf(10));
    expect(cache.forgetStream(1)).toBe(false);
    expect(cache.streamEnd(1)).toBe(1);
  });
});
