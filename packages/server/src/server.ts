/**
 * KafkaServer: a TCP listener speaking Kafka's framing, dispatching requests to ApiHandlers.
 * It knows nothing of topics; see types.ts for the handler contract and connection.ts for the
 * per-connection pipeline.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ApiKey, apiByKey } from '@tributary/protocol';
import { createApiVersionsHandler } from './api-versions.ts';
import { Connection, type ConnectionHost } from './connection.ts';
import type { ApiHandler, KafkaServerOptions, KafkaServerStats, Logger } from './types.ts';

const MiB = 1024 * 1024;
export const DEFAULT_MAX_FRAME_BYTES = 100 * MiB;
export const DEFAULT_CONNECTION_IN_FLIGHT_BYTES_MAX = 64 * MiB;
export const DEFAULT_CONNECTION_IN_FLIGHT_REQUESTS_MAX = 1000;
export const DEFAULT_IDLE_TIMEOUT_MS = 600_000;
export const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;

const silentLogger: Logger = {
  info() {},
  warn() {},
  error() {},
};

/**
 * Checks a handler registry against the protocol's version ranges and adds the built-in
 * ApiVersions handler when none is given. Returns the handlers indexed by api key.
 */
export function buildHandlerTable(options: Pick<KafkaServerOptions, 'handlers' | 'apiVersionsFeatures'>): {
  byKey: (ApiHandler | undefined)[];
  all: ApiHandler[];
} {
  const all = [...options.handlers];
  if (!all.some((h) => h.apiKey === ApiKey.ApiVersions)) {
    all.push(createApiVersionsHandler({ handlers: options.handlers, ...options.apiVersionsFeatures }));
  }
  const seen = new Map<number, ApiHandler>();
  for (const h of all) {
    const spec = apiByKey.get(h.apiKey);
    if (spec === undefined) throw new Error(`handler for unknown api key ${h.apiKey}`);
    if (seen.has(h.apiKey)) throw new Error(`two handlers for ${spec.name} (api key ${h.apiKey})`);
    if (
      !Number.isInteger(h.minVersion) ||
      !Number.isInteger(h.maxVersion) ||
      h.minVersion > h.maxVersion ||
      h.minVersion < spec.minVersion ||
      h.maxVersion > spec.maxVersion
    ) {
      throw new Error(
        `${spec.name} handler versions ${h.minVersion}-${h.maxVersion} are outside the protocol's ${spec.minVersion}-${spec.maxVersion}`,
      );
    }
    const served = h.servedMinVersion ?? h.minVersion;
    if (!Number.isInteger(served) || served < h.minVersion || served > h.maxVersion + 1) {
      throw new Error(
        `${spec.name} handler servedMinVersion ${served} is outside ${h.minVersion}-${h.maxVersion + 1}`,
      );
    }
    seen.set(h.apiKey, h);
  }
  // A packed array (no holes) indexed by api key: the lookup on every request.
  const size = Math.max(...seen.keys()) + 1;
  const byKey: (ApiHandler | undefined)[] = Array.from({ length: size }, (_, k) => seen.get(k));
  return { byKey, all };
}

export class KafkaServer {
  readonly address: { host: string; port: number };
  private readonly server: Server;
  private readonly host: ServerHost;
  private closing: Promise<void> | null = null;

  private constructor(server: Server, host: ServerHost, address: { host: string; port: number }) {
    this.server = server;
    this.host = host;
    this.address = address;
  }

  /** Validates the handlers, listens on host:port and resolves once connections are accepted. */
  static async start(o: KafkaServerOptions): Promise<KafkaServer> {
    const { byKey, all } = buildHandlerTable(o);
    const host = new ServerHost(o, byKey, all);
    const server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false });
    server.on('connection', host.accept);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen({ host: o.host, port: o.port }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => host.logger.error({ err }, 'listener error'));
    const bound = server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : o.port;
    host.logger.info({ host: o.host, port, apis: all.length }, 'kafka server listening');
    return new KafkaServer(server, host, { host: o.host, port });
  }

  /** A snapshot of counters and gauges (walks the open connections). */
  readonly stats = (): KafkaServerStats => this.host.snapshot();

  /** The handlers served, ApiVersions included, sorted by api key. */
  get handlers(): readonly ApiHandler[] {
    return this.host.all;
  }

  /**
   * Stops accepting, aborts every request signal, lets in-flight requests finish and their
   * responses be written (up to timeoutMs, default 30 s), ends the sockets, then destroys whatever is left.
   * Idempotent: later calls return the same promise.
   */
  close(options?: { timeoutMs?: number }): Promise<void> {
    if (this.closing === null) this.closing = this.doClose(options?.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
    return this.closing;
  }

  private async doClose(timeoutMs: number): Promise<void> {
    const host = this.host;
    host.closing = true;
    const listenerClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of host.connections) c.beginClose();
    if (host.connections.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        host.allClosed(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      for (const c of [...host.connections]) c.destroy();
    }
    await listenerClosed;
    host.logger.info({ port: this.address.port }, 'kafka server closed');
  }
}

