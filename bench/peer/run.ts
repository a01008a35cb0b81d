/**
 * `pnpm bench:peer`: Apache Kafka 4.x (tools/kafka, single KRaft node) side by side with Tributary,
 * driven by Kafka's own ProducerPerformance and ConsumerPerformance (bench/peer/perf.ts).
 *
 * Per round and target: a fresh topic of 8 partitions (TopicCommand), N records of 1 KiB with
 * acks=all at full speed, then all N read back by a fresh consumer group; the broker process is
 * sampled meanwhile (RSS, CPU); then a fixed-rate produce run (default 50k records at 5k/s) for
 * latency below saturation, since the unthrottled run's latency is mostly the producer's queue. Rounds are interleaved (A B, B A, ...) so drift hits both alike;
 * the summary is the median round. Idle RSS is taken after start-up settles and again after the
 * last round.
 *
 * Targets: Apache Kafka always; Tributary when packages/broker exports startBroker() (run in a
 * child process by bench/peer/tributary-broker.ts), or an already running one given with
 * `--tributary <host:port>` (its pid from `--tributary-pid` or found from the listening socket).
 *
 * Usage: pnpm bench:peer [--quick] [--records N] [--rounds R] [--partitions P] [--record-size B]
 *        [--tributary host:port] [--tributary-pid PID] [--no-tributary] [--kafka-fsync]
 *        [--latency-records N (0 = none)] [--latency-rate R] [--out file] [--dir path]
 * --kafka-fsync adds a third target: Apache Kafka with log.flush.interval.messages=1 (an fsync per
 * append, closer to a broker that acknowledges only durable writes).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineInfo } from '../wal/stats.ts';
import { kafkaVersion, ROOT } from './kafka.ts';
import { type ProcessSample, type ProduceConsumeResult, runProduceConsume, sampleProcess } from './perf.ts';
import {
  apacheKafkaTarget,
  externalTarget,
  type PeerTarget,
  type RunningTarget,
  tributaryAvailable,
  tributaryTarget,
} from './targets.ts';

export interface PeerBenchParams {
  records: number;
  recordSize: number;
  partitions: number;
  rounds: number;
  acks: 'all' | '1';
  /** Fixed-rate produce run after each round's consume (latency below saturation); 0 records = none. */
  latencyRecords: number;
  latencyThroughput: number;
  /** Wait after start-up before the idle RSS sample. */
  idleSettleMs: number;
  /** Length of each idle RSS sample. */
  idleSampleMs: number;
}

export const FULL_PARAMS: PeerBenchParams = {
  records: 500_000,
  recordSize: 1024,
  partitions: 8,
  rounds: 3,
  acks: 'all',
  latencyRecords: 50_000,
  latencyThroughput: 5000,
  idleSettleMs: 5000,
  idleSampleMs: 2000,
};

export const QUICK_PARAMS: PeerBenchParams = {
  ...FULL_PARAMS,
  records: 50_000,
  rounds: 1,
  latencyRecords: 20_000,
  latencyThroughput: 5000,
  idleSettleMs: 2000,
  idleSampleMs: 1000,
};

export interface TargetSummary {
  produceRecordsPerSec?: number;
  produceMbPerSec?: number;
  produceAvgLatencyMs?: number;
  produceP50Ms?: number;
  produceP99Ms?: number;
  produceP999Ms?: number;
  consumeMbPerSec?: number;
  consumeFetchMbPerSec?: number;
  consumeRecordsPerSec?: number;
  /** The fixed-rate run's latency (absent when latencyRecords is 0). */
  fixedRateP50Ms?: number;
  fixedRateP99Ms?: number;
  fixedRateP999Ms?: number;
  /** Largest RSS seen during produce or consume (median over rounds). */
  loadMaxRssBytes?: number;
  /** Broker CPU seconds per GB produced / consumed (median over rounds). */
  produceCpuSecPerGB?: number;
  consumeCpuSecPerGB?: number;
}

export interface TargetResult {
  name: string;
  bootstrap: string;
  pid?: number;
  version?: string;
  startMs: number;
  idle?: ProcessSample;
  idleAfter?: ProcessSample;
  rounds: ProduceConsumeResult[];
  /** The broker process ended during the run (it is then left out of later rounds). */
  died?: string;
  summary: TargetSummary;
}

