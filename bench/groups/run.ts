/**
 * `pnpm bench:groups`: consumer-group rebalance time and commit latency, Tributary vs Apache Kafka
 * (bench/peer/kafka.ts, single KRaft node), both driven by Java consumers (kafka-clients 4.1.x from
 * tools/.cache/java) in one driver JVM per broker (bench/groups/GroupBench.java, one thread and one
 * KafkaConsumer per member).
 *
 * Per broker: a 48-partition topic; one group per protocol (classic + cooperative-sticky, KIP-848
 * `group.protocol=consumer` + uniform) with 5 stable members. Each repetition, per protocol:
 * - join: a 6th member starts; time from the start of its thread (KafkaConsumer construction
 *   included) to the first moment every member owns its balanced share (48/6) and every partition
 *   is owned exactly once (from the rebalance callbacks, System.nanoTime of the driver JVM);
 * - leave: the oldest member calls close(); time to the 5 others owning 9 or 10 each, all 48 once;
 * - commit: one consumer alone in a new group, 200 warm-up + N sequential commitSync of one
 *   partition's offset: p50 / p99.
 * Repetitions are interleaved across brokers (order rotated each time), all brokers and drivers
 * stay up for the whole run; the summary is the median over repetitions.
 *
 * Usage: pnpm bench:groups [--reps N] [--commits N] [--no-kafka-fsync] [--out FILE] [--dir PATH]
 *        [--keep] (keep the brokers' data directories under --dir, default .tmp/bench-groups)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { javaBin, kafkaVersion, ROOT } from '../peer/kafka.ts';
import { apacheKafkaTarget, type PeerTarget, type RunningTarget, tributaryTarget } from '../peer/targets.ts';
import { machineInfo } from '../wal/stats.ts';

/** Group settings used on every broker (and by the classic clients). */
export const GROUP_SETTINGS = {
  partitions: 48,
  members: 5,
  /** Classic protocol, client side: session.timeout.ms / heartbeat.interval.ms. */
  classicSessionTimeoutMs: 10_000,
  classicHeartbeatIntervalMs: 1000,
  /** KIP-848, broker side: group.consumer.session.timeout.ms / group.consumer.heartbeat.interval.ms. */
  consumerSessionTimeoutMs: 10_000,
  consumerHeartbeatIntervalMs: 1000,
  initialRebalanceDelayMs: 0,
} as const;

const CLIENTS_DIR = join(ROOT, 'tools/.cache/java');
const DRIVER_SOURCE = join(ROOT, 'bench/groups/GroupBench.java');

export interface GroupPhase {
  ev: 'phase';
  phase: 'setup' | 'join' | 'leave' | 'commit';
  proto: 'classic' | 'consumer';
  rep?: number;
  ms?: number;
  closeMs?: number;
  p50Ms?: number;
  p99Ms?: number;
  p999Ms?: number;
  meanMs?: number;
  maxMs?: number;
}

export interface GroupTargetResult {
  name: string;
  bootstrap: string;
  version?: string;
  phases: GroupPhase[];
  summary: Record<string, number | undefined>;
  error?: string;
}

const median = (xs: number[]): number | undefined => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return undefined;
  return n % 2 ? (s[(n - 1) / 2] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
};

/** The summary figures: key -> [label, pick from the phases]. */
const FIGURES: [string, string, (ps: GroupPhase[]) => number[]][] = [];
for (const proto of ['classic', 'consumer'] as const) {
  const label = proto === 'classic' ? 'classic coop-sticky' : 'KIP-848 uniform';
  const of = (phase: string) => (ps: GroupPhase[]) =>
    ps.filter((p) => p.phase === phase && p.proto === proto);
  FIGURES.push(
    [`${proto}JoinMs`, `${label}: join 5->6 ms`, (ps) => of('join')(ps).map((p) => p.ms as number)],
    [`${proto}LeaveMs`, `${label}: leave 6->5 ms`, (ps) => of('leave')(ps).map((p) => p.ms as number)],
    [
      `${proto}CommitP50Ms`,
      `${label}: commitSync p50 ms`,
      (ps) => of('commit')(ps).map((p) => p.p50Ms as number),
    ],
    [
      `${proto}CommitP99Ms`,
      `${label}: commitSync p99 ms`,
      (ps) => of('commit')(ps).map((p) => p.p99Ms as number),
    ],
  );
}

