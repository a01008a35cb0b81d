/**
 * The ObjectStore contract suite: `objectStoreContract(name, factory)` registers the same
 * tests for every backend. The factory returns a fresh, empty store (a new namespace) per call.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { compareKeys } from '../src/object-store/common.ts';
import { type ObjectStore, ObjectStoreError, type ObjectStoreErrorKind } from '../src/object-store/types.ts';

const MiB = 1024 * 1024;

/** Options of {@link objectStoreContract}. */
export interface ContractOptions {
  /** Size of the large-body test (multipart on S3); default 20 MiB. */
  largeBodyBytes?: number;
  /** Whether racing conditional puts must have exactly one winner; default true. */
  atomicConditionalPut?: boolean;
}

/** Expects `promise` to reject with an ObjectStoreError of `kind`. */
export async function expectKind(
  promise: Promise<unknown>,
  kind: ObjectStoreErrorKind,
): Promise<ObjectStoreError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ObjectStoreError('${kind}')`).toBeInstanceOf(ObjectStoreError);
  const error = caught as ObjectStoreError;
  expect(error.kind, error.message).toBe(kind);
  return error;
}

function pattern(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function listAll(
  store: ObjectStore,
  prefix: string,
  maxKeys?: number,
): Promise<{ keys: string[]; pages: number }> {
  const keys: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await store.list({ prefix, maxKeys, continuationToken: token });
    pages++;
    if (maxKeys !== undefined) expect(page.objects.length).toBeLessThanOrEqual(maxKeys);
    for (const o of page.objects) keys.push(o.key);
    token = page.continuationToken;
    expect(pages).toBeLessThan(10_000);
  } while (token !== undefined);
  return { keys, pages };
}

async function putMany(store: ObjectStore, keys: readonly string[], concurrency = 16): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const key = keys[next++] as string;
      await store.put(key, Buffer.from(key));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export const INVALID_KEYS = ['', '/a', 'a/', 'a//b', '..', '../x', 'a/./b', 'a/..', 'x'.repeat(1025), 'a\0b'];

/** Registers the contract tests for one backend. */
export function objectStoreContract(
  name: string,
  factory: () => ObjectStore | Promise<ObjectStore>,
  options: ContractOptions = {},
): void {
  const largeBodyBytes = options.largeBodyBytes ?? 20 * MiB;
  describe(`ObjectStore contract: ${name}`, () => {
    const opened: ObjectStore[] = [];
    const open = async (): Promise<ObjectStore> => {
      const store = await factory();
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
    });

    it('puts and gets whole objects, including empty ones', async () => {
      const store = await open();
      const body = pattern(10_000, 1);
      const info = await store.put('a/b/c.bin', body);
      expect(info.key).toBe('a/b/c.bin');
      expect(info.size).toBe(10_000);
      expect((await store.get('a/b/c.bin')).equals(body)).toBe(true);
      await store.put('empty', Buffer.alloc(0));
      expect((await store.get('empty')).length).toBe(0);
      expect((await store.head('empty')).size).toBe(0);
      expect((await store.get('empty', { start: 0, end: 10 })).length).toBe(0);
    });

    it('reads ranges [start, end), clamps the end, rejects a start past the end', async () => {
      const store = await open();
      const body = pattern(1000, 2);
      await store.put('r', body);
      expect((await store.get('r', { start: 10, end: 20 })).equals(body.subarray(10, 20))).toBe(true);
      expect((await store.get('r', { start: 990 })).equals(body.subarray(990))).toBe(true);
      expect((await store.get('r', { end: 5 })).equals(body.subarray(0, 5))).toBe(true);
      expect((await store.get('r', { start: 900, end: 5000 })).equals(body.subarray(900))).toBe(true);
      expect((await store.get('r', { start: 1000 })).length).toBe(0);
      expect((await store.get('r', { start: 500, end: 500 })).length).toBe(0);
      await expectKind(store.get('r', { start: 1001 }), 'invalid');
      await expectKind(store.get('r', { start: 2000, end: 3000 }), 'invalid');
      await expectKind(store.get('r', { start: 20, end: 10 }), 'invalid');
      await expectKind(store.get('r', { start: -1 }), 'invalid');
    });

    it('heads objects; the etag changes on rewrite', async () => {
      const store = await open();
      await store.put('h', Buffer.from('one'));
      const first = await store.head('h');
      expect(first.key).toBe('h');
      expect(first.size).toBe(3);
      expect(first.etag).toBeTruthy();
      await store.put('h', Buffer.from('second'));
      const second = await store.head('h');
      expect(second.size).toBe(6);
      expect(second.etag).not.toBe(first.etag);
    });

    it('reports missing keys as not-found', async () => {
      const store = await open();
      await expectKind(store.get('missing'), 'not-found');
      await expectKind(store.get('missing/deeper', { start: 1, end: 2 }), 'not-found');
      await expectKind(store.head('missing'), 'not-found');
    });

    it('keeps a key and keys under it as separate objects', async () => {
      const store = await open();
      await store.put('a', Buffer.from('file'));
      await store.put('a/b', Buffer.from('nested'));
      expect((await store.get('a')).toString()).toBe('file');
      expect((await store.get('a/b')).toString()).toBe('nested');
      await store.delete('a/b');
      expect((await store.get('a')).toString()).toBe('file');
      await store.put('a/b/c', Buffer.from('deep'));
      await store.delete('a');
      expect((await store.get('a/b/c')).toString()).toBe('deep');
    });

    it('accepts Buffer-list bodies', async () => {
      const store = await open();
      const parts = [Buffer.from('hello '), Buffer.alloc(0), Buffer.from('wide '), pattern(3000, 3)];
      const info = await store.put('list', parts);
      expect(info.size).toBe(Buffer.concat(parts).length);
      expect((await store.get('list')).equals(Buffer.concat(parts))).toBe(true);
    });

    it(`stores a ${largeBodyBytes / MiB} MiB body from uneven parts and reads ranges across it`, async () => {
      const store = await open();
      const whole = pattern(largeBodyBytes, 4);
      const parts: Buffer[] = [];
      for (let at = 0; at < whole.length; at += 3 * MiB + 1) parts.push(whole.subarray(at, at + 3 * MiB + 1));
      const info = await store.put('big', parts);
      expect(info.size).toBe(largeBodyBytes);
      expect((await store.head('big')).size).toBe(largeBodyBytes);
      expect((await store.get('big')).equals(whole)).toBe(true);
      const from = 8 * MiB - 100;
      expect(
        (await store.get('big', { start: from, end: from + 200 })).equals(whole.subarray(from, from + 200)),
      ).toBe(true);
    });

    it('overwrites atomically: readers see the old or the new object, whole', async () => {
      const store = await open();
      const versions = [Buffer.alloc(256 * 1024, 0x61), Buffer.alloc(300 * 1024, 0x62)];
      await store.put('atomic', versions[0] as Buffer);
      let writing = true;
      const writer = (async () => {
        for (let i = 1; i <= 20; i++) await store.put('atomic', versions[i % 2] as Buffer);
        writing = false;
      })();
      let reads = 0;
      const reader = async (): Promise<void> => {
        while (writing || reads < 10) {
          const got = await store.get('atomic');
          reads++;
          expect(got.equals(versions[0] as Buffer) || got.equals(versions[1] as Buffer)).toBe(true);
        }
      };
      await Promise.all([writer, reader(), reader(), reader()]);
      expect(reads).toBeGreaterThan(0);
    });

    it('lists 2,500 keys under a prefix in key order, 1,000 a page', async () => {
      const store = await open();
      const keys = Array.from(
        { length: 2500 },
        (_, i) => `many/${String((i * 7919) % 2500).padStart(5, '0')}`,
      );
      await putMany(store, keys);
      await putMany(store, ['man', 'many', 'many-x', 'manz/1', 'other/1']);
      const sorted = [...keys].sort(compareKeys);
      const { keys: listed, pages } = await listAll(store, 'many/', 1000);
      expect(pages).toBe(3);
      expect(listed).toEqual(sorted);
      const first = await store.list({ prefix: 'many/', maxKeys: 1000 });
      expect(first.objects.length).toBe(1000);
      expect(first.objects[0]?.size).toBe(Buffer.byteLength(sorted[0] as string));
      expect((await listAll(store, 'many')).keys).toEqual(['many', 'many-x', ...sorted]);
      expect((await listAll(store, 'nothing-here/')).keys).toEqual([]);

      const { failed } = await store.deleteMany(keys);
      expect(failed).toEqual([]);
      expect((await listAll(store, 'many/')).keys).toEqual([]);
      expect((await listAll(store, '')).keys).toEqual(['man', 'many', 'many-x', 'manz/1', 'other/1']);
    });

    it('lists in UTF-8 byte order, one key a page', async () => {
      const store = await open();
      const keys = [
        'a',
        'a/b',
        'a/b/c',
        'a-b',
        'a.b',
        'a~b',
        'a%7Eb',
        'a%b',
        'ab',
        'b/x',
        'é',
        '\uFFFD',
        '\u{1F600}',
      ];
      await putMany(store, keys, 4);
      const expected = [...keys].sort(compareKeys);
      expect((await listAll(store, '')).keys).toEqual(expected);
      const { keys: paged, pages } = await listAll(store, '', 1);
      expect(paged).toEqual(expected);
      expect(pages).toBeGreaterThanOrEqual(expected.length);
      expect((await listAll(store, 'a/', 1)).keys).toEqual(['a/b', 'a/b/c']);
      await expectKind(store.list({ maxKeys: 0 }), 'invalid');
    });

    it('deletes idempotently', async () => {
      const store = await open();
      await store.delete('never/existed');
      await store.put('d/x', Buffer.from('x'));
      await store.delete('d/x');
      await expectKind(store.get('d/x'), 'not-found');
      await store.delete('d/x');
      expect((await store.deleteMany(['d/x', 'd/y'])).failed).toEqual([]);
    });

    it('rejects invalid keys with invalid', async () => {
      const store = await open();
      for (const key of INVALID_KEYS) {
        await expectKind(store.put(key, Buffer.from('x')), 'invalid');
        await expectKind(store.get(key), 'invalid');
        await expectKind(store.head(key), 'invalid');
        await expectKind(store.delete(key), 'invalid');
      }
      await store.put('ok', Buffer.from('x'));
      const { failed } = await store.deleteMany(['ok', '', 'a//b']);
      expect(failed.map((f) => [f.key, f.error.kind])).toEqual([
        ['', 'invalid'],
        ['a//b', 'invalid'],
      ]);
      await expectKind(store.get('ok'), 'not-found');
    });

    it('rejects aborted calls with aborted', async () => {
      const store = await open();
      const signal = AbortSignal.abort();
      await expectKind(store.put('ab', Buffer.from('x'), { signal }), 'aborted');
      await expectKind(store.get('ab', { signal }), 'aborted');
    });

    it('supports conditional put when capable, else reports unsupported', async () => {
      const store = await open();
      if (!store.capabilities.conditionalPut) {
        await expectKind(store.put('c', Buffer.from('x'), { ifNoneMatch: '*' }), 'unsupported');
        return;
      }
      await store.put('c', Buffer.from('first'), { ifNoneMatch: '*' });
      await expectKind(store.put('c', Buffer.from('second'), { ifNoneMatch: '*' }), 'precondition-failed');
      expect((await store.get('c')).toString()).toBe('first');
      await store.put('c', Buffer.from('third'));
      expect((await store.get('c')).toString()).toBe('third');
      if (options.atomicConditionalPut ?? true) {
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => store.put('race', Buffer.from(`w${i}`), { ifNoneMatch: '*' })),
        );
        const winners = results.filter((r) => r.status === 'fulfilled');
        expect(winners.length).toBe(1);
        for (const r of results) {
          if (r.status === 'rejected')
            expect((r.reason as ObjectStoreError).kind).toBe('precondition-failed');
        }
      }
    });
  });
}
