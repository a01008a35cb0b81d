/**
 * The brokers bench/peer compares. A target starts a broker and hands back its bootstrap address,
 * the pid to sample (RSS, CPU) and a bounded stop(). Adding a broker = adding one PeerTarget.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type ApacheKafka, ROOT, startApacheKafka } from './kafka.ts';
import { pidListeningOn } from './perf.ts';

export interface RunningTarget {
  bootstrap: string;
  /** The broker's process (sampled for RSS and CPU); absent = not sampled. */
  pid?: number;
  version?: string;
  /** Set once the broker process has ended (crash, outside kill, or stop()); absent when the
   *  target does not own the process. */
  exitStatus?: () => { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Bounded: resolves once the broker is gone (or was given up on). */
  stop(): Promise<void>;
}

export interface PeerTarget {
  name: string;
  start(): Promise<RunningTarget>;
}

/** Apache Kafka (single KRaft node) in <dir>, wiped first. props: server.properties overrides. */
export function apacheKafkaTarget(o: {
  dir: string;
  name?: string;
  props?: Record<string, string | number | boolean>;
}): PeerTarget {
  return {
    name: o.name ?? 'apache-kafka',
    async start() {
      rmSync(o.dir, { recursive: true, force: true });
      const k: ApacheKafka = await startApacheKafka({ dir: o.dir, props: o.props });
      return {
        bootstrap: k.bootstrap,
        pid: k.pid,
        version: k.version,
        exitStatus: () => k.exitStatus(),
        stop: () => k.stop(),
      };
    },
  };
}

/** A broker someone else runs (e.g. `--tributary 127.0.0.1:9092`): nothing to start or stop; pid
 *  given or found from the listening socket. */
export function externalTarget(name: string, bootstrap: string, pid?: number): PeerTarget {
  return {
    name,
    async start() {
      const port = Number(bootstrap.split(':').pop());
      return { bootstrap, pid: pid ?? pidListeningOn(port), stop: async () => {} };
    },
  };
}

export const TRIBUTARY_BROKER_MODULE = join(ROOT, 'packages/broker/src/index.ts');

/** True once packages/broker has its index (startBroker()); the launcher checks the export. */
export function tributaryAvailable(): boolean {
  return existsSync(TRIBUTARY_BROKER_MODULE);
}

/** Tributary's startBroker() in a child Node process (bench/peer/tributary-broker.ts), data in
 *  <dir> (wiped first); options: extra BrokerOptions. */
export function tributaryTarget(o: {
  dir: string;
  name?: string;
  options?: Record<string, unknown>;
}): PeerTarget {
  return {
    name: o.name ?? 'tributary',
    async start() {
      rmSync(o.dir, { recursive: true, force: true });
      mkdirSync(o.dir, { recursive: true });
      const launcher = join(ROOT, 'bench/peer/tributary-broker.ts');
      const args = [
        '--import',
        'tsx',
        launcher,
        '--data-dir',
        join(o.dir, 'data'),
        '--options',
        JSON.stringify(o.options ?? {}),
      ];
      return spawnReadyLine({
        command: process.execPath,
        args,
        cwd: ROOT,
        logFile: join(o.dir, 'broker.log'),
        ready: /TRIBUTARY_READY (\S+)/,
        timeoutMs: 60_000,
      });
    },
  };
}

/** Spawns a process whose stdout announces its bootstrap address on a line matching `ready`
 *  (capture group 1); stdout/stderr also go to logFile. */
export function spawnReadyLine(o: {
  command: string;
  args: readonly string[];
  cwd?: string;
  logFile: string;
  ready: RegExp;
  timeoutMs: number;
}): Promise<RunningTarget> {
  const fd = openSync(o.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(o.command, o.args, { cwd: o.cwd, stdio: ['ignore', 'pipe', fd] });
  } finally {
    closeSync(fd);
  }
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let stopping = false;
  const exitPromise = new Promise<void>((r) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      process.off('exit', killOnExit);
      if (!stopping)
        appendFileSync(o.logFile, `\n[bench/peer] process exited unexpectedly: ${code ?? signal}\n`);
      r();
    }),
  );
  const stop = async (): Promise<void> => {
    if (exited) return;
    stopping = true;
    child.kill('SIGTERM');
    if (await settlesWithin(exitPromise, 20_000)) return;
    child.kill('SIGKILL');
    await settlesWithin(exitPromise, 5000);
  };
  return new Promise((resolve, reject) => {
    let out = '';
    let done = false;
    const fail = async (msg: string): Promise<void> => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      await stop();
      const log = existsSync(o.logFile)
        ? readFileSync(o.logFile, 'utf8').split('\n').slice(-30).join('\n')
        : '';
      reject(new Error(`${msg}\n--- stdout\n${out.slice(-3000)}\n--- ${o.logFile}\n${log}`));
    };
    const timer = setTimeout(() => void fail(`not ready after ${o.timeoutMs} ms`), o.timeoutMs);
    child.once('error', (e) => void fail(`cannot start ${o.command}: ${e.message}`));
    child.once('exit', (code, signal) => void fail(`exited ${code ?? signal} before ready`));
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (out.length < 100_000) out += d;
      const m = o.ready.exec(out);
      if (m && !done) {
        done = true;
        clearTimeout(timer);
        resolve({ bootstrap: m[1] as string, pid: child.pid, exitStatus: () => exited, stop });
      }
    });
  });
}

async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
