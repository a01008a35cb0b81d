/** Test helpers: a raw Kafka test client and toy handlers. Everything binds 127.0.0.1. */
import { connect, type Socket } from 'node:net';
import {
  ApiKey,
  decodeResponse,
  ErrorCode,
  encodeRequest,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type MetadataRequest,
  type MetadataResponse,
  type ProduceRequest,
  type ProduceResponse,
} from '@tributary/protocol';
import {
  type ApiHandler,
  FrameReader,
  KafkaServer,
  type KafkaServerOptions,
  NO_RESPONSE,
} from '../src/index.ts';

export const HOST = '127.0.0.1';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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

/** Polls `cond` every 5 ms until it holds, or fails after `ms`. */
export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

export function startServer(
  handlers: readonly ApiHandler[],
  options: Partial<KafkaServerOptions> = {},
): Promise<KafkaServer> {
  return KafkaServer.start({ host: HOST, port: 0, handlers, ...options });
}

export interface LogLine {
  level: 'info' | 'warn' | 'error' | 'debug';
  o: object;
  msg?: string;
}

export function memoryLogger(): { lines: LogLine[]; info: any; warn: any; error: any; debug: any } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (o: object, msg?: string) => lines.push({ level: 'info', o, msg }),
    warn: (o: object, msg?: string) => lines.push({ level: 'warn', o, msg }),
    error: (o: object, msg?: string) => lines.push({ level: 'error', o, msg }),
    debug: (o: object, msg?: string) => lines.push({ level: 'debug', o, msg }),
  };
}

