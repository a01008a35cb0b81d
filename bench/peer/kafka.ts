/**
 * Apache Kafka as a side-by-side peer: a single KRaft node (broker + controller in one JVM) run
 * from the Maven Central jars that scripts/install-tools.sh puts in tools/.cache/kafka
 * (tools/kafka/pom.xml pins the version), and a runner for Kafka's own Java tools from the same
 * classpath. Missing Java or jars is an error, never a skip.
 *
 *   const kafka = await startApacheKafka({ dir });      // formats, starts, waits for Metadata
 *   kafka.bootstrap                                     // "127.0.0.1:<port>"
 *   await kafka.stop();                                 // SIGTERM, then SIGKILL; bounded
 *
 *   await withApacheKafka(async (kafka) => { ... });    // temp dir + free ports, always cleaned up
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
/** The runtime jars of tools/kafka/pom.xml (override: TRIBUTARY_KAFKA_JARS). */
export const KAFKA_JARS_DIR = process.env.TRIBUTARY_KAFKA_JARS ?? join(ROOT, 'tools/.cache/kafka');
const BROKER_LOG4J = join(ROOT, 'tools/kafka/log4j2-broker.xml');
const TOOLS_LOG4J = join(ROOT, 'tools/kafka/log4j2-tools.xml');

/** Heap and GC flags of Kafka's bin/kafka-server-start.sh and kafka-run-class.sh (the defaults a
 *  user of the Apache distribution gets). */
export const BROKER_HEAP = ['-Xmx1g', '-Xms1g'];
export const BROKER_JVM_FLAGS = [
  '-server',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent',
  '-Djava.awt.headless=true',
];

const INSTALL_HINT = 'run `bash scripts/install-tools.sh` (Apache Kafka peer section)';

/** The java launcher: $JAVA_HOME/bin/java when set, else `java` from PATH. */
export function javaBin(): string {
  const home = process.env.JAVA_HOME;
  if (home && existsSync(join(home, 'bin/java'))) return join(home, 'bin/java');
  return 'java';
}

/** The classpath (`<dir>/*`) of the Apache Kafka jars; throws when they are not installed. */
export function kafkaClasspath(): string {
  const jars = existsSync(KAFKA_JARS_DIR) ? readdirSync(KAFKA_JARS_DIR) : [];
  if (
    !jars.some((j) => /^kafka_2\.13-.*\.jar$/.test(j)) ||
    !jars.some((j) => /^kafka-tools-.*\.jar$/.test(j))
  ) {
    throw new Error(`Apache Kafka jars missing in ${KAFKA_JARS_DIR}: ${INSTALL_HINT}`);
  }
  return join(KAFKA_JARS_DIR, '*');
}

/** The Apache Kafka version of the installed jars (from kafka_2.13-<version>.jar). */
export function kafkaVersion(): string {
  kafkaClasspath();
  for (const j of readdirSync(KAFKA_JARS_DIR)) {
    const m = /^kafka_2\.13-(.+)\.jar$/.exec(j);
    if (m) return m[1] as string;
  }
  throw new Error(`kafka_2.13 jar missing in ${KAFKA_JARS_DIR}`);
}

// Every JVM started here is killed when this process exits, whatever the way out.
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of liveChildren) {
        try {
          c.kill('SIGKILL');
        } catch {
          // already gone
        }
      }
    });
  }
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

export interface JavaRunOptions {
  /** JVM heap flags; default ['-Xmx512m'] (what Kafka's perf-test scripts use). */
  heap?: readonly string[];
  /** Kill the JVM (SIGKILL) after this long and reject; default 120 s. */
  timeoutMs?: number;
  /** Extra JVM flags (-D...). */
  jvmFlags?: readonly string[];
  /** Reject when the exit code is not 0 (default true). */
  check?: boolean;
  /** Called with each chunk of stdout (progress display). */
  onStdout?: (chunk: string) => void;
}

export interface JavaRunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** The JVM's pid (for RSS sampling of the tool itself). */
  pid: number;
}

