import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crc32c, crc32cPure } from '../src/crc32c.ts';
import { decodeRecordHeader, encodeRecordHeader, FLAG_GROUP_END } from '../src/format.ts';
import { FileWal, openNodeWalFile, type WalFile, type WalRecord } from '../src/index.ts';
import { decodeSuperblock, encodeSuperblock } from '../src/superblock.ts';

const A = 4096;
const RING_START = 2 * A;
let dir = '';
let path = '';

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-file-wal-'));
  path = join(dir, 'wal');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function openRecovered(o: Partial<Parameters<typeof FileWal.open>[0]> = {}) {
  const wal = await FileWal.open({ path, sizeBytes: RING_START + 64 * 1024, ...o });
  const records: WalRecord[] = [];
  for await (const r of wal.recover()) records.push(r);
  return { wal, records };
}

function fill(seed: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 13 + i) & 0xff;
  return b;
}

/** Overwrites bytes of the file at an absolute position. */
function poke(position: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, position);
  } finally {
    closeSync(fd);
  }
}

function peek(position: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(length);
    readSync(fd, b, 0, length, position);
    return b;
  } finally {
    closeSync(fd);
  }
}

/** Physical position of a logical offset in a ring of `ring` bytes. */
const at = (offset: number, ring = 64 * 1024) => RING_START + (offset % ring);

interface Counts {
  writev: number;
  datasync: number;
  writeBytes: number[];
}

/** Wraps a WalFile, counting calls and optionally failing the Nth datasync / writev. */
function wrap(
  inner: WalFile,
  counts: Counts,
  fail: { datasyncAt?: number; writevAt?: number } = {},
): WalFile {
  return {
    get size() {
      return inner.size;
    },
    async writev(buffers, position) {
      counts.writev++;
      counts.writeBytes.push(buffers.reduce((n, b) => n + b.length, 0));
      if (counts.writev === fail.writevAt) throw new Error('injected EIO on writev');
      return inner.writev(buffers, position);
    },
    read: (p, n) => inner.read(p, n),
    async datasync() {
      counts.datasync++;
      if (counts.datasync === fail.datasyncAt) throw new Error('injected EIO on fdatasync');
      return inner.datasync();
    },
    close: () => inner.close(),
  };
}