function summarize(phases: GroupPhase[]): Record<string, number | undefined> {
  const out: Record<string, number | undefined> = {};
  for (const [key, , pick] of FIGURES) out[key] = median(pick(phases));
  return out;
}

/** javac GroupBench.java into <dir>/classes (bounded). */
async function compileDriver(dir: string): Promise<string> {
  const classes = join(dir, 'classes');
  rmSync(classes, { recursive: true, force: true });
  mkdirSync(classes, { recursive: true });
  const javac = javaBin().replace(/java$/, 'javac');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(javac, ['-d', classes, '-cp', join(CLIENTS_DIR, '*'), DRIVER_SOURCE], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${javac} (need a JDK 17+): ${e.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`javac GroupBench.java exited ${code}\n${err}`));
    });
  });
  return classes;
}

/** The driver JVM of one broker: commands on stdin, JSON lines back; every wait bounded. */
class Driver {
  private child: ChildProcess;
  private buf = '';
  private waiter?: { cmd: string; resolve: () => void; reject: (e: Error) => void };
  private exited = false;
  readonly phases: GroupPhase[] = [];
  private log: number;

  constructor(
    readonly name: string,
    bootstrap: string,
    classes: string,
    logFile: string,
    settings: Record<string, string | number>,
  ) {
    this.log = openSync(logFile, 'a');
    const cp = [join(CLIENTS_DIR, '*'), classes].join(':');
    const settingArg = Object.entries(settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    this.child = spawn(
      javaBin(),
      [
        '-Xmx256m',
        '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
        '-cp',
        cp,
        'GroupBench',
        bootstrap,
        'bench-groups',
        String(GROUP_SETTINGS.partitions),
        settingArg,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const killOnExit = (): void => {
      this.child.kill('SIGKILL');
    };
    process.on('exit', killOnExit);
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => writeSync(this.log, `[stderr] ${d}`));
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => this.onData(d));
    this.child.once('exit', (code, signal) => {
      this.exited = true;
      process.off('exit', killOnExit);
      writeSync(this.log, `[driver exited ${code ?? signal}]\n`);
      this.waiter?.reject(new Error(`${name} driver exited ${code ?? signal} during ${this.waiter.cmd}`));
      this.waiter = undefined;
    });
    this.child.once('error', (e) => {
      this.waiter?.reject(new Error(`cannot run ${javaBin()}: ${e.message}`));
      this.waiter = undefined;
    });
  }

  private onData(d: string): void {
    writeSync(this.log, d);
    this.buf += d;
    let i = this.buf.indexOf('\n');
    while (i >= 0) {
      const line = this.buf.slice(0, i).trim();
      this.buf = this.buf.slice(i + 1);
      i = this.buf.indexOf('\n');
      if (!line.startsWith('{')) continue;
      let ev: { ev: string; cmd?: string; message?: string };
      try {
        ev = JSON.parse(line) as typeof ev;
      } catch {
        continue;
      }
      if (ev.ev === 'phase') this.phases.push(ev as unknown as GroupPhase);
      else if (ev.ev === 'done' && this.waiter && ev.cmd === this.waiter.cmd) {
        this.waiter.resolve();
        this.waiter = undefined;
      } else if (ev.ev === 'error' && this.waiter) {
        this.waiter.reject(new Error(`${this.name} ${ev.cmd}: ${ev.message}`));
        this.waiter = undefined;
      }
    }
  }

  /** Sends one command and waits for its "done" line, at most timeoutMs. */
  command(line: string, timeoutMs: number): Promise<void> {
    if (this.exited) return Promise.reject(new Error(`${this.name} driver is gone`));
    const cmd = line.split(' ')[0] as string;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`${this.name} ${line}: no answer after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = {
        cmd,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.child.stdin?.write(`${line}\n`);
    });
  }

  /** quit, then SIGKILL if the JVM is still there after 20 s. */
  async stop(): Promise<void> {
    if (!this.exited) {
      const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
      await this.command('quit', 20_000).catch(() => undefined);
      if (!this.exited) this.child.kill('SIGKILL');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    }
    closeSync(this.log);
  }
}

const stamp = (): string => new Date().toISOString().slice(11, 19);
const log = (msg: string): void => console.log(`[${stamp()}] ${msg}`);

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function num(name: string, d: number): number {
  const v = arg(name);
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} needs a positive integer, got ${v}`);
  return n;
}

const fmt = (x: number | undefined, d = 1): string =>
  x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d);