/** Runs `java -cp <kafka jars> <mainClass> <args>` with the tools' log4j2 config (warnings to
 *  stderr), bounded by timeoutMs. */
export function runKafkaJava(
  mainClass: string,
  args: readonly string[],
  o: JavaRunOptions = {},
): Promise<JavaRunResult> {
  const cp = kafkaClasspath();
  const timeoutMs = o.timeoutMs ?? 120_000;
  const argv = [
    ...(o.heap ?? ['-Xmx512m']),
    '-Djava.awt.headless=true',
    // the tools format numbers with the default locale: pin it so the parsers see 1234.56
    '-Duser.language=en',
    '-Duser.country=US',
    `-Dlog4j2.configurationFile=${TOOLS_LOG4J}`,
    ...(o.jvmFlags ?? []),
    '-cp',
    cp,
    mainClass,
    ...args,
  ];
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(javaBin(), argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      o.onStdout?.(d);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${javaBin()} (need a JDK 17+): ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const r: JavaRunResult = {
        code,
        signal,
        stdout,
        stderr,
        wallMs: performance.now() - started,
        pid: child.pid ?? -1,
      };
      const short = mainClass.replace(/^.*\./, '');
      if (timedOut) {
        reject(
          new Error(
            `${short} ${args.join(' ')} timed out after ${timeoutMs} ms\n${tail(stderr)}\n${tail(stdout)}`,
          ),
        );
      } else if ((o.check ?? true) && code !== 0) {
        reject(
          new Error(`${short} ${args.join(' ')} exited ${code ?? signal}\n${tail(stderr)}\n${tail(stdout)}`),
        );
      } else {
        resolvePromise(r);
      }
    });
  });
}

function tail(s: string, lines = 30): string {
  return s.trimEnd().split('\n').slice(-lines).join('\n');
}

/** A KRaft cluster id: 16 random bytes, base64url without padding (Kafka's Uuid text form); like
 *  Kafka's own generator, never one starting with '-' (a command line would read it as a flag). */
export function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** A port on 127.0.0.1 free right now (bind to 0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePromise(port));
    });
  });
}

export interface ApacheKafkaOptions {
  /** Working directory: server.properties and data/ (log.dirs) go here. Created if missing. */
  dir: string;
  /** Broker (PLAINTEXT) port on 127.0.0.1; 0 or absent = a free one. */
  port?: number;
  /** Controller (KRaft) port on 127.0.0.1; 0 or absent = a free one. */
  controllerPort?: number;
  /** Where server.log and the JVM's stdout/stderr go; default <dir>/logs. */
  logDir?: string;
  /** Heap flags; default BROKER_HEAP (-Xmx1g -Xms1g, Kafka's own default). */
  heap?: readonly string[];
  /** Extra or overriding server.properties entries (e.g. { 'log.flush.interval.messages': 1 }). */
  props?: Record<string, string | number | boolean>;
  /** Bound on format + start + first Metadata answer; default 90 s. */
  startTimeoutMs?: number;
}

export interface ApacheKafka {
  /** "127.0.0.1:<port>". */
  readonly bootstrap: string;
  readonly host: string;
  readonly port: number;
  readonly controllerPort: number;
  /** The broker JVM's pid (for RSS sampling). */
  readonly pid: number;
  readonly dir: string;
  readonly logDir: string;
  readonly clusterId: string;
  readonly version: string;
  /** How the JVM ended, once it has (undefined while it runs). */
  exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** SIGTERM (controlled shutdown), then SIGKILL after timeoutMs (default 20 s). Bounded;
   *  idempotent. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

/** The server.properties of a single KRaft node listening on 127.0.0.1 only. */
export function serverProperties(o: {
  dataDir: string;
  port: number;
  controllerPort: number;
  props?: Record<string, string | number | boolean>;
}): string {
  const p: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.bootstrap.servers': `127.0.0.1:${o.controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${o.port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': o.dataDir,
    'num.partitions': 1,
    'auto.create.topics.enable': true,
    'offsets.topic.replication.factor': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'min.insync.replicas': 1,
    'default.replication.factor': 1,
    'group.initial.rebalance.delay.ms': 0,
    ...o.props,
  };
  return `${Object.entries(p)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join('\n')}\n`;
}