describe('FileWal ring', () => {
  it('wraps around the ring for many laps, recovering exactly the live records every lap', async () => {
    let live: { offset: number; data: Buffer }[] = [];
    let seed = 0;
    for (let lap = 0; lap < 24; lap++) {
      const { wal, records } = await openRecovered();
      expect(records.map((r) => [r.offset, r.data.toString('hex')])).toEqual(
        live.map((r) => [r.offset, r.data.toString('hex')]),
      );
      // Keep the ring about half full: append ~40 KiB in concurrent batches, then trim old records.
      for (let batch = 0; batch < 4; batch++) {
        const datas = Array.from({ length: 5 }, () => fill(seed, 100 + ((seed++ * 997) % 2000)));
        const rs = await Promise.all(datas.map((d) => wal.append(d)));
        live.push(...rs.map((r, i) => ({ offset: r.offset, data: datas[i] })));
      }
      const keep = live.length > 12 ? live[live.length - 12].offset : live[0].offset;
      await wal.trim(keep);
      live = live.filter((r) => r.offset >= keep);
      await wal.close();
    }
    const { wal } = await openRecovered();
    expect(wal.endOffset).toBeGreaterThan(10 * wal.capacityBytes);
    await wal.close();
  });

  it('stale records of an earlier lap never validate', async () => {
    let { wal } = await openRecovered();
    // Lap 1: one record per 4 KiB block (appended one at a time, so one group each).
    const lap1: { offset: number; nextOffset: number }[] = [];
    for (let i = 0; i < 16; i++) lap1.push(await wal.append(fill(i, 4000)));
    await wal.trim(lap1[15].nextOffset);
    // Lap 2: shorter; the blocks after it still hold well-formed lap-1 records.
    const lap2: { offset: number }[] = [];
    for (let i = 0; i < 3; i++) lap2.push(await wal.append(fill(100 + i, 4000)));
    expect(lap2[0].offset).toBe(64 * 1024);
    await wal.close();
    const next = at(lap2[2].offset) + A;
    expect(peek(next, 4).readUInt32LE(0)).toBe(0x4c415754); // a lap-1 header sits right after lap 2
    ({ wal } = await openRecovered().then((r) => {
      expect(r.records.map((x) => x.offset)).toEqual(lap2.map((x) => x.offset));
      expect(r.records.map((x) => x.data[0])).toEqual([fill(100, 1)[0], fill(101, 1)[0], fill(102, 1)[0]]);
      return r;
    }));
    await wal.close();
  });

  it('a torn group of an earlier incarnation never validates after a shorter later group', async () => {
    let { wal } = await openRecovered();
    // One group: r1 [0, 4096), r2 [4096, 8192), r3 at 8192 (all incarnation 1).
    const rs = await Promise.all([
      wal.append(fill(1, 4064)),
      wal.append(fill(2, 4064)),
      wal.append(fill(3, 100)),
    ]);
    expect(rs.map((r) => r.offset)).toEqual([0, 4096, 8192]);
    await wal.close();
    poke(at(4096) + 1000, Buffer.from('torn')); // r2's body lost: the group was torn
    let r = await openRecovered();
    expect(r.records.map((x) => x.offset)).toEqual([0]);
    // Incarnation 2 starts at 4096 and writes a short group; r3 (incarnation 1) follows its padding.
    const fresh = await r.wal.append(fill(4, 10));
    expect(fresh.offset).toBe(4096);
    await r.wal.close();
    r = await openRecovered();
    expect(r.records.map((x) => [x.offset, x.data[0]])).toEqual([
      [0, fill(1, 1)[0]],
      [4096, fill(4, 1)[0]],
    ]);
    await r.wal.close();
    wal = r.wal;
    expect(wal.state).toBe('closed');
  });

  it('after a torn tail, a trim to the recovered end does not resurrect stale records', async () => {
    let r = await openRecovered();
    // One group: r1 [0, 3032), r2 [3032, 4096), r3 [4096, ...).
    const rs = await Promise.all([
      r.wal.append(fill(1, 3000)),
      r.wal.append(fill(2, 1032)),
      r.wal.append(fill(3, 50)),
    ]);
    expect(rs.map((x) => x.offset)).toEqual([0, 3032, 4096]);
    await r.wal.close();
    poke(at(3032) + 100, Buffer.from('torn'));
    r = await openRecovered();
    expect(r.records.map((x) => x.offset)).toEqual([0]);
    await r.wal.trim(3032);
    await r.wal.close();
    for (let i = 0; i < 2; i++) {
      r = await openRecovered();
      expect(r.records).toEqual([]);
      expect(r.wal.trimOffset).toBe(3032);
      expect(r.wal.endOffset).toBe(4096);
      await r.wal.close();
    }
    r = await openRecovered();
    const x = await r.wal.append(fill(9, 20));
    await r.wal.close();
    r = await openRecovered();
    expect(r.records.map((y) => [y.offset, y.data.toString('hex')])).toEqual([
      [x.offset, fill(9, 20).toString('hex')],
    ]);
    await r.wal.close();
  });
});