export interface PeerBenchResult {
  generatedAt: string;
  machine: Record<string, string | number>;
  apacheKafkaVersion: string;
  params: PeerBenchParams;
  targets: TargetResult[];
  /** Every failed phase, by target and round (the run still completes and writes its figures). */
  errors: { target: string; round: number; phase: string; message: string }[];
  /** target / baseline (the first target, Apache Kafka) for each summary figure. */
  ratios: Record<string, Partial<Record<keyof TargetSummary, number>>>;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return Number.NaN;
  return n % 2 ? (s[(n - 1) / 2] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
};

function summarize(rounds: ProduceConsumeResult[], p: PeerBenchParams): TargetSummary {
  const m = (f: (r: ProduceConsumeResult) => number | undefined): number | undefined => {
    const xs = rounds.map(f).filter((x): x is number => x !== undefined);
    return xs.length ? median(xs) : undefined;
  };
  const gb = (p.records * p.recordSize) / 1e9;
  return {
    produceRecordsPerSec: m((r) => r.produce?.recordsPerSec),
    produceMbPerSec: m((r) => r.produce?.mbPerSec),
    produceAvgLatencyMs: m((r) => r.produce?.avgLatencyMs),
    produceP50Ms: m((r) => r.produce?.p50Ms),
    produceP99Ms: m((r) => r.produce?.p99Ms),
    produceP999Ms: m((r) => r.produce?.p999Ms),
    consumeMbPerSec: m((r) => r.consume?.mbPerSec),
    consumeFetchMbPerSec: m((r) => r.consume?.fetchMbPerSec),
    consumeRecordsPerSec: m((r) => r.consume?.recordsPerSec),
    fixedRateP50Ms: m((r) => r.latency?.p50Ms),
    fixedRateP99Ms: m((r) => r.latency?.p99Ms),
    fixedRateP999Ms: m((r) => r.latency?.p999Ms),
    loadMaxRssBytes: m((r) => {
      const xs = [r.produceProcess?.maxRssBytes, r.consumeProcess?.maxRssBytes].filter(
        (x) => x !== undefined,
      );
      return xs.length ? Math.max(...xs) : undefined;
    }),
    produceCpuSecPerGB: m((r) => (r.produceProcess ? r.produceProcess.cpuSeconds / gb : undefined)),
    consumeCpuSecPerGB: m((r) => (r.consumeProcess ? r.consumeProcess.cpuSeconds / gb : undefined)),
  };
}

async function idleSample(pid: number | undefined, ms: number): Promise<ProcessSample | undefined> {
  if (!pid) return undefined;
  const s = sampleProcess(pid, 100);
  await new Promise((r) => setTimeout(r, ms));
  const r = s.stop();
  return r.samples > 0 ? r : undefined;
}

const stamp = (): string => new Date().toISOString().slice(11, 19);

/** Starts every target, runs the interleaved rounds, stops every target (always), summarizes. */
export async function runPeerBench(
  targets: readonly PeerTarget[],
  p: PeerBenchParams,
  log: (msg: string) => void = (msg) => console.log(`[${stamp()}] ${msg}`),
): Promise<PeerBenchResult> {
  if (targets.length === 0) throw new Error('no targets');
  const running: { target: PeerTarget; r: RunningTarget; result: TargetResult }[] = [];
  try {
    for (const target of targets) {
      log(`start ${target.name}`);
      const t0 = performance.now();
      const r = await target.start();
      const startMs = performance.now() - t0;
      log(`${target.name} ready at ${r.bootstrap} (pid ${r.pid ?? '?'}) in ${(startMs / 1000).toFixed(1)} s`);
      running.push({
        target,
        r,
        result: {
          name: target.name,
          bootstrap: r.bootstrap,
          pid: r.pid,
          version: r.version,
          startMs,
          rounds: [],
          summary: {} as TargetSummary,
        },
      });
    }
    await new Promise((res) => setTimeout(res, p.idleSettleMs));
    for (const x of running) x.result.idle = await idleSample(x.r.pid, p.idleSampleMs);

    for (let round = 0; round < p.rounds; round++) {
      const order = round % 2 === 0 ? running : [...running].reverse();
      for (const x of order) {
        const gone = x.r.exitStatus?.();
        if (gone) {
          x.result.died ??= `exited ${gone.code ?? gone.signal} before round ${round + 1}`;
          log(`${x.target.name}: ${x.result.died}; skipped`);
          continue;
        }
        const topic = `peer-${x.target.name}-r${round}-${Date.now().toString(36)}`;
        log(`round ${round + 1}/${p.rounds} ${x.target.name}`);
        const res = await runProduceConsume({
          bootstrap: x.r.bootstrap,
          pid: x.r.pid,
          topic,
          partitions: p.partitions,
          numRecords: p.records,
          recordSize: p.recordSize,
          acks: p.acks,
          latency:
            p.latencyRecords > 0
              ? { numRecords: p.latencyRecords, throughput: p.latencyThroughput }
              : undefined,
          log: (m) => log(`  ${x.target.name}: ${m}`),
        });
        const fmtN = (v: number | undefined, d = 0): string => (v === undefined ? '-' : v.toFixed(d));
        log(
          `  ${x.target.name}: produce ${fmtN(res.produce?.recordsPerSec)} rec/s ${fmtN(res.produce?.mbPerSec, 1)} MB/s ` +
            `p99 ${fmtN(res.produce?.p99Ms)} ms; consume ${fmtN(res.consume?.fetchMbPerSec, 1)} MB/s (fetch); ` +
            `p99 ${fmtN(res.latency?.p99Ms)} ms at ${p.latencyThroughput}/s` +
            (res.errors.length ? `; FAILED: ${res.errors.map((e) => e.phase).join(', ')}` : ''),
        );
        x.result.rounds.push(res);
      }
    }
    for (const x of running) {
      const gone = x.r.exitStatus?.();
      if (gone) x.result.died ??= `exited ${gone.code ?? gone.signal} after the last round`;
      else x.result.idleAfter = await idleSample(x.r.pid, p.idleSampleMs);
    }
  } finally {
    for (const x of running) {
      log(`stop ${x.target.name}`);
      await x.r.stop().catch((e: Error) => log(`stop ${x.target.name} failed: ${e.message}`));
    }
  }

  const results = running.map((x) => ({ ...x.result, summary: summarize(x.result.rounds, p) }));
  const base = results[0] as TargetResult;
  const ratios: PeerBenchResult['ratios'] = {};
  for (const t of results.slice(1)) {
    const r: Partial<Record<keyof TargetSummary, number>> = {};
    for (const k of Object.keys(t.summary) as (keyof TargetSummary)[]) {
      const a = t.summary[k];
      const b = base.summary[k];
      if (a !== undefined && b !== undefined && b !== 0) r[k] = a / b;
    }
    ratios[t.name] = r;
  }
  return {
    generatedAt: new Date().toISOString(),
    machine: machineInfo(),
    apacheKafkaVersion: kafkaVersion(),
    params: p,
    targets: results,
    errors: results.flatMap((t) => [
      ...t.rounds.flatMap((r, round) => r.errors.map((e) => ({ target: t.name, round: round + 1, ...e }))),
      ...(t.died ? [{ target: t.name, round: t.rounds.length + 1, phase: 'broker', message: t.died }] : []),
    ]),
    ratios,
  };
}

const MiB = 1024 * 1024;
const fmt = (x: number | undefined, d = 1): string =>
  x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d);

