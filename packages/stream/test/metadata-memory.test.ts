import { describe, expect, it } from 'vitest';
import { MemoryMetadataStore } from '../src/metadata/memory.ts';
import { metadataContract } from './metadata-contract.ts';
import { expectKind, take } from './metadata-helpers.ts';

metadataContract(
  'memory',
  async ({ clock, watchBufferEventsMax }) =>
    new MemoryMetadataStore({ clock, watchBufferEventsMax, leaseCheckIntervalMs: 0 }),
);

describe('MemoryMetadataStore', () => {
  it('keeps a bounded watch history: older revisions are compacted', async () => {
    const s = new MemoryMetadataStore({ historyEventsMax: 10, leaseCheckIntervalMs: 0 });
    for (let i = 0; i < 30; i++)
      await s.txn({ success: [{ type: 'put', key: `a${i}`, value: Buffer.from('x') }] });
    const err = await expectKind(take(s.watch('', { fromRevision: 20 }), 1), 'compacted');
    expect(err.revision).toBe(20);
    expect((await take(s.watch('', { fromRevision: 21 }), 10)).map((e) => e.revision)).toEqual(
      Array.from({ length: 10 }, (_, i) => i + 21),
    );
    const big = new MemoryMetadataStore({ historyBytesMax: 1000, leaseCheckIntervalMs: 0 });
    for (let i = 0; i < 10; i++) await big.put('k', Buffer.alloc(300));
    await expectKind(take(big.watch('', { fromRevision: 7 }), 1), 'compacted');
    expect((await take(big.watch('', { fromRevision: 8 }), 3)).map((e) => e.revision)).toEqual([8, 9, 10]);
    await s.close();
    await big.close();
  });

  it('expires leases on its background timer', async () => {
    const s = new MemoryMetadataStore({ leaseCheckIntervalMs: 5 });
    const lease = await s.grantLease(20);
    await s.put('k', Buffer.from('v'), { lease: lease.id });
    const ev = await take(s.watch('k'), 1);
    expect(ev.map((e) => e.type)).toEqual(['delete']);
    await s.close();
  });
});
