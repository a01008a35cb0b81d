/**
 * Helpers of the broker robustness suites: a raw Kafka client on a socket (our own protocol
 * codecs, no retries, so "acknowledged" means exactly one response), the broker CLI as a child
 * process, free ports, a seeded PRNG. Everything binds or connects to 127.0.0.1 only.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiKey,
  buildRecordBatch,
  type CreateTopicsRequest,
  type CreateTopicsResponse,
  decodeResponse,
  defaultFetchRequestReplicaState,
  ErrorCode,
  encodeRequest,
  type FetchRequest,
  type FetchResponse,
  iterateBatches,
  type MetadataRequest,
  type MetadataResponse,
  type ProduceRequest,
  type ProduceResponse,
  type RecordInput,
  readBatchHeader,
  readRecords,
} from '../../packages/protocol/src/index.ts';

export const HOST = '127.0.0.1';
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export const PRODUCE_VERSION = 9;
export const FETCH_VERSION = 11;
export const METADATA_VERSION = 12;
export const CREATE_TOPICS_VERSION = 7;

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** mulberry32: a small seedable PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed from the environment variable `name`, or a random one. */
export function seedFrom(name: string): number {
  const v = process.env[name];
  return v !== undefined && v !== '' ? Number(v) : Math.floor(Math.random() * 2 ** 31);
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Rejects if `p` takes longer than `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The connection was closed (by either side) before the response arrived. */
export class ConnectionClosedError extends Error {
  override name = 'ConnectionClosedError';
}

interface Pending {
  apiKey: number;
  apiVersion: number;
  resolve: (frame: Buffer) => void;
  reject: (err: Error) => void;
}

/**
 * A raw Kafka client: one socket, pipelined requests answered in order, no retries. Response
 * frames are matched to requests by correlation id (and must arrive in request order).
 */
export class RawClient {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private readonly pending: { correlationId: number; p: Pending }[] = [];
  private nextCorrelationId = 1;
  closed = false;
  readonly closedPromise: Promise<void>;
  /** Response frames that matched no request (a protocol error on the broker's side). */
  unexpected: string[] = [];

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
    this.closedPromise = new Promise((r) =>
      socket.once('close', () => {
        this.closed = true;
        for (const { p } of this.pending.splice(0)) {
          p.reject(new ConnectionClosedError('connection closed before the response'));
        }
        r();
      }),
    );
  }

  static connect(port: number, ms = 5_000): Promise<RawClient> {
    return within(
      new Promise<RawClient>((resolveClient, reject) => {
        const socket = connect({ host: HOST, port });
        socket.once('error', reject);
        socket.once('connect', () => {
          socket.off('error', reject);
          resolveClient(new RawClient(socket));
        });
      }),
      ms,
      `connecting to ${HOST}:${port}`,
    );
  }

  private onData(chunk: Buffer): void {
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    for (;;) {
      if (this.bufferedBytes < 4) return;
      let all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
      const size = all.readInt32BE(0);
      if (size < 0) {
        this.unexpected.push(`negative response size ${size}`);
        this.socket.destroy();
        return;
      }
      if (all.length < 4 + size) {
        this.buffered = [all];
        return;
      }
      const frame = all.subarray(4, 4 + size);
      all = all.subarray(4 + size);
      this.buffered = all.length > 0 ? [all] : [];
      this.bufferedBytes = all.length;
      const correlationId = frame.length >= 4 ? frame.readInt32BE(0) : -1;
      const head = this.pending[0];
      if (head === undefined || head.correlationId !== correlationId) {
        this.unexpected.push(
          `response with correlation id ${correlationId}, expected ${head?.correlationId ?? 'none'}`,
        );
        continue;
      }
      this.pending.shift();
      head.p.resolve(Buffer.from(frame));
    }
  }

  /** Sends a request; resolves with the decoded response body. `noResponse`: acks=0 produce. */
  request<T>(apiKey: number, apiVersion: number, body: unknown, ms = 10_000): Promise<T> {
    if (this.closed) return Promise.reject(new ConnectionClosedError('connection is closed'));
    const correlationId = this.nextCorrelationId++;
    const out = encodeRequest(
      { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId: 'robust' },
      body,
    );
    const frame = new Promise<Buffer>((res, rej) => {
      this.pending.push({ correlationId, p: { apiKey, apiVersion, resolve: res, reject: rej } });
    });
    this.socket.cork();
    for (const b of out) this.socket.write(b);
    this.socket.uncork();
    return within(frame, ms, `response to ${apiKey} v${apiVersion} #${correlationId}`).then(
      (f) => decodeResponse<T>(apiKey, apiVersion, f).body,
    );
  }

  /**
   * Registers a response expected with `correlationId` (for frames written with sendRaw);
   * resolves with the response frame (without its size prefix).
   */
  expectFrame(correlationId: number, ms = 10_000): Promise<Buffer> {
    if (this.closed) return Promise.reject(new ConnectionClosedError('connection is closed'));
    const frame = new Promise<Buffer>((res, rej) => {
      this.pending.push({ correlationId, p: { apiKey: -1, apiVersion: -1, resolve: res, reject: rej } });
    });
    return within(frame, ms, `a response with correlation id ${correlationId}`);
  }

  /** Writes bytes as they are. */
  sendRaw(b: Buffer): void {
    this.socket.write(b);
  }

  waitClosed(ms = 5_000): Promise<void> {
    return within(this.closedPromise, ms, 'the connection to close');
  }

  close(): void {
    this.socket.destroy();
  }
}

