/**
 * Crash consistency of the embedded metadata store: a log cut or torn at any byte reopens to
 * exactly the state after the last whole record before the damage — a prefix of the committed
 * transactions that holds every one acknowledged before the crash point — and stays writable.
 * Also a real SIGKILL of a writing child process.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualMetadataClock } from '../src/metadata/clock.ts';
import { EmbeddedMetadataStore, LOG_FILE, SNAPSHOT_FILE } from '../src/metadata/embedded.ts';
import type { KeyValue, MetadataStore } from '../src/metadata/types.ts';
import { tempDir } from './metadata-fs.ts';
import { b } from './metadata-helpers.ts';
import { txnArb } from './metadata-model.ts';

async function dump(s: MetadataStore): Promise<{ revision: number; kvs: KeyValue[] }> {
  const page = await s.range('', { limit: 10_000 });
  expect(page.more).toBe(false);
  return { revision: page.revision, kvs: page.kvs };
}

interface Point {
  /** Log size once this state was acknowledged. */
  size: number;
  state: { revision: number; kvs: KeyValue[] };
}

/** Run a seeded workload (txns, leased puts, revokes; a snapshot half way if asked). */
async function workload(dir: string, seed: number, snapshotHalfWay: boolean) {
  const s = await EmbeddedMetadataStore.open(dir, {
    clock: new ManualMetadataClock(),
    leaseCheckIntervalMs: 0,
  });
  const txns = fc.sample(fc.array(txnArb, { minLength: 30, maxLength: 30 }), { seed, numRuns: 1 })[0]!;
  let points: Point[] = [{ size: 0, state: await dump(s) }];
  let snapshot: Buffer | undefined;
  const leases: string[] = [];
  for (let i = 0; i < txns.length; i++) {
    if (snapshotHalfWay && i === txns.length / 2) {
      await s.snapshot();
      snapshot = await readFile(join(dir, SNAPSHOT_FILE));
      points = [{ size: 0, state: await dump(s) }];
    }
    const step = async (write: () => Promise<unknown>) => {
      await write();
      points.push({ size: s.logSizeBytes, state: await dump(s) });
    };
    if (i % 7 === 3) await step(async () => leases.push((await s.grantLease(60_000)).id));
    if (i % 7 === 5) await step(() => s.put(`leased/${i}`, b(`l${i}`), { lease: leases.at(-1)! }));
    if (i % 11 === 10) await step(() => s.revokeLease(leases.shift()!));
    await step(() => s.txn(txns[i]!));
  }
  await s.close();
  return { points, log: await readFile(join(dir, LOG_FILE)), snapshot };
}

describe('EmbeddedMetadataStore crash consistency', () => {
  for (const snapshotHalfWay of [false, true]) {
    it(`reopens a cut or torn log to the last whole record before the damage${snapshotHalfWay ? ' (after a snapshot)' : ''}`, async () => {
      const { points, log, snapshot } = await workload(
        await tempDir('meta-src'),
        7 + Number(snapshotHalfWay),
        snapshotHalfWay,
      );
      expect(points.at(-1)!.size).toBe(log.length);
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: log.length }),
          fc.constantFrom('cut', 'garbage', 'flip'),
          fc.uint8Array({ minLength: 1, maxLength: 64 }),
          async (at, mode, noise) => {
            let damaged: Buffer;
            if (mode === 'cut') damaged = log.subarray(0, at);
            else if (mode === 'garbage') {
              // Garbage differs from the byte it replaces (else it could rebuild the cut entry).
              const junk = Buffer.from(noise);
              if (at < log.length && junk[0] === log[at]) junk[0] = junk[0]! ^ 0xff;
              damaged = Buffer.concat([log.subarray(0, at), junk]);
            } else {
              damaged = Buffer.from(log);
              if (at < log.length) damaged[at] = damaged[at]! ^ (noise[0]! | 1);
            }
            const dir = join(await tempDir('meta-crash'), 'm');
            await mkdir(dir);
            if (snapshot !== undefined) await writeFile(join(dir, SNAPSHOT_FILE), snapshot);
            await writeFile(join(dir, LOG_FILE), damaged);
            // Records that end at or before the damage were acknowledged before it: all must be back.
            const expected = points.filter((p) => p.size <= at).at(-1)!;
            const s = await EmbeddedMetadataStore.open(dir, { leaseCheckIntervalMs: 0 });
            try {
              expect(await dump(s)).toEqual(expected.state);
              expect(s.logSizeBytes).toBe(expected.size);
              // The damaged tail is gone: new writes survive another reopen.
              await s.put('after-crash', b('x'));
            } finally {
              await s.close();
            }
            const again = await EmbeddedMetadataStore.open(dir, { leaseCheckIntervalMs: 0 });
            try {
              expect(await again.revision()).toBe(expected.state.revision + 1);
              expect((await again.get('after-crash'))?.value).toEqual(b('x'));
            } finally {
              await again.close();
            }
          },
        ),
        { numRuns: 80 },
      );
    });
  }

  it('keeps every acknowledged write when the writing process is killed', async () => {
    const dir = await tempDir('meta-kill');
    const script = `
      import { writeSync } from 'node:fs';
      import { EmbeddedMetadataStore } from ${JSON.stringify(new URL('../src/metadata/embedded.ts', import.meta.url).href)};
      const s = await EmbeddedMetadataStore.open(${JSON.stringify(dir)}, { snapshotLogBytes: 4096 });
      for (let i = 1; ; i++) {
        const r = await s.txn({ success: [{ type: 'put', key: 'k/' + (i % 50), value: Buffer.from(String(i)) }, { type: 'put', key: 'last', value: Buffer.from(String(i)) }] });
        writeSync(1, r.revision + '\\n');
      }
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const deadline = Date.now() + 20_000;
    while (out.split('\n').length < 400 && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await exited;
    expect(err).toBe('');
    const acked = out
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
    expect(acked.length).toBeGreaterThan(100);
    const lastAcked = acked.at(-1)!;
    expect(acked).toEqual(Array.from({ length: acked.length }, (_, i) => i + 1));
    const s = await EmbeddedMetadataStore.open(dir, { leaseCheckIntervalMs: 0 });
    try {
      const rev = await s.revision();
      // Every acknowledged txn is there; at most the one in flight beyond it.
      expect(rev === lastAcked || rev === lastAcked + 1).toBe(true);
      expect((await s.get('last'))!.value.toString()).toBe(String(rev));
      expect((await s.get(`k/${rev % 50}`))!.value.toString()).toBe(String(rev));
    } finally {
      await s.close();
    }
  });
});
