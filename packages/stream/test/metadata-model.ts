/**
 * A fast-check model test for the contract suite: random transactions against a store and
 * against a few lines of reference semantics; every result and the final state must agree.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { Compare, KeyValue, MetadataStore, Txn, TxnOp, TxnOpResult } from '../src/metadata/types.ts';

const KEYS = ['a', 'b', 'c', 'd/1', 'd/2', 'd/3'];
const PREFIXES = ['d/', 'd/1', 'c', 'e'];
const VALUES = ['v0', 'v1', 'v2'];

const opArb: fc.Arbitrary<TxnOp> = fc.oneof(
  fc
    .record({
      type: fc.constant('put' as const),
      key: fc.constantFrom(...KEYS),
      value: fc.constantFrom(...VALUES),
    })
    .map((o) => ({
      ...o,
      value: Buffer.from(o.value),
    })),
  fc.record({ type: fc.constant('delete' as const), key: fc.constantFrom(...KEYS) }),
  fc.record({ type: fc.constant('deleteRange' as const), prefix: fc.constantFrom(...PREFIXES) }),
  fc.record({ type: fc.constant('get' as const), key: fc.constantFrom(...KEYS) }),
);

/** Drop ops that would make a branch invalid (a key written twice, or read and written). */
function validBranch(ops: TxnOp[]): TxnOp[] {
  const out: TxnOp[] = [];
  const touches = (op: TxnOp, key: string) =>
    op.type === 'deleteRange' ? key.startsWith(op.prefix) : op.key === key;
  for (const op of ops) {
    const conflict = out.some((prev) => {
      if (prev.type === 'get' && op.type === 'get') return false;
      if (op.type === 'deleteRange' && prev.type === 'deleteRange') {
        return op.prefix.startsWith(prev.prefix) || prev.prefix.startsWith(op.prefix);
      }
      if (op.type === 'deleteRange') return prev.type !== 'deleteRange' && touches(op, prev.key);
      return touches(prev, op.key);
    });
    if (!conflict) out.push(op);
  }
  return out;
}

const compareArb: fc.Arbitrary<Compare> = fc.oneof(
  fc.record({
    key: fc.constantFrom(...KEYS),
    target: fc.constantFrom('revision' as const, 'createRevision' as const, 'version' as const),
    op: fc.constantFrom('==' as const, '!=' as const, '<' as const, '>' as const),
    value: fc.integer({ min: 0, max: 8 }),
  }),
  fc
    .record({
      key: fc.constantFrom(...KEYS),
      target: fc.constant('value' as const),
      op: fc.constantFrom('==' as const, '!=' as const, '<' as const, '>' as const),
      value: fc.constantFrom(...VALUES),
    })
    .map((c) => ({ ...c, value: Buffer.from(c.value) })),
  fc.record({
    key: fc.constantFrom(...KEYS),
    target: fc.constant('exists' as const),
    op: fc.constantFrom('==' as const, '!=' as const),
    value: fc.boolean(),
  }),
);

export const txnArb: fc.Arbitrary<Txn> = fc.record({
  compare: fc.array(compareArb, { maxLength: 2 }),
  success: fc.array(opArb, { maxLength: 5 }).map(validBranch),
  failure: fc.array(opArb, { maxLength: 3 }).map(validBranch),
});

/** The reference: a map and a revision counter. */
export class ReferenceModel {
  revision = 0;
  readonly kvs = new Map<string, KeyValue>();

  private holds(c: Compare): boolean {
    const kv = this.kvs.get(c.key);
    const cmp = (d: number) => ({ '==': d === 0, '!=': d !== 0, '<': d < 0, '>': d > 0 })[c.op];
    switch (c.target) {
      case 'exists':
        return c.op === '==' ? (kv !== undefined) === c.value : (kv !== undefined) !== c.value;
      case 'value':
        return kv !== undefined && cmp(Buffer.compare(kv.value, c.value));
      default:
        return cmp((kv?.[c.target] ?? 0) - c.value);
    }
  }

  txn(t: Txn): { succeeded: boolean; revision: number; results: TxnOpResult[] } {
    const succeeded = (t.compare ?? []).every((c) => this.holds(c));
    const ops = (succeeded ? t.success : t.failure) ?? [];
    const results: TxnOpResult[] = [];
    const puts: [string, Buffer][] = [];
    const dels = new Set<string>();
    for (const op of ops) {
      if (op.type === 'get') {
        const kv = this.kvs.get(op.key);
        results.push({ type: 'get', kv: kv && { ...kv } });
      } else if (op.type === 'put') {
        puts.push([op.key, op.value]);
        results.push({ type: 'put' });
      } else if (op.type === 'delete') {
        const n = this.kvs.has(op.key) ? 1 : 0;
        if (n) dels.add(op.key);
        results.push({ type: 'delete', deleted: n });
      } else {
        const keys = [...this.kvs.keys()].filter((k) => k.startsWith(op.prefix));
        for (const k of keys) dels.add(k);
        results.push({ type: 'deleteRange', deleted: keys.length });
      }
    }
    if (puts.length + dels.size > 0) {
      const rev = ++this.revision;
      for (const [key, value] of puts) {
        const old = this.kvs.get(key);
        this.kvs.set(key, {
          key,
          value,
          revision: rev,
          createRevision: old?.createRevision ?? rev,
          version: (old?.version ?? 0) + 1,
        });
      }
      for (const k of dels) this.kvs.delete(k);
    }
    return { succeeded, revision: this.revision, results };
  }

  sorted(): KeyValue[] {
    return [...this.kvs.values()].sort((x, y) => (x.key < y.key ? -1 : 1));
  }
}

/** Register the model test (inside a contract `describe`). */
export function metadataModelTests(fresh: () => Promise<MetadataStore>): void {
  it('agrees with a reference model on random transactions', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(txnArb, { minLength: 1, maxLength: 25 }), async (txns) => {
        const store = await fresh();
        const ref = new ReferenceModel();
        for (const t of txns) expect(await store.txn(t)).toEqual(ref.txn(t));
        expect((await store.range('')).kvs).toEqual(ref.sorted());
        expect(await store.revision()).toBe(ref.revision);
        await store.close();
      }),
      { numRuns: 40 },
    );
  });
}