/**
 * Formats <dir>/data with `kafka.tools.StorageTool format --standalone` and starts `kafka.Kafka`;
 * resolves once the broker answers a Metadata request listing itself. On a start failure the JVM
 * is killed and the error carries the tail of its logs.
 *
 * A <dir> that already holds formatted data is started again as it is (the controller's address
 * is part of the formatted voter set, so ports not given are taken from the previous
 * server.properties). Ports picked here that another process grabs before the JVM binds them
 * are picked again, once, on a fresh directory.
 */
export async function startApacheKafka(o: ApacheKafkaOptions): Promise<ApacheKafka> {
  const dataDir = join(resolve(o.dir), 'data');
  const fresh = !existsSync(join(dataDir, 'meta.properties'));
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(o);
    } catch (e) {
      const portsPicked = !o.port || !o.controllerPort;
      if (
        !(
          fresh &&
          portsPicked &&
          attempt < 2 &&
          /Address already in use|BindException/.test((e as Error).message)
        )
      )
        throw e;
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
}

function previousPorts(propsFile: string): { port?: number; controllerPort?: number } {
  if (!existsSync(propsFile)) return {};
  const text = readFileSync(propsFile, 'utf8');
  const port = /PLAINTEXT:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1];
  const controllerPort = /CONTROLLER:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1];
  return {
    port: port ? Number(port) : undefined,
    controllerPort: controllerPort ? Number(controllerPort) : undefined,
  };
}