describe('FileWal group commit', () => {
  it('256 concurrent appends share a few groups: one writev and one fdatasync each', async () => {
    const counts: Counts = { writev: 0, datasync: 0, writeBytes: [] };
    const file = wrap(await openNodeWalFile(path, RING_START + 8 * 1024 * 1024), counts);
    const { wal } = await openRecovered({ file });
    const base = { ...counts };
    const rs = await Promise.all(Array.from({ length: 256 }, (_, i) => wal.append(fill(i, 1024))));
    const groups = counts.datasync - base.datasync;
    expect(groups).toBeGreaterThanOrEqual(1);
    expect(groups).toBeLessThanOrEqual(4);
    expect(counts.writev - base.writev).toBe(groups);
    expect(rs[255].nextOffset).toBe(256 * (1024 + 32));
    // Awaited one by one, every append is its own group.
    const before = { ...counts };
    for (let i = 0; i < 10; i++) await wal.append(fill(i, 10));
    expect(counts.datasync - before.datasync).toBe(10);
    expect(counts.writev - before.writev).toBe(10);
    await wal.close();
  });

  it('a trim issued while a group is in flight shares the next group fdatasync', async () => {
    const counts: Counts = { writev: 0, datasync: 0, writeBytes: [] };
    const file = wrap(await openNodeWalFile(path, RING_START + 1024 * 1024), counts);
    const { wal } = await openRecovered({ file });
    const first = await wal.append(fill(0, 100));
    const w0 = counts.writev;
    const d0 = counts.datasync;
    const inFlight = wal.append(fill(1, 100)); // its group starts on the next microtask
    await Promise.resolve();
    const trimmed = wal.trim(first.nextOffset);
    const next = wal.append(fill(2, 100));
    await Promise.all([inFlight, trimmed, next]);
    expect(wal.trimOffset).toBe(first.nextOffset);
    expect(counts.datasync - d0).toBe(2); // two groups; the trim rode on the second
    expect(counts.writev - w0).toBe(3);
    await wal.trim(wal.endOffset); // idle: a superblock write of its own
    expect(counts.datasync - d0).toBe(3);
    await wal.close();
    const r = await openRecovered();
    expect(r.records).toEqual([]);
    await r.wal.close();
  });

  it('groups stay within groupBytesMax, and a group across the ring end takes two writev calls', async () => {
    const counts: Counts = { writev: 0, datasync: 0, writeBytes: [] };
    const file = wrap(await openNodeWalFile(path, RING_START + 1024 * 1024), counts);
    const { wal } = await openRecovered({ file, groupBytesMax: 256 * 1024 });
    const before = counts.writeBytes.length;
    await Promise.all(Array.from({ length: 12 }, (_, i) => wal.append(fill(i, 64 * 1024))));
    const sizes = counts.writeBytes.slice(before);
    expect(sizes.length).toBeGreaterThanOrEqual(4);
    for (const n of sizes) expect(n).toBeLessThanOrEqual(256 * 1024 + A);
    // Move the end close to the ring end, then write one group across it.
    await wal.trim(wal.endOffset);
    const pad = wal.capacityBytes - (wal.endOffset % wal.capacityBytes) - 8192;
    await wal.append(Buffer.alloc(pad - 32));
    const w0 = counts.writev;
    const d0 = counts.datasync;
    const cross = await Promise.all([wal.append(fill(1, 6000)), wal.append(fill(2, 6000))]);
    expect(counts.writev - w0).toBe(2);
    expect(counts.datasync - d0).toBe(1);
    await wal.close();
    const r = await openRecovered({ file: wrap(await openNodeWalFile(path, 0), counts) });
    expect(r.records.slice(-2).map((x) => x.offset)).toEqual(cross.map((x) => x.offset));
    expect(r.records[r.records.length - 1].data.equals(fill(2, 6000))).toBe(true);
    await r.wal.close();
  });
});

describe('FileWal failure', () => {
  it('an fdatasync error fails the WAL: pending and later appends reject with failed (no retry)', async () => {
    const counts: Counts = { writev: 0, datasync: 0, writeBytes: [] };
    // datasync 1 is the incarnation bump at recovery; 2 is the first group.
    const file = wrap(await openNodeWalFile(path, RING_START + 1024 * 1024), counts, { datasyncAt: 3 });
    const { wal } = await openRecovered({ file });
    await wal.append(fill(0, 10));
    const pending = Array.from({ length: 20 }, (_, i) => wal.append(fill(i, 100)));
    const results = await Promise.allSettled(pending);
    for (const res of results) {
      expect(res.status).toBe('rejected');
      const e = (res as PromiseRejectedResult).reason;
      expect(e).toMatchObject({ name: 'WalError', kind: 'failed' });
      expect((e.cause as Error).message).toBe('injected EIO on fdatasync');
    }
    expect(wal.state).toBe('failed');
    const syncs = counts.datasync;
    await expect(wal.append(fill(1, 1))).rejects.toMatchObject({ kind: 'failed' });
    await expect(wal.trim(0)).rejects.toMatchObject({ kind: 'failed' });
    expect(counts.datasync).toBe(syncs);
    await wal.close();
    expect(wal.state).toBe('failed');
  });

  it('a writev error fails the WAL too', async () => {
    const counts: Counts = { writev: 0, datasync: 0, writeBytes: [] };
    const file = wrap(await openNodeWalFile(path, RING_START + 1024 * 1024), counts, { writevAt: 2 });
    const { wal } = await openRecovered({ file });
    await expect(wal.append(fill(0, 10))).rejects.toMatchObject({ kind: 'failed' });
    expect(counts.datasync).toBe(1);
    await wal.close();
  });
});

