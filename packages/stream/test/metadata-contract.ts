/**
 * The MetadataStore contract suite: `metadataContract(name, factory)` runs the same tests
 * against every backend (memory, embedded; etcd later). Lease tests drive time through the
 * factory's manual clock, so the backend must take `clock` (an etcd run would use real time).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualMetadataClock } from '../src/metadata/clock.ts';
import { MetadataError, type MetadataStore } from '../src/metadata/types.ts';
import { b, expectKind, take } from './metadata-helpers.ts';
import { metadataModelTests } from './metadata-model.ts';

/** What a contract factory receives. */
export interface ContractFactoryOptions {
  clock: ManualMetadataClock;
  /** Events a watcher may have unread before it is cut off. */
  watchBufferEventsMax: number;
}

/** Opens a fresh, empty store. */
export type MetadataStoreFactory = (options: ContractFactoryOptions) => Promise<MetadataStore>;

export function metadataContract(name: string, factory: MetadataStoreFactory): void {
  describe(`MetadataStore contract: ${name}`, () => {
    let clock: ManualMetadataClock;
    const open: MetadataStore[] = [];
    const fresh = async (watchBufferEventsMax = 64): Promise<MetadataStore> => {
      clock = new ManualMetadataClock(1_000);
      const s = await factory({ clock, watchBufferEventsMax });
      open.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });

    it('counts one revision per write transaction and tracks create revision and version', async () => {
      const s = await fresh();
      expect(await s.revision()).toBe(0);
      expect(await s.get('a')).toBeUndefined();
      expect(await s.put('a', b('1'))).toEqual({ revision: 1 });
      expect(await s.get('a')).toEqual({
        key: 'a',
        value: b('1'),
        revision: 1,
        createRevision: 1,
        version: 1,
      });
      await s.put('a', b('2'));
      await s.put('b', b('x'));
      expect(await s.get('a')).toEqual({
        key: 'a',
        value: b('2'),
        revision: 2,
        createRevision: 1,
        version: 2,
      });
      expect(await s.delete('a')).toEqual({ revision: 4, deleted: 1 });
      expect(await s.delete('a')).toEqual({ revision: 4, deleted: 0 });
      const read = await s.txn({ success: [{ type: 'get', key: 'b' }] });
      expect(read.revision).toBe(4);
      await s.put('a', b('3'));
      expect(await s.get('a')).toMatchObject({ revision: 5, createRevision: 5, version: 1 });
      expect(await s.revision()).toBe(5);
    });

    it('returns buffers the caller owns', async () => {
      const s = await fresh();
      const v = b('abc');
      await s.put('k', v);
      v.fill(0);
      const got = (await s.get('k'))!;
      expect(got.value).toEqual(b('abc'));
      got.value.fill(0);
      expect((await s.get('k'))!.value).toEqual(b('abc'));
    });

    it('compare-and-swap: success and failure branches, every target and op', async () => {
      const s = await fresh();
      const create = { compare: [{ key: 'k', target: 'exists' as const, op: '==' as const, value: false }] };
      const first = await s.txn({ ...create, success: [{ type: 'put', key: 'k', value: b('v1') }] });
      expect(first).toEqual({ succeeded: true, revision: 1, results: [{ type: 'put' }] });
      const again = await s.txn({
        ...create,
        success: [{ type: 'put', key: 'k', value: b('v2') }],
        failure: [{ type: 'get', key: 'k' }],
      });
      expect(again.succeeded).toBe(false);
      expect(again.revision).toBe(1);
      expect(again.results).toEqual([
        { type: 'get', kv: { key: 'k', value: b('v1'), revision: 1, createRevision: 1, version: 1 } },
      ]);
      const cas = (compare: Parameters<MetadataStore['txn']>[0]['compare']) =>
        s.txn({ compare, success: [{ type: 'get', key: 'zz' }] }).then((r) => r.succeeded);
      expect(await cas([{ key: 'k', target: 'revision', op: '==', value: 1 }])).toBe(true);
      expect(await cas([{ key: 'k', target: 'revision', op: '!=', value: 1 }])).toBe(false);
      expect(await cas([{ key: 'k', target: 'revision', op: '<', value: 2 }])).toBe(true);
      expect(await cas([{ key: 'k', target: 'revision', op: '>', value: 1 }])).toBe(false);
      expect(await cas([{ key: 'k', target: 'version', op: '==', value: 1 }])).toBe(true);
      expect(await cas([{ key: 'k', target: 'createRevision', op: '==', value: 1 }])).toBe(true);
      expect(await cas([{ key: 'k', target: 'value', op: '==', value: b('v1') }])).toBe(true);
      expect(await cas([{ key: 'k', target: 'value', op: '>', value: b('v0') }])).toBe(true);
      expect(await cas([{ key: 'k', target: 'value', op: '<', value: b('v0') }])).toBe(false);
      expect(await cas([{ key: 'k', target: 'exists', op: '!=', value: false }])).toBe(true);
      // A missing key: revisions and version 0, any value comparison false.
      expect(await cas([{ key: 'nope', target: 'revision', op: '==', value: 0 }])).toBe(true);
      expect(await cas([{ key: 'nope', target: 'version', op: '==', value: 0 }])).toBe(true);
      expect(await cas([{ key: 'nope', target: 'value', op: '!=', value: b('x') }])).toBe(false);
      // All comparisons must hold.
      expect(
        await cas([
          { key: 'k', target: 'version', op: '==', value: 1 },
          { key: 'nope', target: 'exists', op: '==', value: true },
        ]),
      ).toBe(false);
      // A stale revision fails and leaves the value alone.
      await s.put('k', b('v2'));
      const stale = await s.txn({
        compare: [{ key: 'k', target: 'revision', op: '==', value: 1 }],
        success: [{ type: 'put', key: 'k', value: b('lost') }],
      });
      expect(stale.succeeded).toBe(false);
      expect((await s.get('k'))!.value).toEqual(b('v2'));
    });

    it('applies a multi-op transaction atomically at one revision', async () => {
      const s = await fresh();
      await s.put('x/1', b('old'));
      await s.put('x/2', b('old'));
      await s.put('y', b('old'));
      const w = s.watch('', { fromRevision: 4 });
      const r = await s.txn({
        success: [
          { type: 'put', key: 'a', value: b('1') },
          { type: 'put', key: 'b', value: b('2') },
          { type: 'deleteRange', prefix: 'x/' },
          { type: 'delete', key: 'y' },
          { type: 'get', key: 'c' },
        ],
      });
      expect(r).toEqual({
        succeeded: true,
        revision: 4,
        results: [
          { type: 'put' },
          { type: 'put' },
          { type: 'deleteRange', deleted: 2 },
          { type: 'delete', deleted: 1 },
          { type: 'get', kv: undefined },
        ],
      });
      const events = await take(w, 5);
      expect(events.map((e) => [e.type, e.key, e.revision])).toEqual([
        ['put', 'a', 4],
        ['put', 'b', 4],
        ['delete', 'x/1', 4],
        ['delete', 'x/2', 4],
        ['delete', 'y', 4],
      ]);
      w.close();
      expect((await s.range('')).kvs.map((kv) => kv.key)).toEqual(['a', 'b']);
    });

    it('rejects a bad transaction as a whole, before anything is applied', async () => {
      const s = await fresh();
      const before = await s.revision();
      const put = (key: string) => ({ type: 'put' as const, key, value: b('v') });
      await expectKind(s.txn({ success: [put('a'), put('a')] }), 'invalid');
      await expectKind(s.txn({ success: [put('p/a'), { type: 'deleteRange', prefix: 'p/' }] }), 'invalid');
      await expectKind(s.txn({ success: [put('a'), { type: 'get', key: 'a' }] }), 'invalid');
      await expectKind(s.txn({ failure: [put('')] }), 'invalid');
      await expectKind(s.txn({ success: [put('k'.repeat(5000))] }), 'invalid');
      await expectKind(s.txn({ success: Array.from({ length: 200 }, (_, i) => put(`k${i}`)) }), 'invalid');
      await expectKind(
        s.txn({ success: [put('a'), { type: 'put', key: 'b', value: b('v'), lease: '999' }] }),
        'not-found',
      );
      await expectKind(s.range('', { limit: 0 }), 'invalid');
      await expectKind(s.grantLease(0), 'invalid');
      expect(await s.revision()).toBe(before);
      expect(await s.get('a')).toBeUndefined();
    });

    it('pages through a prefix in key order', async () => {
      const s = await fresh();
      const keys = Array.from({ length: 25 }, (_, i) => `p/${String(i).padStart(2, '0')}`);
      for (const k of [...keys].reverse()) await s.put(k, b(k));
      await s.put('o', b('before'));
      await s.put('p0', b('after'));
      await s.put('q/1', b('after'));
      const seen: string[] = [];
      let after: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await s.range('p/', { limit: 10, ...(after !== undefined && { after }) });
        pages++;
        expect(page.revision).toBe(28);
        seen.push(...page.kvs.map((kv) => kv.key));
        if (!page.more) break;
        after = page.kvs.at(-1)!.key;
      }
      expect(pages).toBe(3);
      expect(seen).toEqual(keys);
      const exact = await s.range('p/', { limit: 25 });
      expect(exact.more).toBe(false);
      expect((await s.range('', { limit: 3 })).kvs.map((kv) => kv.key)).toEqual(['o', 'p/00', 'p/01']);
      expect((await s.range('zz')).kvs).toEqual([]);
    });

    it('deletes the keys of an expired lease atomically, with events', async () => {
      const s = await fresh();
      const lease = await s.grantLease(1000);
      expect(lease.ttlMs).toBe(1000);
      await s.put('brokers/1', b('a'), { lease: lease.id });
      await s.txn({ success: [{ type: 'put', key: 'brokers/2', value: b('b'), lease: lease.id }] });
      await s.put('brokers/3', b('permanent'));
      const rev = await s.revision();
      const w = s.watch('brokers/');
      clock.advance(999);
      expect(await s.get('brokers/1')).toBeDefined();
      clock.advance(1);
      expect(await s.get('brokers/1')).toBeUndefined();
      expect(await s.get('brokers/2')).toBeUndefined();
      expect(await s.get('brokers/3')).toBeDefined();
      expect(await s.revision()).toBe(rev + 1);
      const events = await take(w, 2);
      expect(events.map((e) => [e.type, e.key, e.revision])).toEqual([
        ['delete', 'brokers/1', rev + 1],
        ['delete', 'brokers/2', rev + 1],
      ]);
      w.close();
      await expectKind(s.keepAlive(lease.id), 'not-found');
      await expectKind(s.put('brokers/4', b('x'), { lease: lease.id }), 'not-found');
    });

    it('keepAlive restarts the TTL; revoke ends the lease now; a put without lease detaches', async () => {
      const s = await fresh();
      const l = await s.grantLease(1000);
      await s.put('k', b('v'), { lease: l.id });
      expect((await s.get('k'))!.lease).toBe(l.id);
      clock.advance(600);
      expect(await s.keepAlive(l.id)).toEqual({ ttlMs: 1000 });
      clock.advance(600);
      expect(await s.get('k')).toBeDefined();
      clock.advance(400);
      expect(await s.get('k')).toBeUndefined();

      const l2 = await s.grantLease(5000);
      expect(l2.id).not.toBe(l.id);
      await s.put('a', b('1'), { lease: l2.id });
      await s.put('b', b('1'), { lease: l2.id });
      await s.put('b', b('2'));
      expect((await s.get('b'))!.lease).toBeUndefined();
      const rev = await s.revision();
      await s.revokeLease(l2.id);
      expect(await s.revision()).toBe(rev + 1);
      expect(await s.get('a')).toBeUndefined();
      expect((await s.get('b'))!.value).toEqual(b('2'));
      await expectKind(s.revokeLease(l2.id), 'not-found');
      // A lease without keys ends without a revision.
      const l3 = await s.grantLease(10);
      await s.revokeLease(l3.id);
      expect(await s.revision()).toBe(rev + 1);
    });

    it('watches from a revision, by prefix, in order', async () => {
      const s = await fresh();
      await s.put('t/a', b('1'));
      await s.put('u/a', b('1'));
      await s.put('t/b', b('2'));
      const live = s.watch('t/');
      const past = s.watch('t/', { fromRevision: 1 });
      const fromTwo = s.watch('t/', { fromRevision: 2 });
      await s.delete('t/a');
      await s.put('t/a', b('3'));
      await s.put('u/b', b('x'));
      expect((await take(past, 4)).map((e) => `${e.type} ${e.key}@${e.revision}`)).toEqual([
        'put t/a@1',
        'put t/b@3',
        'delete t/a@4',
        'put t/a@5',
      ]);
      expect((await take(fromTwo, 3)).map((e) => e.revision)).toEqual([3, 4, 5]);
      const ev = await take(live, 2);
      expect(ev[1]).toEqual({
        type: 'put',
        key: 't/a',
        value: b('3'),
        revision: 5,
        createRevision: 5,
        version: 1,
      });
      expect(ev[0]).toEqual({
        type: 'delete',
        key: 't/a',
        value: Buffer.alloc(0),
        revision: 4,
        createRevision: 0,
        version: 0,
      });
      // A watch from a future revision skips the changes before it; 0 means "from now".
      const future = s.watch('t/', { fromRevision: 8 });
      const now = s.watch('t/', { fromRevision: 0 });
      await s.put('t/c', b('6'));
      await s.put('t/c', b('7'));
      expect((await take(future, 1)).map((e) => e.revision)).toEqual([8]);
      expect((await take(now, 2)).map((e) => e.revision)).toEqual([7, 8]);
      for (const w of [future, now]) w.close();
      for (const w of [live, past, fromTwo]) w.close();
      // A closed watch ends.
      const it = live[Symbol.asyncIterator]();
      expect((await it.next()).done).toBe(true);
    });

    it('cuts off a slow watcher with a resumable compacted error instead of buffering without bound', async () => {
      const s = await fresh(16);
      const slow = s.watch('k/');
      for (let i = 0; i < 40; i++) await s.put(`k/${i % 5}`, b(String(i)));
      const got = await take(slow, 16);
      expect(got.map((e) => e.revision)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
      const error = await expectKind(take(slow, 1), 'compacted');
      expect(error.revision).toBe(17);
      expect(await take(slow, 1)).toEqual([]);
      // The watcher can resume where it stopped.
      const resumed = s.watch('k/', { fromRevision: 17 });
      expect((await take(resumed, 16)).map((e) => e.revision)).toEqual(
        Array.from({ length: 16 }, (_, i) => i + 17),
      );
      resumed.close();
    });

    it('fences a stale owner: the loser of an epoch compare-and-swap cannot commit', async () => {
      const s = await fresh();
      const key = 'streams/7/epoch';
      /** Open as an owner: bump the epoch with a CAS on the key's revision. */
      const openOwner = async () => {
        for (;;) {
          const cur = await s.get(key);
          const epoch = cur === undefined ? 1 : Number(cur.value.toString()) + 1;
          const r = await s.txn({
            compare: [{ key, target: 'revision', op: '==', value: cur?.revision ?? 0 }],
            success: [{ type: 'put', key, value: b(String(epoch)) }],
          });
          if (r.succeeded) return epoch;
        }
      };
      /** Commit guarded by the owner's epoch. */
      const commit = (epoch: number, end: number) =>
        s.txn({
          compare: [{ key, target: 'value', op: '==', value: b(String(epoch)) }],
          success: [{ type: 'put', key: 'streams/7/end', value: b(String(end)) }],
        });
      const a = await openOwner();
      expect((await commit(a, 10)).succeeded).toBe(true);
      const bEpoch = await openOwner();
      expect(bEpoch).toBe(a + 1);
      expect((await commit(a, 20)).succeeded).toBe(false);
      expect((await commit(bEpoch, 30)).succeeded).toBe(true);
      expect((await s.get('streams/7/end'))!.value).toEqual(b('30'));
      // Two owners racing on the same observed revision: exactly one wins.
      const cur = (await s.get(key))!;
      const race = await Promise.all(
        ['x', 'y'].map((v) =>
          s.txn({
            compare: [{ key, target: 'revision', op: '==', value: cur.revision }],
            success: [{ type: 'put', key, value: b(v) }],
          }),
        ),
      );
      expect(race.filter((r) => r.succeeded)).toHaveLength(1);
    });

    it('rejects every call after close and ends its watches', async () => {
      const s = await fresh();
      const w = s.watch('');
      const it = w[Symbol.asyncIterator]();
      const pending = it.next();
      await s.put('a', b('1'));
      expect((await pending).done).toBe(false);
      await s.close();
      await s.close();
      await expectKind(it.next(), 'closed');
      await expectKind(s.get('a'), 'closed');
      await expectKind(s.put('a', b('2')), 'closed');
      await expectKind(s.grantLease(100), 'closed');
      expect(() => s.watch('')).toThrow(MetadataError);
    });

    metadataModelTests(async () => fresh());
  });
}
