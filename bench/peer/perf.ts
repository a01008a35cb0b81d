/**
 * Kafka's own load tools (org.apache.kafka.tools.ProducerPerformance / ConsumerPerformance /
 * TopicCommand, from the Apache Kafka jars of tools/.cache/kafka) against ANY bootstrap address,
 * their output parsed into numbers, plus RSS / CPU sampling of the broker process under test
 * (/proc/<pid>/status VmRSS, /proc/<pid>/stat utime+stime).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { type JavaRunOptions, runKafkaJava } from './kafka.ts';

// ---------------------------------------------------------------------------------------------
// ProducerPerformance

export interface ProducerPerfResult {
  records: number;
  recordsPerSec: number;
  mbPerSec: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  p999Ms: number;
  /** Wall time of the tool's JVM, start-up included. */
  wallMs?: number;
}

const PRODUCER_FINAL =
  /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th/;

/** Parses ProducerPerformance's final summary line (the one with the percentiles); the periodic
 *  progress lines before it are ignored. Throws when there is none. */
export function parseProducerPerf(stdout: string): ProducerPerfResult {
  const lines = stdout.split('\n').filter((l) => PRODUCER_FINAL.test(l));
  const last = lines[lines.length - 1];
  const m = last ? PRODUCER_FINAL.exec(last) : null;
  if (!m) throw new Error(`ProducerPerformance printed no summary line:\n${stdout.slice(-2000)}`);
  const n = (i: number): number => Number(m[i]);
  return {
    records: n(1),
    recordsPerSec: n(2),
    mbPerSec: n(3),
    avgLatencyMs: n(4),
    maxLatencyMs: n(5),
    p50Ms: n(6),
    p95Ms: n(7),
    p99Ms: n(8),
    p999Ms: n(9),
  };
}

export interface ProducerPerfOptions {
  bootstrap: string;
  topic: string;
  numRecords: number;
  /** Default 1024 bytes. */
  recordSize?: number;
  /** Default 'all'. */
  acks?: 'all' | '1' | '0' | '-1';
  /** Records/s cap; default -1 (unthrottled). */
  throughput?: number;
  /** Extra producer configs (linger.ms, batch.size, compression.type, ...). */
  props?: Record<string, string | number>;
  java?: JavaRunOptions;
}

/** Runs ProducerPerformance (random payload of recordSize bytes, no keys) and parses its summary. */
export async function runProducerPerf(o: ProducerPerfOptions): Promise<ProducerPerfResult> {
  const props = { acks: o.acks ?? 'all', ...o.props };
  const args = [
    '--bootstrap-server',
    o.bootstrap,
    '--topic',
    o.topic,
    '--num-records',
    String(o.numRecords),
    '--record-size',
    String(o.recordSize ?? 1024),
    '--throughput',
    String(o.throughput ?? -1),
    '--command-property',
    ...Object.entries(props).map(([k, v]) => `${k}=${v}`),
  ];
  const r = await runKafkaJava('org.apache.kafka.tools.ProducerPerformance', args, {
    timeoutMs: 600_000,
    ...o.java,
  });
  return { ...parseProducerPerf(r.stdout), wallMs: r.wallMs };
}

// ---------------------------------------------------------------------------------------------
// ConsumerPerformance

export interface ConsumerPerfResult {
  records: number;
  mb: number;
  /** Over the whole run, group join included (the tool's MB.sec / nMsg.sec). */
  mbPerSec: number;
  recordsPerSec: number;
  /** Time spent joining the group before the first fetch. */
  rebalanceMs: number;
  /** Time spent fetching (the run less the rebalance). */
  fetchMs: number;
  fetchMbPerSec: number;
  fetchRecordsPerSec: number;
  /** False when the tool gave up (its --timeout between records) before numRecords. */
  complete: boolean;
  wallMs?: number;
}

/** Parses ConsumerPerformance's CSV header + data line (column names, not positions). */
export function parseConsumerPerf(stdout: string): ConsumerPerfResult {
  const lines = stdout.split('\n').map((l) => l.trim());
  const h = lines.findIndex((l) => l.startsWith('start.time,'));
  const header = h >= 0 ? (lines[h] as string).split(',').map((c) => c.trim()) : [];
  const row = h >= 0 ? lines.slice(h + 1).find((l) => l.split(',').length === header.length) : undefined;
  if (!row) throw new Error(`ConsumerPerformance printed no result line:\n${stdout.slice(-2000)}`);
  const cells = row.split(',').map((c) => c.trim());
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`ConsumerPerformance output lacks column ${name}: ${header.join(',')}`);
    return Number(cells[i]);
  };
  return {
    records: col('data.consumed.in.nMsg'),
    mb: col('data.consumed.in.MB'),
    mbPerSec: col('MB.sec'),
    recordsPerSec: col('nMsg.sec'),
    rebalanceMs: col('rebalance.time.ms'),
    fetchMs: col('fetch.time.ms'),
    fetchMbPerSec: col('fetch.MB.sec'),
    fetchRecordsPerSec: col('fetch.nMsg.sec'),
    complete: !/Exiting before consuming the expected number/i.test(stdout),
  };
}