describe('FileWal superblock', () => {
  async function twoSlots() {
    const { wal } = await openRecovered(); // seq 1 → slot 1
    const rs = [];
    for (let i = 0; i < 6; i++) rs.push(await wal.append(fill(i, 100)));
    await wal.trim(rs[2].offset); // seq 2 → slot 0
    await wal.close();
    return rs;
  }

  it('uses the valid slot with the highest sequence number', async () => {
    const rs = await twoSlots();
    let r = await openRecovered(); // seq 3 → slot 1
    expect(r.wal.trimOffset).toBe(rs[2].offset);
    await r.wal.trim(rs[4].offset); // seq 4 → slot 0
    await r.wal.close();
    poke(20, Buffer.from('rot')); // slot 0 (seq 4) corrupt: fall back to slot 1 (seq 3)
    r = await openRecovered();
    expect(r.wal.trimOffset).toBe(rs[2].offset);
    expect(r.records.map((x) => x.offset)).toEqual(rs.slice(2).map((x) => x.offset));
    await r.wal.close();
  });

  it('both slots corrupt (or garbage in a fresh file) is WalError corrupt', async () => {
    await twoSlots();
    poke(20, Buffer.from('rot'));
    poke(A + 20, Buffer.from('rot'));
    await expect(FileWal.open({ path })).rejects.toMatchObject({ name: 'WalError', kind: 'corrupt' });
    const other = join(dir, 'other');
    await (await openNodeWalFile(other, RING_START + 65536)).close();
    const fd = openSync(other, 'r+');
    writeSync(fd, Buffer.from('not a wal'), 0, 9, A);
    closeSync(fd);
    await expect(FileWal.open({ path: other })).rejects.toMatchObject({ kind: 'corrupt' });
  });

  it('an existing WAL keeps its own alignment and size', async () => {
    const rs = await twoSlots();
    const r = await openRecovered({ alignBytes: 8192, sizeBytes: 1 << 30 });
    expect(r.wal.capacityBytes).toBe(64 * 1024);
    expect(r.records.map((x) => x.offset)).toEqual(rs.slice(2).map((x) => x.offset));
    await r.wal.close();
  });
});

describe('FileWal format', () => {
  it('CRC-32C: known answers, native and pure agree, continuation', () => {
    expect(crc32cPure(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
    for (let n = 0; n < 3000; n += 97) {
      const a = fill(n, n);
      const b = fill(n + 1, 3000 - n);
      const whole = crc32cPure(Buffer.concat([a, b]));
      expect(crc32c(Buffer.concat([a, b]))).toBe(whole);
      expect(crc32c(b, crc32c(a))).toBe(whole);
    }
  });

  it('record headers round-trip and any flipped bit is rejected', () => {
    const h = {
      flags: FLAG_GROUP_END,
      metaLength: 7,
      dataLength: 123456,
      offset: 2 ** 40 + 5,
      incarnation: 9,
      bodyCrc: 0xdeadbeef,
    };
    const b = Buffer.alloc(40);
    encodeRecordHeader(b, 4, h);
    expect(decodeRecordHeader(b, 4)).toEqual(h);
    for (let bit = 0; bit < 32 * 8; bit++) {
      const c = Buffer.from(b);
      c[4 + (bit >> 3)] ^= 1 << (bit & 7);
      expect(decodeRecordHeader(c, 4)).toBeNull();
    }
  });

  it('superblocks round-trip; zero slots are empty, damaged ones invalid', () => {
    const sb = {
      alignBytes: A,
      incarnation: 3,
      sizeBytes: 1 << 30,
      ringStart: 2 * A,
      ringBytes: (1 << 30) - 2 * A,
      seq: 7,
      trimOffset: 2 ** 35,
      incStart: 2 ** 35 + A,
    };
    const b = encodeSuperblock(sb, A);
    expect(b.length).toBe(A);
    expect(decodeSuperblock(b)).toEqual({ kind: 'valid', sb });
    expect(decodeSuperblock(Buffer.alloc(A))).toEqual({ kind: 'empty' });
    const c = Buffer.from(b);
    c[50] ^= 4;
    expect(decodeSuperblock(c).kind).toBe('invalid');
  });
});
