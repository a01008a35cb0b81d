import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bodyCrcOf, encodeRecordHeader } from '../src/format.ts';
import { FileWal } from '../src/index.ts';
import { COPY_DATA_MAX_BYTES, GroupIov, SLAB_BYTES, SlabPool } from '../src/iov.ts';

function fill(seed: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

/** The reference encoding: header, meta, data, back to back. */
function reference(offset: number, meta: Buffer | undefined, data: Buffer[]): Buffer {
  const h = Buffer.alloc(32);
  const dataLength = data.reduce((n, d) => n + d.length, 0);
  const m = meta ?? Buffer.alloc(0);
  encodeRecordHeader(h, 0, {
    flags: 0,
    metaLength: m.length,
    dataLength,
    offset,
    incarnation: 3,
    bodyCrc: bodyCrcOf(meta, data),
  });
  return Buffer.concat([h, m, ...data]);
}

describe('GroupIov', () => {
  it('lays records out exactly like the reference encoding; small data is copied, large referenced', () => {
    const iov = new GroupIov(new SlabPool());
    const expected: Buffer[] = [];
    const large = fill(9, COPY_DATA_MAX_BYTES + 1);
    const cases: [Buffer | undefined, Buffer[]][] = [
      [fill(1, 16), [fill(2, 100)]],
      [undefined, [fill(3, COPY_DATA_MAX_BYTES)]],
      [fill(4, 256), [fill(5, 10), Buffer.alloc(0), fill(6, 20)]],
      [fill(7, 3), [large]],
      [undefined, [Buffer.alloc(0)]],
      [fill(8, 1), [fill(10, 1000), fill(11, COPY_DATA_MAX_BYTES)]],
    ];
    let offset = 4096;
    for (const [meta, data] of cases) {
      const dataLength = data.reduce((n, d) => n + d.length, 0);
      const body = data.length === 1 ? data[0] : data;
      iov.addRecord(
        {
          meta,
          data: body,
          metaLength: meta?.length ?? 0,
          dataLength,
          bodyCrc: bodyCrcOf(meta, data),
          offset,
        },
        3,
      );
      const ref = reference(offset, meta, data);
      expected.push(ref);
      offset += ref.length;
    }
    iov.pad(100, Buffer.alloc(4096));
    iov.closeRun();
    expect(Buffer.concat(iov.list)).toEqual(Buffer.concat([...expected, Buffer.alloc(100)]));
    expect(iov.list).toContain(large); // referenced, not copied
    // runs: [1-3, header 4], large, [5, header 6], 1000 B, 2048 B (record 6 is over the copy limit), [pad]
    expect(iov.list.length).toBe(6);
  });

  it('spills into new slabs and reuses pooled ones', () => {
    const pool = new SlabPool();
    const iov = new GroupIov(pool);
    const data = fill(1, COPY_DATA_MAX_BYTES);
    const per = 32 + data.length;
    const n = Math.ceil((3 * SLAB_BYTES) / per);
    for (let i = 0; i < n; i++) {
      iov.addRecord(
        { meta: undefined, data, metaLength: 0, dataLength: data.length, bodyCrc: 0, offset: i * per },
        1,
      );
    }
    iov.closeRun();
    expect(iov.slabs.length).toBeGreaterThanOrEqual(3);
    expect(iov.list.length).toBe(iov.slabs.length);
    expect(iov.list.reduce((s, b) => s + b.length, 0)).toBe(n * per);
    pool.give(iov.slabs);
    const again = new GroupIov(pool);
    again.reserve(1);
    expect(iov.slabs).toContain(again.current);
  });
});

describe('FileWal with slab-built groups', () => {
  it('recovers mixed small and large records across many groups (slabs reused between groups)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tributary-group-iov-'));
    try {
      const path = join(dir, 'wal');
      const sizeBytes = 2 * 4096 + 4 * 1024 * 1024;
      const wal = await FileWal.open({ path, sizeBytes, groupBytesMax: 256 * 1024 });
      for await (const _ of wal.recover()) {
        // fresh
      }
      const want: { meta: Buffer; data: Buffer }[] = [];
      for (let round = 0; round < 6; round++) {
        const batch: Promise<unknown>[] = [];
        for (let i = 0; i < 120; i++) {
          const k = round * 1000 + i;
          const size = [0, 1, 700, COPY_DATA_MAX_BYTES, COPY_DATA_MAX_BYTES + 1, 9000][k % 6];
          const meta = fill(k, k % 5);
          const data = fill(k + 1, size);
          want.push({ meta, data });
          const parts = k % 4 === 0 ? [data.subarray(0, size >> 1), data.subarray(size >> 1)] : data;
          batch.push(wal.append(parts, meta));
        }
        await Promise.all(batch);
      }
      await wal.close();
      const again = await FileWal.open({ path });
      const got: { meta: Buffer; data: Buffer }[] = [];
      for await (const r of again.recover())
        got.push({ meta: Buffer.from(r.meta), data: Buffer.from(r.data) });
      await again.close();
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) {
        expect(got[i].data.equals(want[i].data)).toBe(true);
        expect(got[i].meta.equals(want[i].meta)).toBe(true);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
