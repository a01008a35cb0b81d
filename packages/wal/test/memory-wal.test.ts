import { describe, expect, it } from 'vitest';
import { createMemoryWalStore, MemoryWal } from '../src/index.ts';

async function recovered(wal: MemoryWal) {
  const out = [];
  for await (const r of wal.recover()) out.push(r);
  return out;
}

describe('MemoryWal', () => {
  it('a new MemoryWal over the same store recovers what was appended', async () => {
    const store = createMemoryWalStore();
    const a = new MemoryWal({ store });
    await recovered(a);
    const data = Buffer.from('hello');
    const r = await a.append([data, Buffer.from('!')], Buffer.from('m'));
    expect(r).toEqual({ offset: 0, nextOffset: 32 + 1 + 6 });
    data.write('HELLO'); // the caller may reuse its buffer once the append settled
    await a.close();
    const b = new MemoryWal({ store });
    const recs = await recovered(b);
    expect(recs.map((x) => [x.offset, x.meta.toString(), x.data.toString()])).toEqual([[0, 'm', 'hello!']]);
    recs[0].data.write('X'); // recovered records belong to the caller
    const c = new MemoryWal({ store });
    expect((await recovered(c))[0].data.toString()).toBe('hello!');
  });

  it('accounts 32 bytes of framing per record and no padding', async () => {
    const wal = new MemoryWal({ capacityBytes: 1000 });
    await recovered(wal);
    const rs = await Promise.all([
      wal.append(Buffer.alloc(100)),
      wal.append(Buffer.alloc(0), Buffer.alloc(10)),
    ]);
    expect(rs).toEqual([
      { offset: 0, nextOffset: 132 },
      { offset: 132, nextOffset: 174 },
    ]);
    expect(wal.usedBytes).toBe(174);
    expect(wal.capacityBytes).toBe(1000);
  });
});
