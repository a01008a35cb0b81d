/**
 * The seeded simulation of the group coordinator (see test/groups-sim/simulation.ts): KIP-848
 * (by names or regex, some static, some slow to revoke) and classic members in one group under
 * random joins, leaves, crashes, stalls, lost responses, offset commits, resubscriptions, topics
 * created and partitions added, coordinator restarts and compactions, on fake timers. Runs
 * SIM_SEEDS seeds (default 20) of SIM_STEPS steps (default 300) from SIM_BASE_SEED (default
 * 1), or the one seed SIM_SEED. A failure names its seed and the trace of its last
 * SIM_TRACE_TAIL (default 40) steps; replay it with
 * `SIM_SEED=<seed> pnpm exec vitest run packages/broker/test/groups-sim.test.ts`.
 * A longer sweep: `SIM_SEEDS=500 SIM_STEPS=600 pnpm exec vitest run packages/broker/test/groups-sim.test.ts`.
 * SIM_LOST=<probability> sets how often a response is lost (default 0.08); SIM_TOLERATE=<tags>
 * steps past known bugs (tags in .tmp/notes-gsim.md) to look for others; SIM_STATIC=0 leaves out
 * static members; SIM_DUMP=1 prints the trace tail of a passing seed too.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { nextUuid } from './groups-sim/ids.ts';
import { runGroupSimulation, SIM_T0, SimFailure, type SimReport } from './groups-sim/simulation.ts';

// Member ids the coordinator hands out decide the assignors' order: make them replayable.
vi.mock('node:crypto', async (importOriginal) => {
  const orig = await importOriginal<typeof import('node:crypto')>();
  return { ...orig, default: { ...orig, randomUUID: nextUuid }, randomUUID: nextUuid };
});

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`);
  return n;
}

const steps = envInt('SIM_STEPS', 300);
const one = process.env.SIM_SEED;
/**
 * Seeds left out of the default run while they hit a coordinator bug not fixed yet (see
 * .tmp/notes-gsim.md; none now: the four findings were fixed in a020b78). SIM_SEED still replays
 * a seed left out.
 */
const KNOWN_FAILING = new Set<number>([]);
const seeds =
  one !== undefined && one !== ''
    ? [envInt('SIM_SEED', 0)]
    : Array.from({ length: envInt('SIM_SEEDS', 20) }, (_, i) => envInt('SIM_BASE_SEED', 1) + i).filter(
        (s) => !KNOWN_FAILING.has(s),
      );
const lost =
  process.env.SIM_LOST === undefined || process.env.SIM_LOST === ''
    ? undefined
    : Number(process.env.SIM_LOST);

beforeEach(() => {
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
    now: SIM_T0,
  });
});
afterEach(() => {
  vi.clearAllTimers();
  vi.useRealTimers();
});

describe('group coordinator simulation', () => {
  it(
    `${seeds.length} seeds × ${steps} steps: no partition owned twice, epochs forward, replay exact, the group settles`,
    async () => {
      console.log(`group simulation: seeds ${seeds[0]}..${seeds[seeds.length - 1]} × ${steps} steps`);
      const started = performance.now();
      const failures: string[] = [];
      const reports: SimReport[] = [];
      for (const seed of seeds) {
        vi.clearAllTimers();
        vi.setSystemTime(SIM_T0);
        try {
          reports.push(
            await runGroupSimulation({
              seed,
              steps,
              traceTail: envInt('SIM_TRACE_TAIL', 40),
              lostResponses: lost,
              tolerate: (process.env.SIM_TOLERATE ?? '').split(',').filter((x) => x !== ''),
              statics: process.env.SIM_STATIC !== '0',
              dumpTrace: process.env.SIM_DUMP === '1',
            }),
          );
        } catch (err) {
          if (!(err instanceof SimFailure)) throw err;
          failures.push(err.message);
          console.log(err.message);
        }
      }
      const sum = (f: (r: SimReport) => number) => reports.reduce((n, r) => n + f(r), 0);
      console.log(
        `group simulation: ${reports.length}/${seeds.length} seeds passed; ${sum((r) => r.requests)} requests ` +
          `(${sum((r) => r.lost)} responses lost), ${sum((r) => r.spawned)} clients, ${sum((r) => r.leaves)} leaves, ` +
          `${sum((r) => r.crashes)} crashes, ${sum((r) => r.stalls)} stalls, ${sum((r) => r.fencedOrUnknown)} fenced/unknown, ` +
          `${sum((r) => r.restarts)} restarts, ${sum((r) => r.compactions)} compactions, ` +
          `${sum((r) => r.partitionsAdded)} partitions added, ${sum((r) => r.classicGroupPhases)} steps as a classic group, ` +
          `${sum((r) => r.upgrades)} upgrades, ${sum((r) => r.commitsAccepted)}/${sum((r) => r.commits)} offset commits accepted, ${sum((r) => r.tolerated)} tolerated known bugs, ${sum((r) => r.zombieObservations)} zombie observations, ` +
          `settled in ≤ ${Math.max(0, ...reports.map((r) => r.settleMs))} ms simulated ` +
          `(${sum((r) => r.liveAtEnd)} live clients at the end, balance checked in ${sum((r) => (r.balanceChecked ? 1 : 0))} seeds), ` +
          `${Math.round(performance.now() - started)} ms`,
      );
      expect(failures.length, failures.join('\n\n')).toBe(0);
    },
    Math.max(60_000, seeds.length * steps * 40),
  );

  // The checks themselves: damage behind the coordinator's back must fail the run.
  for (const sabotage of ['keep-revoked', 'drop-log-records'] as const) {
    it(`notices sabotage: ${sabotage}`, async () => {
      for (const seed of [2, 3, 4]) {
        vi.clearAllTimers();
        vi.setSystemTime(SIM_T0);
        const run = runGroupSimulation({
          seed,
          steps: 300,
          sabotage,
          tolerate: ['pending-join', 'upgrade-stale-owned'],
        });
        await expect(run, `seed ${seed}`).rejects.toThrow(SimFailure);
      }
    });
  }
});
