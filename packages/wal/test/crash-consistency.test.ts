/**
 * Crash consistency of FileWal over the fault-injecting file layer: hundreds of seeded crash
 * points (torn, dropped, reordered and sector-wise partial writes), several incarnations per
 * chain so stale bytes of earlier laps and incarnations meet the recovery. Every failure
 * prints its seed; `WAL_CRASH_SEED=<seed>` replays one chain, `WAL_CRASH_ROUNDS=<n>` runs more.
 */
import { describe, expect, it } from 'vitest';
import { RECORD_HEADER_BYTES } from '../src/format.ts';
import { FileWal, WalError, type WalRecord } from '../src/index.ts';
import { FaultyFile, Rng, seedFromEnv } from '../src/testing/index.ts';
import { type Geometry, randomCrashOptions, runIncarnation } from './fixtures/crash-workload.ts';
import { WalModel } from './fixtures/model.ts';
import { type GenRecord, makeRecord } from './fixtures/records.ts';

const RING_BYTES = 256 * 1024;
const replaySeed = process.env.WAL_CRASH_SEED;
const baseSeed = seedFromEnv('WAL_CRASH_SEED');
const rounds = Number(process.env.WAL_CRASH_ROUNDS ?? (replaySeed ? 1 : 600));
/** The EIO scenarios are cheaper to cover: fewer seeds by default. */
const eioRounds = Number(process.env.WAL_CRASH_ROUNDS ?? (replaySeed ? 1 : 100));
const INCARNATIONS = 5;

function geometryFor(rng: Rng): Geometry {
  const alignBytes = rng.pick([4096, 4096, 512]);
  return {
    alignBytes,
    sizeBytes: 2 * alignBytes + RING_BYTES,
    groupBytesMax: rng.pick([undefined, 128 * 1024, 96 * 1024]),
    dataBytesMax: rng.pick([64 * 1024, 64 * 1024, 8 * 1024]),
    framing: rng.chance(0.5)
      ? { multiple: 512, headerBytes: RECORD_HEADER_BYTES, chance: rng.pick([0.5, 0.9]) }
      : undefined,
  };
}

/** Runs `fn(seed)` for `rounds` consecutive seeds; a failure names the seed that replays it. */
async function forEachSeed(label: string, count: number, fn: (seed: number) => Promise<void>): Promise<void> {
  for (let r = 0; r < count; r++) {
    const seed = (baseSeed + r) >>> 0;
    try {
      await fn(seed);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      e.message = `[${label}] seed ${seed} failed (replay: WAL_CRASH_SEED=${seed}): ${e.message}`;
      throw e;
    }
  }
}

async function recoverAll(wal: FileWal): Promise<WalRecord[]> {
  const out: WalRecord[] = [];
  for await (const r of wal.recover()) out.push(r);
  return out;
}

