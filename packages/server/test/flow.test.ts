import {
  ApiKey,
  type HeartbeatResponse,
  type ProduceResponse,
  type SaslAuthenticateRequest,
  type SaslAuthenticateResponse,
} from '@tributary/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiHandler, KafkaServer, RequestContext } from '../src/index.ts';
import {
  heartbeat,
  produceRequest,
  sleep,
  startServer,
  TestClient,
  toyHeartbeatHandler,
  toyProduceHandler,
  until,
  within,
} from './helpers.ts';

let server: KafkaServer | undefined;
const clients: TestClient[] = [];

async function client(): Promise<TestClient> {
  const c = await TestClient.connect(server!.address.port);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server?.close({ timeoutMs: 1000 });
  server = undefined;
});

function gate(): { wait: () => Promise<void>; open: () => void } {
  let open!: () => void;
  const p = new Promise<void>((r) => {
    open = r;
  });
  return { wait: () => p, open };
}

/** SaslAuthenticate toy: answers with `authBytes.length * 1024` bytes (a big response for a small request). */
function bigResponseHandler(): ApiHandler<SaslAuthenticateRequest, SaslAuthenticateResponse> {
  return {
    apiKey: ApiKey.SaslAuthenticate,
    minVersion: 0,
    maxVersion: 2,
    handle: (req) => ({
      errorCode: 0,
      errorMessage: null,
      authBytes: Buffer.alloc(req.authBytes.length * 1024, req.authBytes[0]),
      sessionLifetimeMs: 0n,
    }),
    errorResponse: (_req, errorCode) => ({
      errorCode,
      errorMessage: null,
      authBytes: Buffer.alloc(0),
      sessionLifetimeMs: 0n,
    }),
  };
}

describe('backpressure', () => {
  it('stops reading when in-flight request bytes reach the limit, and resumes when they drain', async () => {
    const g = gate();
    const limit = 1 << 20;
    server = await startServer([toyProduceHandler({ gate: g.wait })], { connectionInFlightBytesMax: limit });
    const c = await client();
    const n = 100;
    const record = Buffer.alloc(100 * 1024, 1);
    const ids: number[] = [];
    for (let i = 0; i < n; i++) ids.push(c.send(ApiKey.Produce, 7, produceRequest(1, record)));
    await until(() => server!.stats().pausedConnections === 1, 5000, 'the socket to be paused');
    let maxInFlight = 0;
    let maxHeld = 0;
    for (let i = 0; i < 20; i++) {
      const s = server.stats();
      maxInFlight = Math.max(maxInFlight, s.inFlightBytes);
      maxHeld = Math.max(maxHeld, s.inFlightBytes + s.bufferedBytes);
      expect(s.pausedConnections).toBe(1);
      await sleep(10);
    }
    const s = server.stats();
    expect(maxInFlight).toBeLessThanOrEqual(limit);
    expect(s.inFlight).toBeLessThan(11);
    expect(s.requests).toBeLessThan(11);
    // Held by the server: in-flight frames plus what the socket read ahead (a chunk or two).
    expect(maxHeld).toBeLessThan(limit + 512 * 1024);
    g.open();
    for (const id of ids) {
      const r = await c.response<ProduceResponse>(ApiKey.Produce, 7);
      expect(r.correlationId).toBe(id);
      expect(r.body.responses[0].partitionResponses[0].baseOffset).toBe(BigInt(record.length));
    }
    expect(server.stats().requests).toBe(n);
    expect(server.stats().pausedConnections).toBe(0);
    expect(server.stats().inFlight).toBe(0);
  });

  it('stops reading at connectionInFlightRequestsMax', async () => {
    const g = gate();
    server = await startServer([toyProduceHandler({ gate: g.wait })], { connectionInFlightRequestsMax: 5 });
    const c = await client();
    for (let i = 0; i < 50; i++) c.send(ApiKey.Produce, 7, produceRequest(1, Buffer.alloc(10)));
    await until(() => server!.stats().pausedConnections === 1, 5000, 'the socket to be paused');
    await sleep(50);
    expect(server.stats().inFlight).toBe(5);
    expect(server.stats().requests).toBe(5);
    g.open();
    for (let i = 0; i < 50; i++) await c.response<ProduceResponse>(ApiKey.Produce, 7);
    expect(server.stats().requests).toBe(50);
  });

  it('stops reading while the client does not read its responses', async () => {
    server = await startServer([bigResponseHandler()]);
    const c = await client();
    c.socket.pause();
    const n = 200;
    for (let i = 0; i < n; i++) c.send(ApiKey.SaslAuthenticate, 1, { authBytes: Buffer.alloc(256, i % 256) });
    await until(() => server!.stats().pausedConnections === 1, 5000, 'the socket to be paused');
    await sleep(100);
    const s = server.stats();
    // Each response is 256 KiB; the kernel buffers take some, the server holds about one.
    expect(s.requests).toBeLessThan(n);
    expect(s.writeBufferedBytes).toBeLessThan(2 * 256 * 1024 + 64 * 1024);
    c.socket.resume();
    for (let i = 0; i < n; i++) {
      const r = await c.response<SaslAuthenticateResponse>(ApiKey.SaslAuthenticate, 1);
      expect(r.body.authBytes.length).toBe(256 * 1024);
      expect(r.body.authBytes[0]).toBe(i % 256);
    }
    expect(server.stats().requests).toBe(n);
  });
});