async function startOnce(o: ApacheKafkaOptions): Promise<ApacheKafka> {
  const cp = kafkaClasspath();
  const version = kafkaVersion();
  const startTimeoutMs = o.startTimeoutMs ?? 90_000;
  const deadline = Date.now() + startTimeoutMs;
  const dir = resolve(o.dir);
  const logDir = resolve(o.logDir ?? join(dir, 'logs'));
  const dataDir = join(dir, 'data');
  mkdirSync(dir, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  const propsFile = join(dir, 'server.properties');
  const fresh = !existsSync(join(dataDir, 'meta.properties'));
  const prev = fresh ? {} : previousPorts(propsFile);
  const port = o.port || prev.port || (await freePort());
  let controllerPort = o.controllerPort || prev.controllerPort || (await freePort());
  while (controllerPort === port) controllerPort = await freePort();
  writeFileSync(propsFile, serverProperties({ dataDir, port, controllerPort, props: o.props }));

  let clusterId = '';
  if (fresh) {
    clusterId = randomClusterId();
    await runKafkaJava(
      'kafka.tools.StorageTool',
      ['format', '--standalone', '-t', clusterId, '-c', propsFile],
      {
        heap: ['-Xmx256m'],
        timeoutMs: Math.max(1000, deadline - Date.now()),
      },
    );
  } else {
    const m = /cluster\.id=(\S+)/.exec(readFileSync(join(dataDir, 'meta.properties'), 'utf8'));
    clusterId = m?.[1] ?? '';
  }

  const outFile = join(logDir, 'stdout.log');
  const outFd = openSync(outFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      javaBin(),
      [
        ...(o.heap ?? BROKER_HEAP),
        ...BROKER_JVM_FLAGS,
        `-Dkafka.logs.dir=${logDir}`,
        `-Dlog4j2.configurationFile=${BROKER_LOG4J}`,
        '-cp',
        cp,
        'kafka.Kafka',
        propsFile,
      ],
      { stdio: ['ignore', outFd, outFd] },
    );
  } finally {
    closeSync(outFd);
  }
  track(child);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((res) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      res();
    });
  });
  let spawnError: Error | undefined;
  child.once('error', (e) => {
    spawnError = e;
  });

  const logTail = (): string => {
    const parts: string[] = [];
    for (const f of [outFile, join(logDir, 'server.log')]) {
      if (existsSync(f)) parts.push(`--- ${f}\n${tail(readFileSync(f, 'utf8'), 25)}`);
    }
    return parts.join('\n');
  };

  let stopping: Promise<void> | undefined;
  const stop = (opts: { timeoutMs?: number } = {}): Promise<void> => {
    stopping ??= (async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const timeoutMs = opts.timeoutMs ?? 20_000;
      if (await raceTimeout(exitPromise, timeoutMs)) return;
      child.kill('SIGKILL');
      await raceTimeout(exitPromise, 5000);
    })();
    return stopping;
  };

  try {
    for (;;) {
      if (spawnError) throw new Error(`cannot run ${javaBin()} (need a JDK 17+): ${spawnError.message}`);
      if (exited) throw new Error(`kafka.Kafka exited ${exited.code ?? exited.signal} while starting`);
      if (Date.now() > deadline) throw new Error(`Apache Kafka not ready after ${startTimeoutMs} ms`);
      if (await metadataListsBroker('127.0.0.1', port, 1000)) break;
      await sleep(250);
    }
  } catch (e) {
    await stop({ timeoutMs: 2000 });
    throw new Error(`${(e as Error).message}\n${logTail()}`);
  }

  return {
    bootstrap: `127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    controllerPort,
    pid: child.pid ?? -1,
    dir,
    logDir,
    clusterId,
    version,
    exitStatus: () => exited,
    stop,
  };
}

/**
 * Runs fn against a fresh Apache Kafka in a temporary directory on free ports, then stops it and
 * removes the directory, whether fn resolved or threw. For suites that validate a client driver
 * against the real thing before pointing it at Tributary.
 */
export async function withApacheKafka<T>(
  fn: (kafka: ApacheKafka) => Promise<T>,
  options: Omit<ApacheKafkaOptions, 'dir'> & { dir?: string; keepDir?: boolean } = {},
): Promise<T> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tributary-apache-kafka-'));
  let kafka: ApacheKafka | undefined;
  try {
    kafka = await startApacheKafka({ ...options, dir });
    return await fn(kafka);
  } finally {
    await kafka?.stop();
    if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves true when p settles within ms. */
async function raceTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), t]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Readiness probe: one raw Metadata v4 request (request header v1, an empty topic list) on a fresh
// socket; ready when the answer lists at least one broker. Independent of any client library and
// of the project's own protocol code.

/** True when host:port answers a Metadata request whose broker list is not empty. */
export function metadataListsBroker(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((res) => {
    const sock = new Socket();
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (v: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      res(v);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.once('error', () => finish(false));
    sock.once('close', () => finish(false));
    sock.connect(port, host, () => {
      const clientId = Buffer.from('tributary-peer-probe');
      // Metadata (key 3) v4: header v1 = api_key, api_version, correlation_id, client_id;
      // body = topics (array, 0 entries = none), allow_auto_topic_creation (bool).
      const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1);
      let o = 0;
      o = body.writeInt16BE(3, o);
      o = body.writeInt16BE(4, o);
      o = body.writeInt32BE(7, o);
      o = body.writeInt16BE(clientId.length, o);
      o += clientId.copy(body, o);
      o = body.writeInt32BE(0, o);
      body.writeInt8(0, o);
      const size = Buffer.alloc(4);
      size.writeInt32BE(body.length);
      sock.write(Buffer.concat([size, body]));
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 4) return;
      const len = buf.readInt32BE(0);
      if (buf.length < 4 + len) return;
      // response header v0 = correlation_id; Metadata v4 body starts with throttle_time_ms,
      // then the brokers array's int32 count.
      if (len < 12 || buf.readInt32BE(4) !== 7) return finish(false);
      finish(buf.readInt32BE(12) > 0);
    });
  });
}