export interface ConsumerPerfOptions {
  bootstrap: string;
  topic: string;
  numRecords: number;
  /** Default: a fresh group per run. */
  group?: string;
  /** Give up after this long without a record; default 20 s. */
  idleTimeoutMs?: number;
  /** Extra consumer configs. */
  props?: Record<string, string | number>;
  java?: JavaRunOptions;
}

/** Runs ConsumerPerformance from the earliest offset until numRecords were read. */
export async function runConsumerPerf(o: ConsumerPerfOptions): Promise<ConsumerPerfResult> {
  const args = [
    '--bootstrap-server',
    o.bootstrap,
    '--topic',
    o.topic,
    '--num-records',
    String(o.numRecords),
    '--group',
    o.group ?? `peer-perf-${Date.now()}-${Math.floor(Math.random() * 1e6)}`,
    '--timeout',
    String(o.idleTimeoutMs ?? 20_000),
  ];
  for (const [k, v] of Object.entries(o.props ?? {})) args.push('--command-property', `${k}=${v}`);
  const r = await runKafkaJava('org.apache.kafka.tools.ConsumerPerformance', args, {
    timeoutMs: 600_000,
    ...o.java,
  });
  return { ...parseConsumerPerf(r.stdout), wallMs: r.wallMs };
}

// ---------------------------------------------------------------------------------------------
// Topics (TopicCommand: the Java admin client, like an operator would)

export async function createTopic(
  bootstrap: string,
  topic: string,
  partitions: number,
  o: { replicationFactor?: number; configs?: Record<string, string | number>; java?: JavaRunOptions } = {},
): Promise<void> {
  const args = [
    '--bootstrap-server',
    bootstrap,
    '--create',
    '--topic',
    topic,
    '--partitions',
    String(partitions),
    '--replication-factor',
    String(o.replicationFactor ?? 1),
  ];
  for (const [k, v] of Object.entries(o.configs ?? {})) args.push('--config', `${k}=${v}`);
  await runKafkaJava('org.apache.kafka.tools.TopicCommand', args, {
    heap: ['-Xmx256m'],
    timeoutMs: 60_000,
    ...o.java,
  });
}