export function metadataRequest(topics: string[] | null, autoCreate = false): MetadataRequest {
  return {
    topics: topics === null ? null : topics.map((name) => ({ name, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' })),
    allowAutoTopicCreation: autoCreate,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  };
}

export async function metadata(c: RawClient, topics: string[] | null): Promise<MetadataResponse> {
  return c.request<MetadataResponse>(ApiKey.Metadata, METADATA_VERSION, metadataRequest(topics));
}

/** Creates a topic; TOPIC_ALREADY_EXISTS is fine. */
export async function createTopic(
  c: RawClient,
  name: string,
  partitions: number,
  configs: Record<string, string> = {},
): Promise<void> {
  const req: CreateTopicsRequest = {
    topics: [
      {
        name,
        numPartitions: partitions,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(configs).map(([k, v]) => ({ name: k, value: v })),
      },
    ],
    timeoutMs: 10_000,
    validateOnly: false,
  };
  const res = await c.request<CreateTopicsResponse>(ApiKey.CreateTopics, CREATE_TOPICS_VERSION, req);
  const code = res.topics[0]?.errorCode;
  if (code !== ErrorCode.NONE && code !== ErrorCode.TOPIC_ALREADY_EXISTS) {
    throw new Error(`CreateTopics ${name}: error ${code} ${res.topics[0]?.errorMessage ?? ''}`);
  }
}

export function produceRequest(
  topic: string,
  partition: number,
  records: Buffer | null,
  acks = -1,
): ProduceRequest {
  return {
    transactionalId: null,
    acks,
    timeoutMs: 10_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  };
}

/** The partition response of a one-partition produce. */
export async function produceRaw(
  c: RawClient,
  topic: string,
  partition: number,
  records: Buffer | null,
  ms = 10_000,
): Promise<{ errorCode: number; baseOffset: bigint; errorMessage: string | null }> {
  const res = await c.request<ProduceResponse>(
    ApiKey.Produce,
    PRODUCE_VERSION,
    produceRequest(topic, partition, records),
    ms,
  );
  const p = res.responses[0]?.partitionResponses[0];
  if (p === undefined) throw new Error('produce response without a partition');
  return { errorCode: p.errorCode, baseOffset: p.baseOffset, errorMessage: p.errorMessage ?? null };
}

/** Produces values as one batch; throws unless acknowledged; returns the base offset. */
export async function produceValues(
  c: RawClient,
  topic: string,
  partition: number,
  values: string[],
): Promise<bigint> {
  const batch = buildRecordBatch(values.map((v): RecordInput => ({ key: null, value: Buffer.from(v) })));
  const r = await produceRaw(c, topic, partition, batch);
  if (r.errorCode !== ErrorCode.NONE) {
    throw new Error(`produce to ${topic}-${partition}: error ${r.errorCode} ${r.errorMessage ?? ''}`);
  }
  return r.baseOffset;
}

export function fetchRequest(topic: string, partition: number, offset: bigint, maxWaitMs = 0): FetchRequest {
  return {
    clusterId: null,
    replicaId: -1,
    replicaState: defaultFetchRequestReplicaState(),
    maxWaitMs,
    minBytes: 0,
    maxBytes: 4 * 1024 * 1024,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
        partitions: [
          {
            partition,
            currentLeaderEpoch: -1,
            fetchOffset: offset,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: 1024 * 1024,
            replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  };
}

export interface ReadRecord {
  offset: bigint;
  key: string | null;
  value: string | null;
}

/**
 * Reads a partition from offset 0 to its high watermark (group-less fetches); checks the
 * batches it gets (offsets increasing, the first batch covering the fetch offset).
 */
export async function readPartition(c: RawClient, topic: string, partition: number): Promise<ReadRecord[]> {
  const out: ReadRecord[] = [];
  let next = 0n;
  let highWatermark = -1n;
  for (let round = 0; round < 100_000; round++) {
    const res = await c.request<FetchResponse>(
      ApiKey.Fetch,
      FETCH_VERSION,
      fetchRequest(topic, partition, next),
    );
    if (res.errorCode !== ErrorCode.NONE) throw new Error(`fetch error ${res.errorCode}`);
    const p = res.responses[0]?.partitions[0];
    if (p === undefined) throw new Error('fetch response without a partition');
    if (p.errorCode !== ErrorCode.NONE) {
      throw new Error(`fetch ${topic}-${partition} at ${next}: error ${p.errorCode}`);
    }
    highWatermark = p.highWatermark;
    if (next >= highWatermark) break;
    const records = p.records ?? Buffer.alloc(0);
    let progressed = false;
    for (const batch of iterateBatches(records, { allowPartialTail: true })) {
      const h = readBatchHeader(batch);
      const last = h.baseOffset + BigInt(h.lastOffsetDelta);
      if (last < next) continue; // a batch before the fetch offset (allowed)
      for (const r of readRecords(batch)) {
        if (r.offset < next) continue;
        out.push({
          offset: r.offset,
          key: r.key === null ? null : r.key.toString('utf8'),
          value: r.value === null ? null : r.value.toString('utf8'),
        });
      }
      next = last + 1n;
      progressed = true;
    }
    if (!progressed)
      throw new Error(`fetch ${topic}-${partition} at ${next} < hw ${highWatermark}: no batch`);
  }
  return out;
}

/** The broker CLI (`tributary start`) as a child process. */
export class BrokerProcess {
  private logTail = '';
  /** The "broker ready" line was logged. */
  ready = false;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  pid = 0;

  private constructor(readonly child: ChildProcess) {
    this.pid = child.pid ?? 0;
    const keep = (chunk: Buffer): void => {
      this.logTail = (this.logTail + chunk.toString('utf8')).slice(-20_000);
      if (!this.ready && /"msg":"broker ready"/.test(this.logTail)) this.ready = true;
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
    const killOnExit = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
  }

  get log(): string {
    return this.logTail;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts `tributary start --listen 127.0.0.1:<port> --data-dir <dir> ...args`; waits for "broker ready". */
  static async start(
    port: number,
    dataDir: string,
    args: string[] = [],
    readyMs = 60_000,
  ): Promise<BrokerProcess> {
    const b = BrokerProcess.spawn(port, dataDir, args);
    await b.waitReady(readyMs);
    return b;
  }

  /** Starts the CLI without waiting for it to be ready. */
  static spawn(port: number, dataDir: string, args: string[] = []): BrokerProcess {
    if (!existsSync(resolve(ROOT, 'node_modules/tsx')))
      throw new Error('tsx is not installed: run pnpm install');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        resolve(ROOT, 'packages/cli/src/main.ts'),
        'start',
        '--listen',
        `${HOST}:${port}`,
        '--data-dir',
        dataDir,
        ...args,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } },
    );
    return new BrokerProcess(child);
  }

  /** Waits for the "broker ready" log line. */
  async waitReady(readyMs = 60_000): Promise<void> {
    const deadline = Date.now() + readyMs;
    while (!this.ready) {
      if (!this.running) throw new Error(`broker exited before ready:\n${this.logTail}`);
      if (Date.now() > deadline) {
        this.kill('SIGKILL');
        throw new Error(`broker not ready within ${readyMs} ms:\n${this.logTail}`);
      }
      await sleep(20);
    }
  }

  /** Sends a signal to the broker process (node runs the CLI itself: no wrapper process). */
  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGKILL and wait for the exit. */
  async crash(): Promise<void> {
    this.kill('SIGKILL');
    await within(this.exited, 10_000, 'the broker to exit after SIGKILL');
  }

  /** SIGTERM (graceful), SIGKILL after `ms`. */
  async stop(ms = 15_000): Promise<void> {
    if (!this.running) return;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), ms);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Reads a partition from the beginning to its end with kcat (librdkafka, group-less):
 * "offset value" per record. kcat must be installed (scripts/install-tools.sh).
 */
export function kcatRead(
  port: number,
  topic: string,
  partition: number,
): Promise<{ offset: bigint; value: string }[]> {
  return new Promise((resolveRead, reject) => {
    execFile(
      'kcat',
      [
        '-C',
        '-b',
        `${HOST}:${port}`,
        '-t',
        topic,
        '-p',
        String(partition),
        '-o',
        'beginning',
        '-e',
        '-q',
        '-f',
        '%o %s\n',
      ],
      { timeout: 120_000, maxBuffer: 1024 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`kcat failed: ${err.message}\n${stderr}`));
          return;
        }
        const out: { offset: bigint; value: string }[] = [];
        for (const line of stdout.split('\n')) {
          if (line === '') continue;
          const sp = line.indexOf(' ');
          out.push({ offset: BigInt(line.slice(0, sp)), value: line.slice(sp + 1) });
        }
        resolveRead(out);
      },
    );
  });
}
