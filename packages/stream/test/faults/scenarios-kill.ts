/**
 * A real crash: the writer runs in a child process (child-writer.ts) on a FileWal and an
 * EmbeddedMetadataStore in a temp dir and a shared object store (files on disk, or moto), and is
 * SIGKILLed at a seeded moment while appending and uploading. A store started in this process
 * over the same directory and object store must hold every batch the child acknowledged, and
 * beyond them only the child's next batches in order. Then the child is started again on the
 * same directory (it recovers and continues) and killed again.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { ObjectStore } from '../../src/object-store/types.ts';
import { Proc, tempDir } from './env.ts';
import { expectCommittedExactly } from './inspect.ts';
import { KILL_STREAMS, killBatch } from './kill-batches.ts';
import { readAll, rngOf } from './workload.ts';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'child-writer.ts');

interface ChildRun {
  /** Highest acknowledged index per stream (-1: none). */
  acked: Map<number, number>;
  acks: number;
}

/** Runs the writer until READY plus `runMs`, then SIGKILLs it; returns what it acknowledged. */
async function runChild(
  dir: string,
  uri: string,
  seed: number,
  epoch: number,
  runMs: number,
): Promise<ChildRun> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, dir, uri, String(seed), String(epoch)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const run: ChildRun = { acked: new Map(KILL_STREAMS.map((id) => [id, -1])), acks: 0 };
  let buf = '';
  let err = '';
  let ready = false;
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line === 'READY') ready = true;
      const m = /^ACK (\d+) (\d+) (\d+)$/.exec(line);
      if (m) {
        const id = Number(m[1]);
        run.acked.set(id, Math.max(run.acked.get(id) ?? -1, Number(m[2])));
        run.acks++;
      }
      nl = buf.indexOf('\n');
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const t0 = Date.now();
  while (!ready) {
    if (child.exitCode !== null) throw new Error(`writer exited early (${child.exitCode}):\n${err}`);
    if (Date.now() - t0 > 30_000) {
      child.kill('SIGKILL');
      throw new Error(`writer not ready within 30 s:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, runMs));
  child.kill('SIGKILL');
  await exited;
  // Lines written before the kill may still be in the pipe.
  await new Promise((r) => setTimeout(r, 50));
  return run;
}

/** Checks every stream against the child's sequences and what it acknowledged. */
async function check(proc: Proc, seed: number, epoch: number, acked: Map<number, number>): Promise<number> {
  let batches = 0;
  for (const id of KILL_STREAMS) {
    const s = await proc.store.open(id, epoch);
    const got = await readAll(s);
    expect(got.length).toBeGreaterThan(acked.get(id)!); // every acknowledged batch is there
    let offset = 0;
    for (const [i, b] of got.entries()) {
      const want = killBatch(seed, id, i);
      expect(b.baseOffset).toBe(offset);
      expect(b.count).toBe(want.count);
      expect(b.data.equals(want.data), `stream ${id} batch ${i}`).toBe(true);
      offset += b.count;
    }
    expect(s.endOffset).toBe(offset);
    await expectCommittedExactly(proc.metaStore, id, offset);
    batches += got.length;
  }
  return batches;
}

/** Kills the writer twice (restarting it in between), checking after each kill. */
export async function killedWriter(
  objectStore: ObjectStore,
  uri: string,
  seed: number,
): Promise<{ acks: number[]; batches: number[] }> {
  const dir = await tempDir('kill');
  const rng = rngOf(seed);
  const acks: number[] = [];
  const batches: number[] = [];
  const acked = new Map<number, number>(KILL_STREAMS.map((id) => [id, -1]));
  for (let round = 0; round < 2; round++) {
    const epoch = 1 + round * 2;
    const run = await runChild(dir, uri, seed, epoch, rng.int(200, 900));
    for (const [id, i] of run.acked) acked.set(id, Math.max(acked.get(id)!, i));
    acks.push(run.acks);
    expect(run.acks).toBeGreaterThan(0);
    const proc = await Proc.start({ dir, objectStore, walBytes: 16 * 1024 * 1024 });
    try {
      batches.push(await check(proc, seed, epoch + 1, acked));
    } finally {
      await proc.stop();
    }
  }
  return { acks, batches };
}
