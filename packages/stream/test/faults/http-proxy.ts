/**
 * A fault-injecting HTTP proxy in front of an S3-compatible server (moto), so that faults hit
 * the real S3 client (AWS SDK) and its error mapping rather than a wrapper above it: per
 * request, seeded, it answers 503 SlowDown itself, resets the connection before forwarding (no
 * effect), swallows the request and never answers (a black hole: the client's timeout must
 * fire), forwards and then resets instead of answering (the effect happened, the answer is
 * lost), or adds latency. Every request and every part of a multipart upload is a request.
 * Listens on 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Rng } from '@tributary/wal/testing';

/** Per-request probabilities (their sum at most 1) and latency. */
export interface ProxyFaultRates {
  /** Answer 503 SlowDown without forwarding. */
  slowDown?: number;
  /** Reset the connection without forwarding. */
  resetBefore?: number;
  /** Forward, then reset the connection instead of answering. */
  resetAfter?: number;
  /** Never answer (nor forward): the client's request timeout must end it. */
  blackHole?: number;
  /** Extra latency per request, uniform in [0, maxLatencyMs]. */
  maxLatencyMs?: number;
}

/** What the proxy did. */
export interface ProxyCounters {
  requests: number;
  slowDown: number;
  resetBefore: number;
  resetAfter: number;
  blackHole: number;
  /** Requests by S3 operation shape, e.g. `PUT part`, `GET`, `DELETE`. */
  byKind: Record<string, number>;
}

const SLOW_DOWN_BODY =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>' +
  '<RequestId>faultproxy</RequestId></Error>';

/** The proxy (see the file comment). */
export class FaultProxy {
  readonly counters: ProxyCounters = {
    requests: 0,
    slowDown: 0,
    resetBefore: 0,
    resetAfter: 0,
    blackHole: 0,
    byKind: {},
  };
  private readonly rng: Rng;
  private port = 0;

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
    public rates: ProxyFaultRates,
    seed: number,
  ) {
    this.rng = new Rng(seed);
  }

  /** Starts a proxy to `target` (e.g. the moto endpoint) on a free port of 127.0.0.1. */
  static async start(target: string, rates: ProxyFaultRates, seed: number): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const server = createServer((req, res) => {
      proxy!.handle(req, res);
    });
    proxy = new FaultProxy(server, new URL(target), rates, seed);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  /** `http://127.0.0.1:<port>`. */
  get endpoint(): string {
    const a = this.server.address() as AddressInfo | null;
    return `http://127.0.0.1:${a?.port ?? this.port}`;
  }

  /**
   * Goes away for a while: stops listening and drops every connection, so that new requests
   * get ECONNREFUSED; {@link comeBack} listens again on the same port.
   */
  async goAway(): Promise<void> {
    const port = (this.server.address() as AddressInfo).port;
    this.port = port;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Listens again on the port it had before {@link goAway}. */
  async comeBack(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  /** Stops listening and drops open connections. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      void this.respond(req, res, Buffer.concat(chunks));
    });
  }

  private async respond(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    this.counters.requests++;
    const url = new URL(req.url ?? '/', 'http://proxy');
    const kind = `${req.method} ${url.searchParams.has('partNumber') ? 'part' : url.searchParams.has('uploads') ? 'create-multipart' : url.searchParams.has('uploadId') ? 'multipart' : 'object'}`;
    this.counters.byKind[kind] = (this.counters.byKind[kind] ?? 0) + 1;
    // Fixed draws per request, so the sequence depends only on the request order.
    const r = this.rng.float();
    const latency = Math.floor(this.rng.float() * ((this.rates.maxLatencyMs ?? 0) + 1));
    if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency));
    let acc = this.rates.slowDown ?? 0;
    if (r < acc) {
      this.counters.slowDown++;
      res.writeHead(503, {
        'content-type': 'application/xml',
        'content-length': Buffer.byteLength(SLOW_DOWN_BODY),
      });
      res.end(SLOW_DOWN_BODY);
      return;
    }
    acc += this.rates.resetBefore ?? 0;
    if (r < acc) {
      this.counters.resetBefore++;
      req.socket.destroy();
      return;
    }
    acc += this.rates.blackHole ?? 0;
    if (r < acc) {
      this.counters.blackHole++;
      return; // the socket stays open and silent; close() drops it
    }
    acc += this.rates.resetAfter ?? 0;
    const resetAfter = r < acc;
    const headers = { ...req.headers, host: this.target.host };
    const upstream = request(
      {
        host: this.target.hostname,
        port: this.target.port,
        method: req.method,
        path: req.url,
        headers,
      },
      (up) => {
        const parts: Buffer[] = [];
        up.on('data', (c: Buffer) => parts.push(c));
        up.on('error', () => res.destroy());
        up.on('end', () => {
          if (resetAfter) {
            this.counters.resetAfter++;
            req.socket.destroy();
            return;
          }
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.end(Buffer.concat(parts));
        });
      },
    );
    upstream.on('error', () => res.destroy());
    upstream.end(body);
  }
}
