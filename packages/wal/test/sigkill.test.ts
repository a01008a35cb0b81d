/**
 * A real crash: a child process appends to a FileWal on a real file and reports each
 * acknowledgement; the parent kills it with SIGKILL at a random moment, recovers the file
 * in-process and checks that every acknowledged record is there, byte-exact, in order, and
 * that the recovered records are a gap-free prefix of what the child appended. Chains of
 * incarnations on the same file (the child first recovers what the previous one left), with
 * trims so the ring wraps. `WAL_SIGKILL_ROUNDS=<n>` runs more rounds, `WAL_SIGKILL_SEED`
 * replays a seed (the kill moments still depend on timing).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileWal, type WalRecord } from '../src/index.ts';
import { Rng, seedFromEnv } from '../src/testing/index.ts';
import { WalModel } from './fixtures/model.ts';
import { makeRecord } from './fixtures/records.ts';
import type { ChildConfig } from './fixtures/wal-child.ts';

const CHILD = fileURLToPath(new URL('./fixtures/wal-child.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const ROUNDS = Number(process.env.WAL_SIGKILL_ROUNDS ?? 15);
const CHAIN = 3;
const SEED = seedFromEnv('WAL_SIGKILL_SEED');
const ALIGN = 4096;
const RING_BYTES = 512 * 1024;
const CHILD_DEADLINE_MS = 20_000;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wal-sigkill-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface KillPlan {
  afterAcks?: number;
  afterMs?: number;
}

interface ChildRun {
  acked: number;
  ready: boolean;
  killedBySignal: boolean;
}

/** Spawns the child, feeds its events into `model`, kills it per `plan`, waits for its end. */
async function runChild(cfg: ChildConfig, plan: KillPlan, model: WalModel): Promise<ChildRun> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(cfg)], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: ChildRun = { acked: 0, ready: false, killedBySignal: false };
  const entries = new Map<number, ReturnType<WalModel['push']>>();
  let pushed = 0;
  const pushUpTo = (n: number): void => {
    while (pushed <= Math.min(n, cfg.count - 1)) {
      entries.set(pushed, model.push(makeRecord(cfg.salt, pushed, cfg.recordBytesMax)));
      pushed++;
    }
  };
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 8192) stderr += d.toString();
  });
  let protocolError: Error | undefined;
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  let timer: NodeJS.Timeout | undefined;
  if (plan.afterMs !== undefined) timer = setTimeout(kill, plan.afterMs);
  const deadline = setTimeout(kill, CHILD_DEADLINE_MS);
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    const [kind, a, b, c] = line.split(' ');
    try {
      if (kind === 'ready') {
        run.ready = true;
        if (plan.afterAcks === 0) kill();
      } else if (kind === 'a') {
        const n = Number(a);
        pushUpTo(n);
        model.ack(entries.get(n)!, { offset: Number(b), nextOffset: Number(c) });
        run.acked++;
        if (plan.afterAcks !== undefined && run.acked >= plan.afterAcks) kill();
      } else if (kind === 't') {
        model.requestTrim(Number(a));
      } else if (kind === 'T') {
        model.ackTrim(Number(a));
      } else if (kind === 'error') {
        throw new Error(`child reported: ${line}`);
      } else if (kind !== 'done') {
        throw new Error(`unexpected child line: ${line}`);
      }
    } catch (err) {
      protocolError ??= err as Error;
      kill();
    }
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('close', (code, signal) => resolve([code, signal])),
  );
  clearTimeout(timer);
  clearTimeout(deadline);
  if (protocolError) throw new Error(`${protocolError.message}\nchild stderr: ${stderr}`);
  if (signal !== 'SIGKILL')
    throw new Error(`child ended with code ${code} signal ${signal}\nstderr: ${stderr}`);
  run.killedBySignal = true;
  // Appends the child may have issued but not acknowledged: at most `concurrency` beyond the acks.
  pushUpTo(pushed - 1 + cfg.concurrency + 1);
  return run;
}

async function recoverInProcess(path: string, model: WalModel): Promise<number> {
  const wal = await FileWal.open({ path, alignBytes: ALIGN, sizeBytes: 2 * ALIGN + RING_BYTES });
  const recovered: WalRecord[] = [];
  for await (const r of wal.recover()) recovered.push(r);
  model.verifyRecovery(recovered, wal);
  await wal.close();
  return recovered.length;
}

describe('FileWal survives SIGKILL of the writing process', () => {
  it(`every acknowledged record is recovered (${ROUNDS} kills)`, {
    timeout: 40_000 + ROUNDS * 3_000,
  }, async () => {
    const totals = { kills: 0, acked: 0, recovered: 0, wrapped: 0, killedBeforeReady: 0 };
    let round = 0;
    for (let chain = 0; round < ROUNDS; chain++) {
      const seed = (SEED + chain) >>> 0;
      const rng = new Rng(seed);
      const path = join(dir, `wal-${chain}`);
      const model = new WalModel();
      for (let inc = 0; inc < CHAIN && round < ROUNDS; inc++, round++) {
        const cfg: ChildConfig = {
          path,
          sizeBytes: 2 * ALIGN + RING_BYTES,
          alignBytes: ALIGN,
          salt: (seed ^ (inc << 24)) >>> 0,
          count: 1_000_000,
          concurrency: rng.int(1, 16),
          recordBytesMax: rng.pick([4 * 1024, 16 * 1024, 64 * 1024]),
          trimAboveBytes: rng.chance(0.8) ? rng.int(RING_BYTES / 8, (RING_BYTES * 3) / 4) : 0,
        };
        // Kill after a number of acknowledgements (bounded in time: a full ring stops acks), or
        // after a delay from the spawn, which can land in start-up or recovery.
        // (afterAcks 0: as soon as recovery is done). Start-up takes about 300 ms.
        const pick = rng.float();
        const plan: KillPlan =
          pick < 0.5
            ? { afterAcks: rng.logInt(1, 3000), afterMs: 1500 }
            : pick < 0.65
              ? { afterAcks: 0, afterMs: 1500 }
              : { afterMs: rng.int(100, 1200) };
        try {
          const run = await runChild(cfg, plan, model);
          const recovered = await recoverInProcess(path, model);
          totals.kills++;
          totals.acked += run.acked;
          totals.recovered += recovered;
          if (!run.ready) totals.killedBeforeReady++;
        } catch (err) {
          const e = err as Error;
          e.message = `chain seed ${seed} (WAL_SIGKILL_SEED=${seed}), incarnation ${inc}, plan ${JSON.stringify(plan)}, config ${JSON.stringify({ ...cfg, path: undefined })}: ${e.message}`;
          throw e;
        }
      }
      const wal = await FileWal.open({ path, alignBytes: ALIGN });
      for await (const _ of wal.recover());
      if (wal.endOffset > RING_BYTES) totals.wrapped++;
      await wal.close();
    }
    console.log(`sigkill: ${JSON.stringify(totals)}`);
    expect(totals.kills).toBe(ROUNDS);
    expect(totals.acked).toBeGreaterThan(0);
    if (ROUNDS >= 10) expect(totals.wrapped).toBeGreaterThan(0);
  });
});