export async function deleteTopic(
  bootstrap: string,
  topic: string,
  o: { java?: JavaRunOptions } = {},
): Promise<void> {
  await runKafkaJava(
    'org.apache.kafka.tools.TopicCommand',
    ['--bootstrap-server', bootstrap, '--delete', '--topic', topic],
    {
      heap: ['-Xmx256m'],
      timeoutMs: 60_000,
      ...o.java,
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Process sampling (Linux /proc)

/** Resident set size of pid in bytes (VmRSS), or undefined when the process is gone. */
export function readRssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK), 100 on every Linux architecture Node runs on

/** User + system CPU seconds pid has used (with its threads), or undefined when it is gone. */
export function readCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the parenthesised comm: state is field 3; utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** The pid of the process holding a LISTEN socket on TCP port `port` (any local address), found
 *  through /proc/net/tcp{,6} inodes and /proc/<pid>/fd links; undefined when none is visible. */
export function pidListeningOn(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const localPort = Number.parseInt((cols[1] as string).split(':')[1] ?? '', 16);
      if (localPort === port && cols[3] === '0A') inodes.add(cols[9] as string);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${d}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${d}/fd/${fd}`));
        if (m && inodes.has(m[1] as string)) return Number(d);
      } catch {
        // fd closed meanwhile
      }
    }
  }
  return undefined;
}

export interface ProcessSample {
  samples: number;
  maxRssBytes: number;
  avgRssBytes: number;
  lastRssBytes: number;
  /** CPU seconds used by the process between start and stop. */
  cpuSeconds: number;
  wallMs: number;
}

/** Samples a process's RSS every intervalMs (and its CPU time at both ends) until stop(). */
export function sampleProcess(pid: number, intervalMs = 200): { stop(): ProcessSample } {
  const t0 = performance.now();
  const cpu0 = readCpuSeconds(pid) ?? 0;
  let n = 0;
  let max = 0;
  let sum = 0;
  let last = 0;
  const take = (): void => {
    const v = readRssBytes(pid);
    if (v === undefined) return;
    n++;
    sum += v;
    last = v;
    if (v > max) max = v;
  };
  take();
  const timer = setInterval(take, intervalMs);
  timer.unref();
  return {
    stop(): ProcessSample {
      clearInterval(timer);
      take();
      const cpu1 = readCpuSeconds(pid) ?? cpu0;
      return {
        samples: n,
        maxRssBytes: max,
        avgRssBytes: n ? sum / n : 0,
        lastRssBytes: last,
        cpuSeconds: cpu1 - cpu0,
        wallMs: performance.now() - t0,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// One produce + consume round against one broker

export interface ProduceConsumeOptions {
  bootstrap: string;
  /** The broker process to sample (RSS, CPU); none = not sampled. */
  pid?: number;
  topic: string;
  /** Default 8. */
  partitions?: number;
  numRecords: number;
  /** Default 1024. */
  recordSize?: number;
  /** Default 'all'. */
  acks?: 'all' | '1' | '0' | '-1';
  producerProps?: Record<string, string | number>;
  consumerProps?: Record<string, string | number>;
  /** Delete the topic afterwards (best effort); default true. */
  deleteAfter?: boolean;
  /** After the consume phase: produce this many records at a fixed rate (records/s) to measure
   *  latency below saturation (an unthrottled run's latency is mostly the producer's own queue). */
  latency?: { numRecords: number; throughput: number };
  log?: (msg: string) => void;
}

export interface ProduceConsumeResult {
  topic: string;
  /** Absent when that phase failed (see errors). */
  produce?: ProducerPerfResult;
  consume?: ConsumerPerfResult;
  /** Broker process samples during each phase (absent without pid). */
  produceProcess?: ProcessSample;
  consumeProcess?: ProcessSample;
  /** The fixed-rate produce run (when asked for). */
  latency?: ProducerPerfResult;
  /** Phases that failed (a broker lacking an API, a tool timing out, a short read): the round goes
   *  on where it can (no consume without a produce). Empty = all went well. */
  errors: { phase: 'create' | 'produce' | 'consume' | 'latency'; message: string }[];
}

/** Creates the topic, produces numRecords with ProducerPerformance, reads them all back with
 *  ConsumerPerformance (fresh group, from the earliest offset), then the optional fixed-rate run,
 *  sampling the broker meanwhile. A failing phase is recorded in `errors`, not thrown. */
export async function runProduceConsume(o: ProduceConsumeOptions): Promise<ProduceConsumeResult> {
  const log = o.log ?? (() => {});
  const r: ProduceConsumeResult = { topic: o.topic, errors: [] };
  const fail = (phase: ProduceConsumeResult['errors'][number]['phase'], e: unknown): void => {
    const message = e instanceof Error ? e.message : String(e);
    r.errors.push({ phase, message });
    log(`${phase} failed: ${message.split('\n').slice(0, 3).join(' | ')}`);
  };
  try {
    await createTopic(o.bootstrap, o.topic, o.partitions ?? 8);
  } catch (e) {
    fail('create', e);
    return r;
  }
  log(`produce ${o.numRecords} x ${o.recordSize ?? 1024} B to ${o.topic}`);
  let s = o.pid ? sampleProcess(o.pid) : undefined;
  try {
    r.produce = await runProducerPerf({
      bootstrap: o.bootstrap,
      topic: o.topic,
      numRecords: o.numRecords,
      recordSize: o.recordSize,
      acks: o.acks,
      props: o.producerProps,
    });
    r.produceProcess = s?.stop();
  } catch (e) {
    s?.stop();
    fail('produce', e);
  }
  if (r.produce) {
    log(`consume ${o.numRecords} from ${o.topic}`);
    s = o.pid ? sampleProcess(o.pid) : undefined;
    try {
      r.consume = await runConsumerPerf({
        bootstrap: o.bootstrap,
        topic: o.topic,
        numRecords: o.numRecords,
        props: o.consumerProps,
      });
      r.consumeProcess = s?.stop();
      if (!r.consume.complete || r.consume.records < o.numRecords) {
        fail('consume', new Error(`read ${r.consume.records} of ${o.numRecords} records`));
      }
    } catch (e) {
      s?.stop();
      fail('consume', e);
    }
  }
  if (o.latency && r.produce) {
    log(`produce ${o.latency.numRecords} at ${o.latency.throughput} records/s (latency)`);
    try {
      r.latency = await runProducerPerf({
        bootstrap: o.bootstrap,
        topic: o.topic,
        numRecords: o.latency.numRecords,
        recordSize: o.recordSize,
        acks: o.acks,
        throughput: o.latency.throughput,
        props: o.producerProps,
      });
    } catch (e) {
      fail('latency', e);
    }
  }
  if (o.deleteAfter ?? true) {
    await deleteTopic(o.bootstrap, o.topic).catch((e: Error) =>
      log(`delete ${o.topic} failed: ${e.message.split('\n')[0]}`),
    );
  }
  return r;
}