export function printPeerBench(r: PeerBenchResult): void {
  const rows: [string, (s: TargetResult) => string][] = [
    ['produce rec/s', (t) => fmt(t.summary.produceRecordsPerSec, 0)],
    ['produce MB/s', (t) => fmt(t.summary.produceMbPerSec)],
    ['produce avg ms', (t) => fmt(t.summary.produceAvgLatencyMs)],
    ['produce p50 ms', (t) => fmt(t.summary.produceP50Ms, 0)],
    ['produce p99 ms', (t) => fmt(t.summary.produceP99Ms, 0)],
    ['produce p99.9 ms', (t) => fmt(t.summary.produceP999Ms, 0)],
    [`p50 ms @${r.params.latencyThroughput}/s`, (t) => fmt(t.summary.fixedRateP50Ms, 0)],
    [`p99 ms @${r.params.latencyThroughput}/s`, (t) => fmt(t.summary.fixedRateP99Ms, 0)],
    [`p99.9 ms @${r.params.latencyThroughput}/s`, (t) => fmt(t.summary.fixedRateP999Ms, 0)],
    ['consume MB/s (run)', (t) => fmt(t.summary.consumeMbPerSec)],
    ['consume MB/s (fetch)', (t) => fmt(t.summary.consumeFetchMbPerSec)],
    ['idle RSS MiB', (t) => fmt(t.idle ? t.idle.avgRssBytes / MiB : undefined, 0)],
    [
      'load max RSS MiB',
      (t) => fmt(t.summary.loadMaxRssBytes !== undefined ? t.summary.loadMaxRssBytes / MiB : undefined, 0),
    ],
    ['idle-after RSS MiB', (t) => fmt(t.idleAfter ? t.idleAfter.avgRssBytes / MiB : undefined, 0)],
    ['CPU s/GB produce', (t) => fmt(t.summary.produceCpuSecPerGB, 2)],
    ['CPU s/GB consume', (t) => fmt(t.summary.consumeCpuSecPerGB, 2)],
    ['start s', (t) => fmt(t.startMs / 1000)],
  ];
  const p = r.params;
  console.log(
    `\nApache Kafka ${r.apacheKafkaVersion} peer: ${p.records} x ${p.recordSize} B, acks=${p.acks}, ${p.partitions} partitions, ` +
      `${p.rounds} round(s), median`,
  );
  const names = r.targets.map((t) => t.name);
  const ratioNames = names.slice(1).map((n) => `${n}/${names[0]}`);
  const header = ['', ...names, ...ratioNames];
  const table = rows.map(([label, f]) => {
    const vals = r.targets.map(f);
    const ratios = r.targets.slice(1).map((t) => {
      const a = Number(f(t));
      const b = Number(f(r.targets[0] as TargetResult));
      return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? (a / b).toFixed(2) : '-';
    });
    return [label, ...vals, ...ratios];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] as string).length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join('  ');
  console.log(line(header));
  for (const row of table) console.log(line(row));
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const base = quick ? QUICK_PARAMS : FULL_PARAMS;
  const num = (name: string, d: number): number => {
    const v = arg(name);
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number, got ${v}`);
    return n;
  };
  const params: PeerBenchParams = {
    ...base,
    records: num('--records', base.records),
    rounds: num('--rounds', base.rounds),
    partitions: num('--partitions', base.partitions),
    recordSize: num('--record-size', base.recordSize),
    latencyRecords: arg('--latency-records') === '0' ? 0 : num('--latency-records', base.latencyRecords),
    latencyThroughput: num('--latency-rate', base.latencyThroughput),
  };
  const dir = arg('--dir') ?? join(ROOT, '.tmp/bench-peer');
  const out = arg('--out') ?? join(ROOT, 'bench/results/peer.json');

  const targets: PeerTarget[] = [apacheKafkaTarget({ dir: join(dir, 'apache-kafka') })];
  if (process.argv.includes('--kafka-fsync')) {
    targets.push(
      apacheKafkaTarget({
        dir: join(dir, 'apache-kafka-fsync'),
        name: 'apache-kafka-fsync',
        props: { 'log.flush.interval.messages': 1 },
      }),
    );
  }
  const external = arg('--tributary');
  if (external) {
    const pid = arg('--tributary-pid');
    targets.push(externalTarget('tributary', external, pid ? Number(pid) : undefined));
  } else if (!process.argv.includes('--no-tributary')) {
    // Same group setting as the Kafka peer (group.initial.rebalance.delay.ms=0 there).
    if (tributaryAvailable()) {
      targets.push(
        tributaryTarget({ dir: join(dir, 'tributary'), options: { groupInitialRebalanceDelayMs: 0 } }),
      );
    } else console.log('tributary: packages/broker/src/index.ts not there yet, running Apache Kafka only');
  }

  const result = await runPeerBench(targets, params);
  printPeerBench(result);
  for (const e of result.errors)
    console.log(
      `FAILED ${e.target} round ${e.round} ${e.phase}: ${e.message.split('\n').slice(0, 4).join(' | ')}`,
    );
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote ${out}`);
  if (result.errors.length) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
  // the JVM tools' pipes are closed; nothing else should hold the loop, but do not hang on it
  process.exit(process.exitCode ?? 0);
}
