import { describe, expect, it } from 'vitest';
import { buildCrashImage, FaultyFile, type FaultyOp, Rng } from '../src/testing/index.ts';

const bytes = (n: number, v: number): Buffer => Buffer.alloc(n, v);

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 8 }, () => a.u32());
    expect(Array.from({ length: 8 }, () => b.u32())).toEqual(sa);
    expect(Array.from({ length: 8 }, () => c.u32())).not.toEqual(sa);
  });

  it('keeps int, logInt and float in range', () => {
    const r = new Rng(7);
    for (let i = 0; i < 2000; i++) {
      const x = r.int(3, 9);
      expect(x >= 3 && x <= 9 && Number.isInteger(x)).toBe(true);
      const y = r.logInt(1, 65536);
      expect(y >= 1 && y <= 65536).toBe(true);
      const f = r.float();
      expect(f >= 0 && f < 1).toBe(true);
    }
    expect(r.bytes(7).length).toBe(7);
  });
});

describe('FaultyFile', () => {
  it('reads see un-synced writes; only datasync makes them durable', async () => {
    const f = new FaultyFile({ size: 64 });
    await f.writev([bytes(4, 1), bytes(4, 2)], 8);
    expect([...(await f.read(8, 8))]).toEqual([1, 1, 1, 1, 2, 2, 2, 2]);
    expect(
      f
        .durableImage()
        .subarray(8, 16)
        .every((b) => b === 0),
    ).toBe(true);
    expect(f.unsyncedWrites()).toEqual([{ position: 8, length: 8, completed: true }]);
    await f.datasync();
    expect(f.durableImage().subarray(8, 16)).toEqual(Buffer.from([1, 1, 1, 1, 2, 2, 2, 2]));
    expect(f.unsyncedWrites()).toEqual([]);
  });

  it('copies written buffers (later mutation by the caller does not leak in)', async () => {
    const f = new FaultyFile({ size: 16 });
    const b = bytes(4, 5);
    await f.writev([b], 0);
    b.fill(9);
    await f.datasync();
    expect(f.durableImage()[0]).toBe(5);
  });

  it('rejects out-of-range I/O with EINVAL', async () => {
    const f = new FaultyFile({ size: 16 });
    await expect(f.writev([bytes(4, 1)], 14)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(f.read(10, 7)).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('a datasync only covers writes that completed before it was called', async () => {
    let release: (() => void) | undefined;
    const f = new FaultyFile({
      size: 32,
      delay: (op) =>
        op.kind === 'write' && op.nth === 2 ? new Promise<void>((r) => (release = r)) : undefined,
    });
    await f.writev([bytes(4, 1)], 0);
    const slow = f.writev([bytes(4, 2)], 4);
    await f.datasync();
    expect(f.durableImage().subarray(0, 8)).toEqual(Buffer.from([1, 1, 1, 1, 0, 0, 0, 0]));
    release!();
    await slow;
    await f.datasync();
    expect(f.durableImage().subarray(4, 8)).toEqual(bytes(4, 2));
  });

  it('crash drops un-synced writes by default and kills the file', async () => {
    const f = new FaultyFile({ size: 32 });
    await f.writev([bytes(8, 1)], 0);
    await f.datasync();
    await f.writev([bytes(8, 2)], 8);
    const img = f.crash();
    expect(img.subarray(0, 16)).toEqual(Buffer.concat([bytes(8, 1), bytes(8, 0)]));
    expect(f.state).toBe('crashed');
    await expect(f.read(0, 1)).rejects.toMatchObject({ code: 'EIO' });
    await expect(f.datasync()).rejects.toMatchObject({ code: 'EIO' });
    expect(() => f.crash()).toThrow();
  });

  it('crash keeps everything with keepUnsyncedFraction 1, and crashProcess keeps the page cache', async () => {
    const mk = async () => {
      const f = new FaultyFile({ size: 32 });
      await f.writev([bytes(8, 3)], 0);
      await f.writev([bytes(8, 4)], 8);
      return f;
    };
    const all = (await mk()).crash({ keepUnsyncedFraction: 1 });
    expect(all.subarray(0, 16)).toEqual(Buffer.concat([bytes(8, 3), bytes(8, 4)]));
    expect((await mk()).crashProcess().subarray(0, 16)).toEqual(all.subarray(0, 16));
  });

  it('tears the last un-synced write at a byte, sector-aligned, with zero or garbage fill', async () => {
    const old = Buffer.alloc(2048, 0xee);
    const f = FaultyFile.fromImage(old);
    await f.writev([bytes(1500, 7)], 100);
    const unsynced = [{ seq: 0, position: 100, bytes: bytes(1500, 7), completed: true }];
    const torn = buildCrashImage(old, unsynced, { tearAt: 600 }).image;
    expect(torn.subarray(100, 700).every((b) => b === 7)).toBe(true);
    expect(torn.subarray(700, 1600).every((b) => b === 0xee)).toBe(true);
    const aligned = buildCrashImage(old, unsynced, {
      tearAt: 600,
      tearSectorAligned: true,
      sectorBytes: 512,
    });
    expect(aligned.report.torn).toEqual({ position: 100, length: 1500, keptBytes: 412 });
    expect(aligned.image[511]).toBe(7);
    expect(aligned.image[512]).toBe(0xee);
    const zero = buildCrashImage(old, unsynced, { tearAt: 10, tornFill: 'zero' }).image;
    expect(zero[109]).toBe(7);
    expect(zero.subarray(110, 1600).every((b) => b === 0)).toBe(true);
    expect(zero[1600]).toBe(0xee);
    const junk = buildCrashImage(old, unsynced, { tearAt: 10, tornFill: 'garbage', seed: 3 }).image;
    expect(junk.subarray(110, 1600).equals(Buffer.alloc(1490, 7))).toBe(false);
    expect(junk.subarray(110, 1600).equals(Buffer.alloc(1490, 0xee))).toBe(false);
    const fromFile = f.crash({ tearAt: 600 });
    expect(fromFile.equals(torn)).toBe(true);
    expect(f.lastCrash?.torn?.keptBytes).toBe(600);
  });

  it('keeps seeded subsets; sector granularity keeps partial writes; same seed, same image', () => {
    const durable = Buffer.alloc(8192);
    const unsynced = Array.from({ length: 8 }, (_, i) => ({
      seq: i,
      position: i * 1024,
      bytes: bytes(1024, i + 1),
      completed: true,
    }));
    const a = buildCrashImage(durable, unsynced, { keepUnsyncedFraction: 0.5, seed: 11 });
    const b = buildCrashImage(durable, unsynced, { keepUnsyncedFraction: 0.5, seed: 11 });
    expect(a.image.equals(b.image)).toBe(true);
    for (let i = 0; i < 8; i++) {
      const chunk = a.image.subarray(i * 1024, (i + 1) * 1024);
      expect(chunk.every((x) => x === 0) || chunk.every((x) => x === i + 1)).toBe(true);
    }
    let partial = false;
    for (let seed = 0; seed < 20 && !partial; seed++) {
      const s = buildCrashImage(durable, unsynced, {
        keepUnsyncedFraction: 0.5,
        granularity: 'sector',
        seed,
      });
      for (let i = 0; i < 8; i++) {
        const chunk = s.image.subarray(i * 1024, (i + 1) * 1024);
        if (!chunk.every((x) => x === 0) && !chunk.every((x) => x === i + 1)) partial = true;
      }
    }
    expect(partial).toBe(true);
  });

  it('reorder can let an older overlapping write win', () => {
    const durable = Buffer.alloc(16);
    const unsynced = [
      { seq: 0, position: 0, bytes: bytes(16, 1), completed: true },
      { seq: 1, position: 0, bytes: bytes(16, 2), completed: true },
    ];
    const inOrder = buildCrashImage(durable, unsynced, { keepUnsyncedFraction: 1 }).image;
    expect(inOrder[0]).toBe(2);
    const seen = new Set<number>();
    for (let seed = 0; seed < 20; seed++) {
      seen.add(buildCrashImage(durable, unsynced, { keepUnsyncedFraction: 1, reorder: true, seed }).image[0]);
    }
    expect([...seen].sort()).toEqual([1, 2]);
  });

  it('injects EIO on the Nth write/datasync; a failed write has no effect', async () => {
    const f = new FaultyFile({ size: 32, failAt: { write: 2, datasync: 1 } });
    await f.writev([bytes(4, 1)], 0);
    await expect(f.writev([bytes(4, 2)], 4)).rejects.toMatchObject({ code: 'EIO' });
    expect((await f.read(4, 4)).every((x) => x === 0)).toBe(true);
    await expect(f.datasync()).rejects.toMatchObject({ code: 'EIO' });
    expect(f.durableImage()[0]).toBe(0);
    expect(f.stats.faults).toBe(2);
  });

  it('after a failed datasync the pages are lost (default) or stay dirty (keep)', async () => {
    for (const mode of ['lose', 'keep'] as const) {
      const f = new FaultyFile({ size: 32, failAt: { datasync: 1 }, syncErrorPages: mode });
      await f.writev([bytes(4, 1)], 0);
      await expect(f.datasync()).rejects.toMatchObject({ code: 'EIO' });
      expect((await f.read(0, 1))[0]).toBe(1);
      await f.datasync();
      expect(f.durableImage()[0]).toBe(mode === 'lose' ? 0 : 1);
      expect(f.crash({ keepUnsyncedFraction: 1 })[0]).toBe(mode === 'lose' ? 0 : 1);
    }
  });

  it('onOp sees every operation in order and can crash mid-flight; afterCrash hang never settles', async () => {
    const seen: FaultyOp[] = [];
    const f = new FaultyFile({
      size: 64,
      delay: () => new Promise<void>((r) => setImmediate(r)),
      onOp: (op, file) => {
        seen.push(op);
        if (op.index === 3) file.crash({ keepUnsyncedFraction: 1 });
      },
    });
    const w1 = f.writev([bytes(4, 1)], 0);
    const w2 = f.writev([bytes(4, 2)], 4);
    const s = f.datasync();
    const results = await Promise.allSettled([w1, w2, s]);
    expect(seen.map((o) => `${o.kind}#${o.nth}`)).toEqual(['write#1', 'write#2', 'datasync#1']);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(f.lastCrash).toMatchObject({ unsynced: 2, kept: 2 });

    const h = new FaultyFile({ size: 8, afterCrash: 'hang' });
    h.crash();
    const outcome = await Promise.race([
      h.read(0, 1).then(() => 'settled'),
      new Promise((r) => setTimeout(() => r('pending'), 20)),
    ]);
    expect(outcome).toBe('pending');
  });

  it('is deterministic under seeded latency (same seed, same interleaving)', async () => {
    const run = async (seed: number): Promise<string> => {
      const order: string[] = [];
      const f = new FaultyFile({ size: 1024, seed, latencyTicksMax: 4 });
      await Promise.all(
        Array.from({ length: 12 }, (_, i) => f.writev([bytes(8, i)], i * 8).then(() => order.push(`w${i}`))),
      );
      return order.join(',');
    };
    expect(await run(5)).toBe(await run(5));
    const variants = new Set<string>();
    for (let s = 0; s < 6; s++) variants.add(await run(s));
    expect(variants.size).toBeGreaterThan(1);
  });

  it('bounds the bytes written without a datasync', async () => {
    const f = new FaultyFile({ size: 64, unsyncedBytesMax: 16 });
    await f.writev([bytes(16, 1)], 0);
    await expect(f.writev([bytes(1, 2)], 16)).rejects.toThrow(/without a datasync/);
    await f.datasync();
    await f.writev([bytes(16, 3)], 16);
  });

  it('close keeps un-synced writes in the page cache and refuses further I/O', async () => {
    const f = new FaultyFile({ size: 16 });
    await f.writev([bytes(4, 6)], 0);
    await f.close();
    await expect(f.read(0, 4)).rejects.toMatchObject({ code: 'EBADF' });
    expect(f.crash({ keepUnsyncedFraction: 1 })[0]).toBe(6);
  });
});
