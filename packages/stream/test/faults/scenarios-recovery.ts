/**
 * Crashes during start-up recovery: the WAL holds batches that were never uploaded; the
 * restart that replays and uploads them crashes itself — before its first commit, right after
 * one (before the WAL trim), after its second — and only a later start completes. Every
 * acknowledged batch must be there exactly once, and the orphans of the crashed recoveries
 * are collected after the prepared timeout.
 */
import { expect } from 'vitest';
import type { ObjectStore } from '../../src/object-store/types.ts';
import { FaultyObjectStore } from '../../src/testing/index.ts';
import { isObjectCommit } from './cut.ts';
import { type PartialProc, Proc, tempDir } from './env.ts';
import { expectCommittedExactly, listKeys, references, unreferencedKeys } from './inspect.ts';
import { ManualClock } from './scenarios-maint.ts';
import { appendMany, expectStreamMatches, Ledger, openAll, rngOf } from './workload.ts';

const IDS = [1, 2, 3, 4] as const;
const PREPARED_TIMEOUT_MS = 60_000;

/** Arms a crash at the `nth` object commit of the start-up, before or after it applies. */
function crashAtCommit(nth: number, phase: 'before' | 'after'): (p: PartialProc) => void {
  return (p) => {
    let seen = 0;
    p.metadata.hook = (txn, at) => {
      if (isObjectCommit(txn) && at === phase && ++seen === nth) p.cut.cut();
    };
  };
}

/** Runs the scenario; returns what the final recovery did and how many orphans were collected. */
export async function crashesDuringRecovery(
  base: ObjectStore,
  seed: number,
): Promise<{ replayed: number; skipped: number; orphans: number }> {
  const dir = await tempDir('recovery');
  const clock = new ManualClock();
  const faulty = new FaultyObjectStore(base, { seed, opRates: { put: { error: 0.1, afterWrite: 0.05 } } });
  const rng = rngOf(seed);
  const ledger = new Ledger();
  // Uploads only on flush while writing; small blocks when recovering (several objects).
  const writing = {
    dir,
    objectStore: faulty,
    store: {
      clock,
      preparedTimeoutMs: PREPARED_TIMEOUT_MS,
      uploadIntervalMs: 0,
      uploadBytesThreshold: 1 << 20,
    },
  };
  const recovering = { ...writing, store: { ...writing.store, uploadBytesThreshold: 8 * 1024 } };
  let proc = await Proc.start(writing);
  try {
    const streams = await openAll(proc.store, IDS, 1);
    await appendMany(streams, rng, ledger, { batches: 40, window: 8, minBytes: 1, maxBytes: 1500, tag: 'a' });
    await proc.store.flush();
    await appendMany(streams, rng, ledger, {
      batches: 120,
      window: 8,
      minBytes: 1,
      maxBytes: 1500,
      tag: 'b',
    });
    expect(ledger.failures).toEqual([]);
    await proc.crash();

    await Proc.crashDuringStart(recovering, crashAtCommit(1, 'before'));
    await Proc.crashDuringStart(recovering, crashAtCommit(1, 'after'));
    await Proc.crashDuringStart(recovering, crashAtCommit(2, 'after'));

    proc = await Proc.start(recovering);
    const { replayed, skipped, dropped } = proc.store.recovery;
    expect(dropped).toBe(0);
    expect(skipped).toBeGreaterThan(0); // committed by the crashed recoveries, never trimmed
    expect(replayed).toBeGreaterThan(0);
    for (const s of await openAll(proc.store, IDS, 2)) {
      expect(s.committedOffset).toBe(ledger.end(s.id));
      await expectStreamMatches(s, ledger);
      await expectCommittedExactly(proc.metaStore, s.id, ledger.end(s.id));
    }
    // The crash before a commit left an orphan with its prepared record.
    const orphans = await unreferencedKeys(faulty, proc.metaStore);
    expect(orphans.length).toBeGreaterThan(0);
    const refs = await references(proc.metaStore);
    for (const k of orphans) expect(refs.prepared.has(k)).toBe(true);
    clock.t += PREPARED_TIMEOUT_MS + 1;
    expect((await proc.store.collectGarbage()).expiredPrepared).toBe(orphans.length);
    expect(await unreferencedKeys(faulty, proc.metaStore)).toEqual([]);
    const have = new Set(await listKeys(faulty));
    for (const k of refs.live) expect(have.has(k)).toBe(true);
    return { replayed, skipped, orphans: orphans.length };
  } finally {
    await proc.stop().catch(() => {});
  }
}

/**
 * A shutdown while the object store is down: `close()` keeps retrying the final upload (it
 * must not give up and lose data, nor fail the store); the caller halts the store after a
 * grace period, `close()` then rejects promptly, and the next start recovers every
 * acknowledged batch from the WAL once the object store is back.
 */
export async function shutdownDuringOutage(
  base: ObjectStore,
  seed: number,
): Promise<{ closeSettledMs: number; replayed: number }> {
  const dir = await tempDir('shutdown');
  const faulty = new FaultyObjectStore(base, { seed });
  const rng = rngOf(seed);
  const ledger = new Ledger();
  const options = { dir, objectStore: faulty, store: { uploadIntervalMs: 0, uploadBytesThreshold: 1 << 20 } };
  let proc = await Proc.start(options);
  try {
    const streams = await openAll(proc.store, IDS, 1);
    await appendMany(streams, rng, ledger, { batches: 40, window: 8, minBytes: 1, maxBytes: 1500, tag: 'a' });
    await proc.store.flush();
    await appendMany(streams, rng, ledger, { batches: 40, window: 8, minBytes: 1, maxBytes: 1500, tag: 'b' });
    const outage = faulty.addRule({ fault: 'slow-down' });
    let closeResult: string | undefined;
    const closing = proc.store.close().then(
      () => {
        closeResult = 'resolved';
      },
      (err: Error) => {
        closeResult = `rejected: ${err.message}`;
      },
    );
    await new Promise((r) => setTimeout(r, 1_500));
    expect(closeResult).toBeUndefined(); // still retrying, not failed
    expect(proc.store.error).toBeUndefined();
    const t0 = Date.now();
    proc.store.halt();
    await closing;
    const closeSettledMs = Date.now() - t0;
    expect(closeResult).toMatch(/^rejected: .*halted/);
    expect(closeSettledMs).toBeLessThan(5_000);
    outage();
    // The WAL and the metadata store are closed as after a crash (nothing was flushed).
    await proc.crash();
    proc = await Proc.start(options);
    const replayed = proc.store.recovery.replayed;
    expect(replayed).toBeGreaterThan(0);
    for (const s of await openAll(proc.store, IDS, 2)) {
      expect(s.committedOffset).toBe(ledger.end(s.id));
      await expectStreamMatches(s, ledger);
      await expectCommittedExactly(proc.metaStore, s.id, ledger.end(s.id));
    }
    return { closeSettledMs, replayed };
  } finally {
    await proc.stop().catch(() => {});
  }
}