describe('FileWal crash consistency (fault-injecting file)', () => {
  it(`recovers an exact prefix holding every acknowledged record (${rounds} chains x ${INCARNATIONS} crashes)`, {
    timeout: 60_000 + rounds * 50,
  }, async () => {
    const totals = { crashes: 0, acked: 0, recovered: 0, trims: 0, crashInOpen: 0, laps: 0 };
    await forEachSeed('chain', rounds, async (seed) => {
      const rng = new Rng(seed);
      const geo = geometryFor(rng);
      const model = new WalModel();
      let image: Buffer = Buffer.alloc(geo.sizeBytes);
      for (let inc = 0; inc < INCARNATIONS; inc++) {
        // The very first open formats the file; a crash inside it leaves no WAL at all.
        const res = await runIncarnation(rng, image, geo, model, (seed ^ (inc << 24)) >>> 0, {
          crashDuringOpen: inc > 0,
        });
        image = res.image;
        totals.crashes++;
        totals.acked += res.acked;
        totals.trims += res.trims;
        if (!res.recovered) totals.crashInOpen++;
      }
      // A final recovery checks the last crash.
      const wal = await FileWal.open({ path: 'faulty://wal', file: FaultyFile.fromImage(image), ...geo });
      model.verifyRecovery(await recoverAll(wal), wal);
      totals.laps += Math.floor(wal.endOffset / RING_BYTES);
      await wal.close();
      totals.recovered += model.recoveredTotal;
    });
    console.log(`crash consistency: ${JSON.stringify(totals)}`);
    expect(totals.crashes).toBe(rounds * INCARNATIONS);
    // The workload must have exercised what it claims to: acks, recoveries, trims and wraps.
    if (rounds >= 20) {
      expect(totals.acked).toBeGreaterThan(rounds * 10);
      expect(totals.recovered).toBeGreaterThan(rounds * 5);
      expect(totals.trims).toBeGreaterThan(rounds);
      expect(totals.laps).toBeGreaterThan(rounds / 2);
      expect(totals.crashInOpen).toBeGreaterThan(0);
    }
  });

  it('tears the last group write at every byte position: recovery stops cleanly before the tear', async () => {
    const align = 512;
    const geo = { alignBytes: align, sizeBytes: 2 * align + 64 * 1024 };
    const setup = new FaultyFile({ size: geo.sizeBytes });
    const wal0 = await FileWal.open({ path: 'faulty://wal', file: setup, ...geo });
    await recoverAll(wal0);
    const first = makeRecord(7, 0, 3000);
    const firstRes = await wal0.append(first.data, first.meta);
    await wal0.close();
    const synced = setup.durableImage();
    const batch = [1, 2, 3, 4].map((n) => makeRecord(7, n, 2000));
    const fills = ['old', 'zero', 'garbage'] as const;
    let runs = 0;
    const pre = makeRecord(7, 9, 700);
    for (const preAppend of [false, true]) {
      let length = Number.POSITIVE_INFINITY;
      for (let at = 0; at <= length; at += at < 80 ? 1 : 13) {
        const fill = fills[at % fills.length];
        let armed = false;
        let image: Buffer | undefined;
        const f = FaultyFile.fromImage(synced, {
          onOp: (op, file) => {
            if (armed && op.kind === 'datasync' && image === undefined) {
              image = file.crash({ tearAt: at, tornFill: fill, seed: at });
            }
          },
        });
        const wal = await FileWal.open({ path: 'faulty://wal', file: f, ...geo });
        const model = new WalModel();
        model.ack(model.push(first), firstRes);
        model.verifyRecovery(await recoverAll(wal), wal);
        if (preAppend) model.ack(model.push(pre), await wal.append(pre.data, pre.meta));
        armed = true;
        await Promise.allSettled(
          batch.map(async (r) => {
            const e = model.push(r);
            const res = await wal.append(r.data, r.meta);
            if (image === undefined) model.ack(e, res);
          }),
        );
        expect(image).toBeDefined();
        length = f.lastCrash!.torn!.length;
        const again = await FileWal.open({
          path: 'faulty://wal',
          file: FaultyFile.fromImage(image!),
          ...geo,
        });
        try {
          model.verifyRecovery(await recoverAll(again), again);
        } catch (err) {
          throw new Error(
            `preAppend ${preAppend}, tear at ${at} of ${length} (${fill}): ${(err as Error).message}`,
          );
        }
        await again.close();
        runs++;
      }
    }
    expect(runs).toBeGreaterThan(100);
  });

  // A record of a torn group survives past a dropped sector, exactly where a later
  // incarnation's group (or the first boundary after a torn record) puts the next candidate:
  // only the incarnation rules keep it from validating.
  const staleCases = [
    // r3 sits where incarnation 2's group h ends (h replaces r2's slot).
    {
      label: 'after a later group, aligned',
      align: 512,
      sizes: [512, 512, 512],
      hole: 1,
      h: 512,
    },
    {
      label: 'after a later group, unaligned',
      align: 512,
      sizes: [300, 724, 512],
      hole: 1,
      h: 512,
    },
    // r1 ends unaligned, r2 is torn, r3 starts at the first boundary after r1.
    {
      label: 'at the first boundary after a torn record',
      align: 4096,
      sizes: [300, 3796, 512],
      hole: 3,
      h: 512,
    },
  ] as const;
  for (const c of staleCases) {
    it(`rejects a stale record of an earlier incarnation ${c.label}`, async () => {
      const geo = { alignBytes: c.align, sizeBytes: 2 * c.align + 64 * 1024 };
      const model = new WalModel();
      const [r1, r2, r3, h] = [...c.sizes, c.h].map((framed, n) => fixedRecord(n, framed));
      const groupBytes = c.sizes[0] + c.sizes[1] + c.sizes[2];
      // Incarnation 1: one group r1 r2 r3, crash before its datasync; one 512-byte sector inside
      // r2 is lost, the sectors before and after it reach the disk.
      let armed = false;
      let image1: Buffer | undefined;
      const f1 = new FaultyFile({
        size: geo.sizeBytes,
        onOp: (op, f) => {
          if (!armed || op.kind !== 'datasync') return;
          const [group] = f.unsyncedWrites();
          expect(group.length).toBeGreaterThanOrEqual(groupBytes);
          const hole = group.position + 512 * c.hole;
          image1 = f.crash({
            granularity: 'sector',
            sectorBytes: 512,
            keep: (p) => p.position + p.length <= hole || p.position >= hole + 512,
          });
        },
      });
      const wal1 = await FileWal.open({ path: 'faulty://wal', file: f1, ...geo });
      await recoverAll(wal1);
      armed = true;
      for (const r of [r1, r2, r3]) model.push(r);
      await Promise.allSettled([r1, r2, r3].map((r) => wal1.append(r.data)));
      expect(image1).toBeDefined();
      // Incarnation 2 must recover r1 only; it appends h and dies.
      const f2 = FaultyFile.fromImage(image1!);
      const wal2 = await FileWal.open({ path: 'faulty://wal', file: f2, ...geo });
      const got2 = await recoverAll(wal2);
      model.verifyRecovery(got2, wal2);
      expect(got2.map((r) => r.data.length)).toEqual([r1.flat.length]);
      model.ack(model.push(h), await wal2.append(h.data));
      // Incarnation 3 must see r1 and h, never r3 (valid bytes, right offset, older incarnation).
      const image2 = f2.crash();
      const wal3 = await FileWal.open({ path: 'faulty://wal', file: FaultyFile.fromImage(image2), ...geo });
      const got3 = await recoverAll(wal3);
      model.verifyRecovery(got3, wal3);
      expect(got3.map((r) => r.data.equals(h.flat))).toEqual([false, true]);
      await wal3.close();
    });
  }

  for (const kind of ['write', 'datasync'] as const) {
    it(`an injected ${kind} EIO fails the WAL, rejects pending appends, loses nothing acknowledged`, {
      timeout: 60_000 + eioRounds * 50,
    }, async () => {
      await forEachSeed(`eio-${kind}`, eioRounds, async (seed) => {
        const rng = new Rng(seed);
        const geo = geometryFor(rng);
        let armedAt = -1;
        const failNth = rng.int(1, 4);
        let kindSeen = 0;
        const file = new FaultyFile({
          size: geo.sizeBytes,
          seed: rng.u32(),
          latencyTicksMax: rng.pick([0, 2, 5]),
          fault: (op) => {
            if (armedAt < 0 || op.kind !== kind) return undefined;
            return ++kindSeen === failNth
              ? Object.assign(new Error('EIO: injected'), { code: 'EIO' })
              : undefined;
          },
        });
        const wal = await FileWal.open({ path: 'faulty://wal', file, ...geo });
        await recoverAll(wal);
        armedAt = file.opCount;
        const model = new WalModel();
        const outcomes: Array<'acked' | 'failed'> = [];
        let ackedAfterFailure = 0;
        const appendOne = async (n: number): Promise<void> => {
          const rec = makeRecord(seed, n, 16 * 1024);
          const e = model.push(rec);
          try {
            const res = await wal.append(rec.data, rec.meta);
            if (wal.state === 'failed') ackedAfterFailure++;
            model.ack(e, res);
            outcomes.push('acked');
          } catch (err) {
            expect(err).toBeInstanceOf(WalError);
            expect((err as WalError).kind).toBe('failed');
            expect((err as WalError).cause).toMatchObject({ code: 'EIO' });
            outcomes.push('failed');
          }
        };
        const total = 40;
        const concurrency = rng.int(1, 10);
        let next = 0;
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next < total) await appendOne(next++);
          }),
        );
        expect(file.stats.faults).toBe(1);
        expect(wal.state).toBe('failed');
        expect(ackedAfterFailure).toBe(0);
        // Once failed, every later append is refused; acknowledgements form a prefix.
        const firstFail = outcomes.indexOf('failed');
        expect(firstFail).toBeGreaterThanOrEqual(0);
        expect(outcomes.slice(firstFail).every((o) => o === 'failed')).toBe(true);
        await expect(wal.append(Buffer.from('late'))).rejects.toMatchObject({ kind: 'failed' });
        const image = file.crash(randomCrashOptions(rng));
        const reopened = await FileWal.open({
          path: 'faulty://wal',
          file: FaultyFile.fromImage(image),
          ...geo,
        });
        model.verifyRecovery(await recoverAll(reopened), reopened);
        await reopened.close();
      });
    });
  }
});

/** Record `n` with no meta whose framed size (header + data) is exactly `framed` bytes. */
function fixedRecord(n: number, framed: number): GenRecord {
  const flat = Buffer.alloc(framed - RECORD_HEADER_BYTES, 0x30 + n);
  flat.writeUInt32LE(n, 0);
  return { n, data: flat, meta: undefined, flat, metaFlat: Buffer.alloc(0) };
}