/** A raw client: writes frames, reads response frames in arrival order. */
export class TestClient {
  readonly socket: Socket;
  private readonly framer = new FrameReader(1 << 30);
  private readonly frames: Buffer[] = [];
  private waiter: (() => void) | null = null;
  private nextCorrelationId = 1;
  ended = false;
  closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.framer.push(chunk);
      for (let f = this.framer.next(); f !== null; f = this.framer.next()) this.frames.push(f);
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
    this.closedPromise = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true;
        this.wake();
        resolve();
      }),
    );
  }

  static connect(port: number): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: HOST, port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new TestClient(socket));
      });
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Writes a request; returns its correlation id. */
  send(apiKey: number, apiVersion: number, body: unknown, correlationId = this.nextCorrelationId++): number {
    const out = encodeRequest(
      { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId: 'test-client' },
      body,
    );
    this.socket.cork();
    for (const b of out) this.socket.write(b);
    this.socket.uncork();
    return correlationId;
  }

  /** Writes bytes as they are. */
  sendRaw(b: Buffer): void {
    this.socket.write(b);
  }

  /** The next response frame (without its size prefix). */
  async frame(ms = 5000): Promise<Buffer> {
    const deadline = Date.now() + ms;
    while (this.frames.length === 0) {
      if (this.closed || this.ended) throw new Error('connection closed while waiting for a response');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response within ${ms} ms`);
      await within(
        new Promise<void>((resolve) => {
          this.waiter = resolve;
        }),
        left,
        'a response frame',
      );
    }
    return this.frames.shift()!;
  }

  /** The next response, decoded for (apiKey, apiVersion). */
  async response<T>(
    apiKey: number,
    apiVersion: number,
    ms = 5000,
  ): Promise<{ correlationId: number; body: T }> {
    return decodeResponse<T>(apiKey, apiVersion, await this.frame(ms));
  }

  /** Frames received and not yet taken. */
  get queued(): number {
    return this.frames.length;
  }

  /** Resolves when the server closes the connection (fails after `ms`). */
  waitClosed(ms = 5000): Promise<void> {
    return within(this.closedPromise, ms, 'the server to close the connection');
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A size-prefixed frame around `payload`. */
export function framed(payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(4 + payload.length);
  b.writeInt32BE(payload.length, 0);
  payload.copy(b, 4);
  return b;
}

/** Metadata v0–12 listing one broker (id 1) and no topics (or the topics asked for, unknown). */
export function toyMetadataHandler(
  broker: () => { host: string; port: number },
): ApiHandler<MetadataRequest, MetadataResponse> {
  const handler: ApiHandler<MetadataRequest, MetadataResponse> = {
    apiKey: ApiKey.Metadata,
    minVersion: 0,
    maxVersion: 12,
    handle(req) {
      const res = handler.errorResponse(req, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 12);
      return res;
    },
    errorResponse(req, errorCode) {
      const b = broker();
      return {
        throttleTimeMs: 0,
        brokers: [{ nodeId: 1, host: b.host, port: b.port, rack: null }],
        clusterId: 'toy-cluster',
        controllerId: 1,
        topics: (req.topics ?? []).map((t) => ({
          errorCode,
          name: t.name,
          topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
          isInternal: false,
          partitions: [],
          topicAuthorizedOperations: -2147483648,
        })),
        clusterAuthorizedOperations: -2147483648,
      };
    },
  };
  return handler;
}

export function metadataRequest(topics: string[] | null): MetadataRequest {
  return {
    topics: topics === null ? null : topics.map((name) => ({ name, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' })),
    allowAutoTopicCreation: true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  };
}

/**
 * Heartbeat toy: groupId "delay:<ms>" answers after that many ms, "throw" throws,
 * "reject" rejects, "sync" answers at once; errorCode in the answer = generationId.
 */
export function toyHeartbeatHandler(calls: string[] = []): ApiHandler<HeartbeatRequest, HeartbeatResponse> {
  return {
    apiKey: ApiKey.Heartbeat,
    minVersion: 0,
    maxVersion: 4,
    handle(req) {
      calls.push(req.groupId);
      const res = { throttleTimeMs: 0, errorCode: req.generationId };
      if (req.groupId === 'throw') throw new Error('toy handler failure');
      if (req.groupId === 'reject') return Promise.reject(new Error('toy async failure'));
      if (req.groupId === 'bad-response') return { throttleTimeMs: 0, errorCode: 1e9 };
      const m = /^delay:(\d+)$/.exec(req.groupId);
      if (m) return sleep(Number(m[1])).then(() => res);
      return res;
    },
    errorResponse(_req, errorCode) {
      return { throttleTimeMs: 0, errorCode };
    },
  };
}

export function heartbeat(groupId: string, generationId = 0): HeartbeatRequest {
  return { groupId, generationId, memberId: 'm', groupInstanceId: null };
}

/**
 * Produce toy serving 3–11 (0–2 advertised, answered UNSUPPORTED_VERSION): acks=0 → NO_RESPONSE;
 * `gate` (if given) is awaited before answering; baseOffset = records length.
 */
export function toyProduceHandler(
  opts: { gate?: () => Promise<void>; seen?: number[] } = {},
): ApiHandler<ProduceRequest, ProduceResponse> {
  const handler: ApiHandler<ProduceRequest, ProduceResponse> = {
    apiKey: ApiKey.Produce,
    minVersion: 0,
    maxVersion: 11,
    servedMinVersion: 3,
    handle(req, ctx) {
      const bytes = req.topicData[0]?.partitionData[0]?.records?.length ?? 0;
      opts.seen?.push(ctx.header.correlationId);
      const answer = (): ProduceResponse | typeof NO_RESPONSE => {
        if (req.acks === 0) return NO_RESPONSE;
        const res = handler.errorResponse(req, ErrorCode.NONE, ctx.apiVersion);
        res.responses[0].partitionResponses[0].baseOffset = BigInt(bytes);
        return res;
      };
      return opts.gate ? opts.gate().then(answer) : answer();
    },
    errorResponse(req, errorCode) {
      return {
        responses: req.topicData.map((t) => ({
          name: t.name,
          partitionResponses: t.partitionData.map((p) => ({
            index: p.index,
            errorCode,
            baseOffset: -1n,
            logAppendTimeMs: -1n,
            logStartOffset: -1n,
            recordErrors: [],
            errorMessage: null,
            currentLeader: { leaderId: -1, leaderEpoch: -1 },
          })),
        })),
        throttleTimeMs: 0,
        nodeEndpoints: [],
      };
    },
  };
  return handler;
}

export function produceRequest(acks: number, records: Buffer | null): ProduceRequest {
  return {
    transactionalId: null,
    acks,
    timeoutMs: 1000,
    topicData: [{ name: 't', partitionData: [{ index: 0, records }] }],
  };
}