class ServerHost implements ConnectionHost {
  readonly handlers: readonly (ApiHandler | undefined)[];
  readonly all: readonly ApiHandler[];
  readonly maxFrameBytes: number;
  readonly inFlightBytesMax: number;
  readonly inFlightRequestsMax: number;
  readonly idleTimeoutMs: number;
  readonly logger: Logger;
  readonly counters = {
    requests: 0,
    bytesIn: 0,
    bytesOut: 0,
    handlerErrors: 0,
    connectionsClosedOnError: 0,
    connectionsIdleClosed: 0,
  };
  readonly connections = new Set<Connection>();
  closing = false;
  private connectionsAccepted = 0;
  private nextId = 1;
  private onAllClosed: (() => void) | null = null;

  constructor(o: KafkaServerOptions, byKey: (ApiHandler | undefined)[], all: ApiHandler[]) {
    this.handlers = byKey;
    this.all = [...all].sort((a, b) => a.apiKey - b.apiKey);
    this.maxFrameBytes = positive(o.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, 'maxFrameBytes');
    this.inFlightBytesMax = positive(
      o.connectionInFlightBytesMax,
      DEFAULT_CONNECTION_IN_FLIGHT_BYTES_MAX,
      'connectionInFlightBytesMax',
    );
    this.inFlightRequestsMax = positive(
      o.connectionInFlightRequestsMax,
      DEFAULT_CONNECTION_IN_FLIGHT_REQUESTS_MAX,
      'connectionInFlightRequestsMax',
    );
    this.idleTimeoutMs = o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    if (!(this.idleTimeoutMs >= 0)) throw new Error(`idleTimeoutMs must be >= 0, got ${o.idleTimeoutMs}`);
    this.logger = o.logger ?? silentLogger;
  }

  readonly accept = (socket: Socket): void => {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.connectionsAccepted++;
    const c = new Connection(this, socket, this.nextId++);
    this.connections.add(c);
    this.logger.debug?.({ connectionId: c.id, remoteAddress: c.remoteAddress }, 'connection accepted');
  };

  connectionClosed(c: Connection): void {
    if (!this.connections.delete(c)) return;
    this.logger.debug?.({ connectionId: c.id, remoteAddress: c.remoteAddress }, 'connection closed');
    if (this.connections.size === 0 && this.onAllClosed !== null) {
      const f = this.onAllClosed;
      this.onAllClosed = null;
      f();
    }
  }

  allClosed(): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.onAllClosed = resolve;
    });
  }

  snapshot(): KafkaServerStats {
    let inFlight = 0;
    let inFlightBytes = 0;
    let bufferedBytes = 0;
    let pausedConnections = 0;
    let writeBufferedBytes = 0;
    for (const c of this.connections) {
      inFlight += c.inFlight;
      inFlightBytes += c.inFlightBytes;
      bufferedBytes += c.bufferedBytes;
      writeBufferedBytes += c.writeBufferedBytes;
      if (c.paused) pausedConnections++;
    }
    return {
      connections: this.connections.size,
      connectionsAccepted: this.connectionsAccepted,
      connectionsClosedOnError: this.counters.connectionsClosedOnError,
      connectionsIdleClosed: this.counters.connectionsIdleClosed,
      requests: this.counters.requests,
      inFlight,
      inFlightBytes,
      bufferedBytes,
      pausedConnections,
      writeBufferedBytes,
      handlerErrors: this.counters.handlerErrors,
      bytesIn: this.counters.bytesIn,
      bytesOut: this.counters.bytesOut,
    };
  }
}

function positive(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!(v > 0)) throw new Error(`${name} must be positive, got ${v}`);
  return v;
}
