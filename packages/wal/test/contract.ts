/**
 * The WriteAheadLog contract suite, run against every implementation (contract.test.ts).
 * A harness opens the same backing store again and again (a "restart"), so recovery is part
 * of the contract.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  WAL_META_MAX_BYTES,
  type WalAppendResult,
  type WalError,
  type WalRecord,
  type WriteAheadLog,
} from '../src/index.ts';

/** How a WAL under test is created; fixed for the lifetime of one harness. */
export interface WalCreateOptions {
  /** Ring capacity in bytes (default 1 MiB). */
  capacityBytes?: number;
  full?: 'wait' | 'reject';
}

/** One backing store: `open()` (re)opens it, un-recovered; `cleanup()` removes it. */
export interface WalHarness {
  open(): Promise<WriteAheadLog>;
  cleanup(): Promise<void>;
}

export type WalHarnessFactory = (o: WalCreateOptions) => Promise<WalHarness>;

/** Opens and recovers; returns the WAL and the recovered records. */
export async function openRecovered(h: WalHarness): Promise<{ wal: WriteAheadLog; records: WalRecord[] }> {
  const wal = await h.open();
  const records: WalRecord[] = [];
  for await (const r of wal.recover()) records.push(r);
  return { wal, records };
}

async function withHarness(
  factory: WalHarnessFactory,
  o: WalCreateOptions,
  fn: (h: WalHarness) => Promise<void>,
): Promise<void> {
  const h = await factory(o);
  try {
    await fn(h);
  } finally {
    await h.cleanup();
  }
}

function expectKind(kind: WalError['kind']) {
  return expect.objectContaining({ name: 'WalError', kind });
}

/** A record's body as appended, for comparisons. */
interface Expected {
  offset: number;
  nextOffset: number;
  meta: Buffer;
  data: Buffer;
}