describe('idle timeout', () => {
  it('closes a connection idle with nothing in flight, not one waiting for a handler', async () => {
    server = await startServer([toyHeartbeatHandler()], { idleTimeoutMs: 200 });
    const idle = await client();
    const busy = await client();
    idle.send(ApiKey.Heartbeat, 1, heartbeat('sync', 1));
    await idle.response(ApiKey.Heartbeat, 1);
    busy.send(ApiKey.Heartbeat, 1, heartbeat('delay:600', 2));
    const t0 = Date.now();
    await idle.waitClosed(3000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(busy.closed).toBe(false);
    expect((await busy.response<HeartbeatResponse>(ApiKey.Heartbeat, 1)).body.errorCode).toBe(2);
    await busy.waitClosed(3000);
    expect(server.stats().connectionsIdleClosed).toBe(2);
  });
});

describe('close', () => {
  it('graceful close lets in-flight requests finish, aborts their signals, then ends the sockets', async () => {
    const signals: AbortSignal[] = [];
    const hb = toyHeartbeatHandler();
    server = await startServer([
      {
        ...hb,
        handle: (req: any, ctx: RequestContext) => {
          signals.push(ctx.signal);
          return hb.handle(req, ctx);
        },
      },
    ]);
    const a = await client();
    const b = await client();
    a.send(ApiKey.Heartbeat, 1, heartbeat('delay:200', 1));
    a.send(ApiKey.Heartbeat, 1, heartbeat('delay:50', 2));
    b.send(ApiKey.Heartbeat, 1, heartbeat('delay:100', 3));
    await until(() => server!.stats().inFlight === 3, 3000, 'three requests in flight');
    const closing = server.close({ timeoutMs: 5000 });
    expect(signals.length).toBe(3);
    expect(signals.every((s) => s.aborted)).toBe(true);
    // New requests are not read any more.
    a.send(ApiKey.Heartbeat, 1, heartbeat('sync', 9));
    expect((await a.response<HeartbeatResponse>(ApiKey.Heartbeat, 1)).body.errorCode).toBe(1);
    expect((await a.response<HeartbeatResponse>(ApiKey.Heartbeat, 1)).body.errorCode).toBe(2);
    expect((await b.response<HeartbeatResponse>(ApiKey.Heartbeat, 1)).body.errorCode).toBe(3);
    await within(closing, 3000, 'close');
    await a.waitClosed(1000);
    await b.waitClosed(1000);
    expect(a.queued).toBe(0);
    await expect(TestClient.connect(server.address.port)).rejects.toThrow();
    server = undefined;
  });

  it('destroys connections whose handlers outlive the timeout', async () => {
    let signal: AbortSignal | undefined;
    server = await startServer([
      {
        apiKey: ApiKey.Heartbeat,
        minVersion: 0,
        maxVersion: 4,
        handle: (_req: unknown, ctx: RequestContext) => {
          signal = ctx.signal;
          return new Promise(() => {});
        },
        errorResponse: () => ({ throttleTimeMs: 0, errorCode: -1 }),
      },
    ]);
    const c = await client();
    c.send(ApiKey.Heartbeat, 1, heartbeat('x'));
    await until(() => signal !== undefined, 3000, 'the handler to run');
    const t0 = Date.now();
    await within(server.close({ timeoutMs: 200 }), 3000, 'close');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(signal!.aborted).toBe(true);
    await c.waitClosed(1000);
    expect(c.queued).toBe(0);
    server = undefined;
  });

  it('a client that half-closes gets its answers, then the server closes', async () => {
    server = await startServer([toyHeartbeatHandler()]);
    const c = await client();
    c.send(ApiKey.Heartbeat, 1, heartbeat('delay:50', 1));
    c.send(ApiKey.Heartbeat, 1, heartbeat('sync', 2));
    c.socket.end();
    expect((await c.response<HeartbeatResponse>(ApiKey.Heartbeat, 1)).body.errorCode).toBe(1);
    expect((await c.response<HeartbeatResponse>(ApiKey.Heartbeat, 1)).body.errorCode).toBe(2);
    await c.waitClosed(2000);
    await until(() => server!.stats().connections === 0, 2000, 'the server to drop the connection');
  });

  it('a client that disconnects with requests in flight aborts their signals', async () => {
    let signal: AbortSignal | undefined;
    const hb = toyHeartbeatHandler();
    server = await startServer([
      {
        ...hb,
        handle: (req: any, ctx: RequestContext) => {
          signal = ctx.signal;
          return hb.handle(req, ctx);
        },
      },
    ]);
    const c = await client();
    c.send(ApiKey.Heartbeat, 1, heartbeat('delay:100', 1));
    await until(() => signal !== undefined, 3000, 'the handler to run');
    c.close();
    await until(() => signal!.aborted, 3000, 'the signal to be aborted');
    await sleep(150);
    expect(server.stats().connections).toBe(0);
    expect(server.stats().inFlight).toBe(0);
  });
});
