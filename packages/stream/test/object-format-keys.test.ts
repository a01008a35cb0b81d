import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { objectKey, objectKeyHash, parseObjectKey } from '../src/index.ts';

describe('stream object keys', () => {
  it('round-trips any id under any prefix (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.nat({ max: 100_000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
        fc.constantFrom('', 'objects', 'cluster-a/streams'),
        (id, prefix) => {
          const key = objectKey(prefix, id);
          expect(key).toMatch(/(^|\/)[0-9a-f]{2}\/[0-9]{16}\.obj$/);
          expect(key.startsWith(prefix)).toBe(true);
          expect(parseObjectKey(prefix, key)).toBe(id);
        },
      ),
    );
    expect(objectKey('p', 42)).toBe(`p/${objectKeyHash(42)}/0000000000000042.obj`);
    expect(objectKey('', Number.MAX_SAFE_INTEGER)).toMatch(/^[0-9a-f]{2}\/9007199254740991\.obj$/);
  });

  it('spreads ids 0..9999 over all 256 prefixes roughly evenly', () => {
    const counts = new Map<string, number>();
    for (let id = 0; id < 10_000; id++) {
      const h = objectKeyHash(id);
      counts.set(h, (counts.get(h) ?? 0) + 1);
    }
    expect(counts.size).toBe(256);
    // Expected 39 per prefix; a binomial spread stays well inside [15, 70].
    for (const n of counts.values()) {
      expect(n).toBeGreaterThanOrEqual(15);
      expect(n).toBeLessThanOrEqual(70);
    }
    // Consecutive ids do not share a prefix run.
    expect(new Set([0, 1, 2, 3, 4, 5, 6, 7].map(objectKeyHash)).size).toBeGreaterThan(5);
  });

  it('rejects keys that are not object keys of the prefix', () => {
    const key = objectKey('objects', 1234);
    const hash = objectKeyHash(1234);
    const other = hash === '00' ? '01' : '00';
    expect(parseObjectKey('other', key)).toBeNull();
    expect(parseObjectKey('objects', key.replace(`/${hash}/`, `/${other}/`))).toBeNull();
    expect(parseObjectKey('objects', `${key}.tmp`)).toBeNull();
    expect(parseObjectKey('objects', `objects/${hash}/1234.obj`)).toBeNull();
    expect(parseObjectKey('objects', 'objects/zz/0000000000001234.obj')).toBeNull();
    expect(parseObjectKey('objects', `objects/${objectKeyHash(2 ** 53)}/9007199254740992.obj`)).toBeNull();
    expect(parseObjectKey('', key)).toBeNull();
    expect(() => objectKey('objects/', 1)).toThrow(RangeError);
    expect(() => objectKey('objects', -1)).toThrow(RangeError);
    expect(() => objectKey('objects', 1.5)).toThrow(RangeError);
  });
});