function bytes(seed: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

function same(records: readonly WalRecord[], expected: readonly Expected[]): void {
  expect(
    records.map((r) => [r.offset, r.nextOffset, r.meta.toString('hex'), r.data.toString('hex')]),
  ).toEqual(expected.map((r) => [r.offset, r.nextOffset, r.meta.toString('hex'), r.data.toString('hex')]));
}

const REC = 4000; // 4000 + 32 header bytes: one record per 4 KiB block when appended one at a time

export function walContract(name: string, factory: WalHarnessFactory): void {
  describe(`WriteAheadLog contract: ${name}`, () => {
    it('a fresh WAL recovers nothing and opens', async () => {
      await withHarness(factory, {}, async (h) => {
        const { wal, records } = await openRecovered(h);
        expect(records).toEqual([]);
        expect(wal.state).toBe('open');
        expect(wal.usedBytes).toBe(0);
        expect(wal.capacityBytes).toBeGreaterThanOrEqual(1024 * 1024);
        await wal.close();
        expect(wal.state).toBe('closed');
      });
    });

    it('concurrent appends get increasing offsets and resolve in offset order', async () => {
      await withHarness(factory, {}, async (h) => {
        const { wal } = await openRecovered(h);
        const order: number[] = [];
        const ps = Array.from({ length: 200 }, (_, i) =>
          wal.append(bytes(i, (i * 37) % 700), Buffer.from(`m${i}`)).then((r) => {
            order.push(i);
            return r;
          }),
        );
        const rs = await Promise.all(ps);
        expect(order).toEqual(rs.map((_, i) => i));
        for (let i = 0; i < rs.length; i++) {
          expect(rs[i].nextOffset).toBeGreaterThan(rs[i].offset);
          if (i > 0) expect(rs[i].offset).toBeGreaterThanOrEqual(rs[i - 1].nextOffset);
        }
        expect(wal.endOffset).toBeGreaterThanOrEqual(rs[rs.length - 1].nextOffset);
        await wal.close();
      });
    });

    it('recovers exactly the appended records after a reopen (meta, Buffer[] data)', async () => {
      await withHarness(factory, {}, async (h) => {
        const { wal } = await openRecovered(h);
        const exp: Expected[] = [];
        const shapes: [Buffer[], Buffer | undefined][] = [
          [[bytes(1, 10)], undefined],
          [[bytes(2, 3), Buffer.alloc(0), bytes(3, 5000)], Buffer.from('meta')],
          [[], Buffer.alloc(WAL_META_MAX_BYTES, 9)],
          [[bytes(4, 0)], Buffer.alloc(0)],
          [[bytes(5, 70_000)], Buffer.from([1, 2, 3])],
        ];
        for (const [data, meta] of shapes) {
          const r = await wal.append(data.length === 1 ? data[0] : data, meta);
          exp.push({ ...r, meta: meta ?? Buffer.alloc(0), data: Buffer.concat(data) });
        }
        await wal.close();
        const again = await openRecovered(h);
        same(again.records, exp);
        expect(again.wal.endOffset).toBeGreaterThanOrEqual(exp[exp.length - 1].nextOffset);
        const more = await again.wal.append(bytes(6, 100));
        expect(more.offset).toBeGreaterThanOrEqual(exp[exp.length - 1].nextOffset);
        await again.wal.close();
        const third = await openRecovered(h);
        same(third.records, [...exp, { ...more, meta: Buffer.alloc(0), data: bytes(6, 100) }]);
        await third.wal.close();
      });
    });

    it('trim hides trimmed records after a reopen; backwards is a no-op; beyond the end is invalid', async () => {
      await withHarness(factory, {}, async (h) => {
        const { wal } = await openRecovered(h);
        const exp: Expected[] = [];
        for (let i = 0; i < 20; i++) {
          const data = bytes(i, 100 + i);
          exp.push({ ...(await wal.append(data)), meta: Buffer.alloc(0), data });
        }
        await wal.trim(exp[5].offset);
        expect(wal.trimOffset).toBe(exp[5].offset);
        await wal.trim(exp[2].offset);
        expect(wal.trimOffset).toBe(exp[5].offset);
        await expect(wal.trim(wal.endOffset + 1)).rejects.toEqual(expectKind('invalid'));
        await wal.trim(exp[8].nextOffset);
        await wal.close();
        const again = await openRecovered(h);
        expect(again.wal.trimOffset).toBe(exp[8].nextOffset);
        same(again.records, exp.slice(9));
        await again.wal.trim(again.wal.endOffset);
        expect(again.wal.usedBytes).toBe(0);
        await again.wal.close();
        const third = await openRecovered(h);
        expect(third.records).toEqual([]);
        await third.wal.close();
      });
    });

    it('a full WAL makes appends wait; trims let them proceed in FIFO order', async () => {
      await withHarness(factory, { capacityBytes: 64 * 1024 }, async (h) => {
        const { wal } = await openRecovered(h);
        const rs: WalAppendResult[] = [];
        for (let i = 0; i < 16; i++) rs.push(await wal.append(bytes(i, REC)));
        const order: number[] = [];
        const settled = new Set<number>();
        // The last one is small and would fit a MemoryWal now, but must queue behind the others.
        const waiting = [16, 17, 18, 19, 20].map((i) =>
          wal.append(bytes(i, i === 20 ? 100 : REC)).then((r) => {
            order.push(i);
            settled.add(i);
            return r;
          }),
        );
        await sleep(30);
        expect(settled.size).toBe(0);
        await wal.trim(rs[1].offset);
        await waiting[0];
        await sleep(30);
        expect([...settled]).toEqual([16]);
        await wal.trim(rs[5].offset);
        const late = await Promise.all(waiting);
        expect(order).toEqual([16, 17, 18, 19, 20]);
        for (let i = 1; i < late.length; i++) expect(late[i].offset).toBeGreaterThan(late[i - 1].offset);
        expect(wal.usedBytes).toBeLessThanOrEqual(wal.capacityBytes);
        await wal.close();
        const again = await openRecovered(h);
        expect(again.records.map((r) => r.data.toString('hex'))).toEqual(
          Array.from({ length: 16 }, (_, i) => bytes(i + 5, i === 15 ? 100 : REC).toString('hex')),
        );
        expect(again.records[again.records.length - 1].offset).toBe(late[4].offset);
        await again.wal.close();
      });
    });

    it("full: 'reject' fails appends that do not fit with WalError('full')", async () => {
      await withHarness(factory, { capacityBytes: 64 * 1024, full: 'reject' }, async (h) => {
        const { wal } = await openRecovered(h);
        const rs: WalAppendResult[] = [];
        let error: unknown;
        for (let i = 0; i < 100 && error === undefined; i++) {
          await wal.append(bytes(i, REC)).then(
            (r) => rs.push(r),
            (e) => {
              error = e;
            },
          );
        }
        expect(error).toEqual(expectKind('full'));
        expect(rs.length).toBe(16);
        await wal.trim(rs[1].offset);
        await wal.append(bytes(99, REC));
        await expect(wal.append(bytes(98, REC))).rejects.toEqual(expectKind('full'));
        await wal.close();
      });
    });

    it('records that can never fit are too-large; oversized meta is invalid', async () => {
      await withHarness(factory, { capacityBytes: 64 * 1024 }, async (h) => {
        const { wal } = await openRecovered(h);
        await expect(wal.append(Buffer.alloc(64 * 1024))).rejects.toEqual(expectKind('too-large'));
        const meta = Buffer.alloc(WAL_META_MAX_BYTES + 1);
        await expect(wal.append(Buffer.alloc(1), meta)).rejects.toEqual(expectKind('invalid'));
        await wal.append(Buffer.alloc(1), Buffer.alloc(WAL_META_MAX_BYTES));
        await wal.close();
      });
    });

    it('append and trim before recovery completes are invalid; recover() runs once', async () => {
      await withHarness(factory, {}, async (h) => {
        const wal = await h.open();
        expect(wal.state).toBe('recovering');
        await expect(wal.append(Buffer.alloc(1))).rejects.toEqual(expectKind('invalid'));
        await expect(wal.trim(0)).rejects.toEqual(expectKind('invalid'));
        for await (const _ of wal.recover()) expect.fail('fresh WAL yielded a record');
        expect(wal.state).toBe('open');
        const again = async () => {
          for await (const _ of wal.recover()) expect.fail('second recover yielded');
        };
        await expect(again()).rejects.toEqual(expectKind('invalid'));
        await wal.close();
      });
    });

    it('close lets accepted appends finish, rejects waiters and later calls with closed', async () => {
      await withHarness(factory, { capacityBytes: 64 * 1024 }, async (h) => {
        const { wal } = await openRecovered(h);
        const accepted = Array.from({ length: 10 }, (_, i) => wal.append(bytes(i, 100)));
        const rs = await Promise.all(accepted.slice(0, 1));
        const big = Array.from({ length: 20 }, (_, i) => wal.append(bytes(i, REC)));
        const results = await Promise.allSettled([...accepted, ...big, wal.close()]);
        for (const r of results.slice(0, 10)) expect(r.status).toBe('fulfilled');
        const rejected = results.slice(10, 30).filter((r) => r.status === 'rejected');
        expect(rejected.length).toBeGreaterThan(0);
        for (const r of rejected) expect((r as PromiseRejectedResult).reason).toEqual(expectKind('closed'));
        await expect(wal.append(Buffer.alloc(1))).rejects.toEqual(expectKind('closed'));
        await expect(wal.trim(rs[0].nextOffset)).rejects.toEqual(expectKind('closed'));
        await wal.close();
        const again = await openRecovered(h);
        const fulfilled = results.slice(0, 30).filter((r) => r.status === 'fulfilled').length;
        expect(again.records.length).toBe(fulfilled);
        await again.wal.close();
      });
    });

    it('property: random appends, trims and reopens match a model', async () => {
      type Cmd =
        | { t: 'append'; sizes: number[]; metas: number[] }
        | { t: 'trim'; pick: number; useNext: boolean }
        | { t: 'reopen' };
      const cmd: fc.Arbitrary<Cmd> = fc.oneof(
        {
          weight: 5,
          arbitrary: fc.record({
            t: fc.constant('append' as const),
            sizes: fc.array(fc.nat(3000), { minLength: 1, maxLength: 8 }),
            metas: fc.array(fc.nat(WAL_META_MAX_BYTES), { minLength: 8, maxLength: 8 }),
          }),
        },
        {
          weight: 2,
          arbitrary: fc.record({ t: fc.constant('trim' as const), pick: fc.nat(), useNext: fc.boolean() }),
        },
        { weight: 1, arbitrary: fc.record({ t: fc.constant('reopen' as const) }) },
      );
      let seq = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(cmd, { minLength: 1, maxLength: 25 }), async (cmds) => {
          await withHarness(factory, { capacityBytes: 1024 * 1024 }, async (h) => {
            let { wal } = await openRecovered(h);
            let live: Expected[] = [];
            for (const c of cmds) {
              if (c.t === 'append') {
                const ps = c.sizes.map((n, i) => {
                  const data = bytes(seq++, n);
                  const meta = bytes(seq++, c.metas[i] % 17);
                  return wal
                    .append(i % 2 === 0 ? data : [data.subarray(0, n >> 1), data.subarray(n >> 1)], meta)
                    .then((r) => ({ ...r, meta, data }));
                });
                const got = await Promise.all(ps);
                for (let i = 1; i < got.length; i++)
                  expect(got[i].offset).toBeGreaterThanOrEqual(got[i - 1].nextOffset);
                live.push(...got);
              } else if (c.t === 'trim') {
                if (live.length === 0) continue;
                const r = live[c.pick % live.length];
                const at = c.useNext ? r.nextOffset : r.offset;
                await wal.trim(at);
                live = live.filter((x) => x.offset >= at);
              } else {
                await wal.close();
                const again = await openRecovered(h);
                same(again.records, live);
                wal = again.wal;
              }
            }
            await wal.close();
            const last = await openRecovered(h);
            same(last.records, live);
            await last.wal.close();
          });
        }),
        { numRuns: 25 },
      );
    });
  });
}