async function main(): Promise<void> {
  const reps = num('--reps', 5);
  const commits = num('--commits', 2000);
  const dir = arg('--dir') ?? join(ROOT, '.tmp/bench-groups');
  const out = arg('--out') ?? join(ROOT, 'bench/results/groups.json');
  const S = GROUP_SETTINGS;
  mkdirSync(dir, { recursive: true });

  const kafkaGroupProps = {
    'group.initial.rebalance.delay.ms': S.initialRebalanceDelayMs,
    'group.consumer.heartbeat.interval.ms': S.consumerHeartbeatIntervalMs,
    'group.consumer.min.heartbeat.interval.ms': S.consumerHeartbeatIntervalMs,
    'group.consumer.session.timeout.ms': S.consumerSessionTimeoutMs,
    'group.consumer.min.session.timeout.ms': S.consumerSessionTimeoutMs,
  };
  const targets: PeerTarget[] = [
    apacheKafkaTarget({ dir: join(dir, 'apache-kafka'), props: kafkaGroupProps }),
  ];
  if (!process.argv.includes('--no-kafka-fsync')) {
    targets.push(
      apacheKafkaTarget({
        dir: join(dir, 'apache-kafka-fsync'),
        name: 'apache-kafka-fsync',
        props: { ...kafkaGroupProps, 'log.flush.interval.messages': 1 },
      }),
    );
  }
  targets.push(
    tributaryTarget({
      dir: join(dir, 'tributary'),
      options: {
        groupInitialRebalanceDelayMs: S.initialRebalanceDelayMs,
        groupConsumerHeartbeatIntervalMs: S.consumerHeartbeatIntervalMs,
        groupConsumerSessionTimeoutMs: S.consumerSessionTimeoutMs,
      },
    }),
  );

  const settingsText =
    `${S.partitions} partitions, ${S.members} stable members; classic: CooperativeStickyAssignor, ` +
    `session.timeout.ms=${S.classicSessionTimeoutMs}, heartbeat.interval.ms=${S.classicHeartbeatIntervalMs} ` +
    `(client); KIP-848: group.protocol=consumer, uniform, group.consumer.heartbeat.interval.ms=` +
    `${S.consumerHeartbeatIntervalMs}, group.consumer.session.timeout.ms=${S.consumerSessionTimeoutMs} ` +
    `(broker); group.initial.rebalance.delay.ms=${S.initialRebalanceDelayMs}; ${commits} commits after 200 warm-up`;
  log(`settings: ${settingsText}`);

  const t0 = Date.now();
  const running: { target: PeerTarget; r: RunningTarget; driver?: Driver; error?: string }[] = [];
  const errors: { target: string; phase: string; message: string }[] = [];
  try {
    const classes = await compileDriver(dir);
    for (const target of targets) {
      log(`start ${target.name}`);
      const r = await target.start();
      log(`${target.name} ready at ${r.bootstrap}`);
      running.push({ target, r });
    }
    for (const x of running) {
      const logFile = join(dir, `${x.target.name}-driver.log`);
      rmSync(logFile, { force: true });
      x.driver = new Driver(x.target.name, x.r.bootstrap, classes, logFile, {
        members: S.members,
        sessionMs: S.classicSessionTimeoutMs,
        heartbeatMs: S.classicHeartbeatIntervalMs,
        commits,
        warmup: 200,
        timeoutMs: 60_000,
        settleMs: 300,
        nonce: Date.now().toString(36),
      });
      log(`${x.target.name}: setup (topic, 2 groups of ${S.members})`);
      try {
        await x.driver.command('setup', 150_000);
      } catch (e) {
        x.error = (e as Error).message;
        errors.push({ target: x.target.name, phase: 'setup', message: x.error });
        log(`FAILED ${x.error}`);
      }
    }
    for (let rep = 1; rep <= reps; rep++) {
      const order = running.map((_, i) => running[(i + rep - 1) % running.length] as (typeof running)[0]);
      for (const x of order) {
        if (x.error || !x.driver) continue;
        const started = Date.now();
        try {
          await x.driver.command(`rep ${rep}`, 240_000);
          const ps = x.driver.phases.filter((p) => p.rep === rep);
          const f = (phase: string, proto: string, k: keyof GroupPhase) =>
            fmt(ps.find((p) => p.phase === phase && p.proto === proto)?.[k] as number | undefined, 0);
          log(
            `rep ${rep} ${x.target.name} (${((Date.now() - started) / 1000).toFixed(1)} s): ` +
              `classic join/leave ${f('join', 'classic', 'ms')}/${f('leave', 'classic', 'ms')} ms, ` +
              `KIP-848 ${f('join', 'consumer', 'ms')}/${f('leave', 'consumer', 'ms')} ms; commit p50 ` +
              `${fmt(ps.find((p) => p.phase === 'commit' && p.proto === 'classic')?.p50Ms, 2)}/` +
              `${fmt(ps.find((p) => p.phase === 'commit' && p.proto === 'consumer')?.p50Ms, 2)} ms`,
          );
        } catch (e) {
          x.error = (e as Error).message;
          errors.push({ target: x.target.name, phase: `rep ${rep}`, message: x.error });
          log(`FAILED ${x.error}`);
        }
      }
    }
  } finally {
    for (const x of running) await x.driver?.stop();
    for (const x of running) await x.r.stop();
    // the brokers' data (Kafka preallocates ~1 GB of index files here); the driver logs stay
    if (!process.argv.includes('--keep'))
      for (const t of ['apache-kafka', 'apache-kafka-fsync', 'tributary'])
        rmSync(join(dir, t), { recursive: true, force: true });
  }

  const results: GroupTargetResult[] = running.map((x) => ({
    name: x.target.name,
    bootstrap: x.r.bootstrap,
    version: x.r.version,
    phases: x.driver?.phases ?? [],
    summary: summarize(x.driver?.phases ?? []),
    ...(x.error ? { error: x.error } : {}),
  }));
  const trib = results.find((t) => t.name === 'tributary');
  const ratios: Record<string, Record<string, number | undefined>> = {};
  for (const base of results.filter((t) => t !== trib)) {
    const r: Record<string, number | undefined> = {};
    for (const [key] of FIGURES) {
      const a = trib?.summary[key];
      const b = base.summary[key];
      r[key] = a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
    }
    ratios[`tributary/${base.name}`] = r;
  }
  const result = {
    generatedAt: new Date().toISOString(),
    machine: machineInfo(),
    apacheKafkaVersion: kafkaVersion(),
    kafkaClients: '4.1.1',
    settings: { ...GROUP_SETTINGS, commits, warmupCommits: 200, reps },
    settingsText,
    wallSeconds: (Date.now() - t0) / 1000,
    targets: results,
    ratios,
    errors,
  };

  // human table
  console.log(
    `\nConsumer groups, Apache Kafka ${result.apacheKafkaVersion} vs Tributary, kafka-clients 4.1.1, ` +
      `median of ${reps} rep(s)\n${settingsText}\n` +
      'Kafka does not fsync __consumer_offsets by default (acknowledges from the page cache); ' +
      'apache-kafka-fsync has log.flush.interval.messages=1; Tributary acknowledges a commit once it is durable in its WAL.',
  );
  const ratioNames = Object.keys(ratios);
  const header = ['', ...results.map((t) => t.name), ...ratioNames];
  const rows = FIGURES.map(([key, label]) => [
    label,
    ...results.map((t) => fmt(t.summary[key], key.includes('Commit') ? 2 : 0)),
    ...ratioNames.map((n) => fmt(ratios[n]?.[key], 2)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join('  ');
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  for (const e of errors) console.log(`FAILED ${e.target} ${e.phase}: ${e.message.split('\n')[0]}`);
  console.log(
    `GROUPS_JSON ${JSON.stringify({ generatedAt: result.generatedAt, settings: result.settings, summary: Object.fromEntries(results.map((t) => [t.name, t.summary])), ratios, errors: errors.length })}`,
  );
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote ${out} (${result.wallSeconds.toFixed(0)} s)`);
  if (errors.length) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
  process.exit(process.exitCode ?? 0);
}
