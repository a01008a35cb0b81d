import {
  ApiKey,
  type ApiVersionsResponse,
  apiByKey,
  ErrorCode,
  type HeartbeatResponse,
  type MetadataResponse,
  type ProduceResponse,
  Reader,
} from '@tributary/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { type KafkaServer, NO_RESPONSE } from '../src/index.ts';
import {
  heartbeat,
  memoryLogger,
  metadataRequest,
  produceRequest,
  startServer,
  TestClient,
  toyHeartbeatHandler,
  toyMetadataHandler,
  toyProduceHandler,
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

describe('dispatch', () => {
  it('calls the handler for its api key with the decoded request and context', async () => {
    const seen: { clientId: string | null; apiVersion: number; connectionId: number; remote: string }[] = [];
    const metadata = toyMetadataHandler(() => server!.address);
    const spy = {
      ...metadata,
      handle(req: any, ctx: any) {
        seen.push({
          clientId: ctx.header.clientId,
          apiVersion: ctx.apiVersion,
          connectionId: ctx.connectionId,
          remote: ctx.remoteAddress,
        });
        expect(ctx.signal.aborted).toBe(false);
        return metadata.handle(req, ctx);
      },
    };
    server = await startServer([spy]);
    const c = await client();
    for (const v of [0, 1, 4, 9, 12]) {
      const id = c.send(ApiKey.Metadata, v, metadataRequest(['a', 'b']));
      const { correlationId, body } = await c.response<MetadataResponse>(ApiKey.Metadata, v);
      expect(correlationId).toBe(id);
      expect(body.brokers).toEqual([{ nodeId: 1, host: '127.0.0.1', port: server.address.port, rack: null }]);
      expect(body.topics.map((t) => [t.name, t.errorCode])).toEqual([
        ['a', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        ['b', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ]);
    }
    expect(seen.map((s) => s.apiVersion)).toEqual([0, 1, 4, 9, 12]);
    expect(seen.every((s) => s.clientId === 'test-client' && s.connectionId === seen[0].connectionId)).toBe(
      true,
    );
    expect(seen[0].remote).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.stats().requests).toBe(5);
  });

  it('answers pipelined requests in request order when handlers finish out of order', async () => {
    const calls: string[] = [];
    server = await startServer([toyHeartbeatHandler(calls)]);
    const c = await client();
    const delays = [80, 5, 40, 0, 60, 1, 20, 0];
    const ids = delays.map((d, i) =>
      c.send(ApiKey.Heartbeat, 3, heartbeat(d === 0 ? 'sync' : `delay:${d}`, i)),
    );
    // All dispatched before the first (slowest) finished: handlers run concurrently.
    const got: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const { correlationId, body } = await c.response<HeartbeatResponse>(ApiKey.Heartbeat, 3);
      expect(body.errorCode).toBe(i);
      got.push(correlationId);
    }
    expect(got).toEqual(ids);
    expect(calls.length).toBe(delays.length);
    expect(server.stats().inFlight).toBe(0);
  });

  it('dispatches every pipelined request before the slowest one finishes', async () => {
    const calls: string[] = [];
    server = await startServer([toyHeartbeatHandler(calls)]);
    const c = await client();
    c.send(ApiKey.Heartbeat, 4, heartbeat('delay:300', 0));
    for (let i = 1; i <= 5; i++) c.send(ApiKey.Heartbeat, 4, heartbeat('sync', i));
    const first = await c.response<HeartbeatResponse>(ApiKey.Heartbeat, 4);
    expect(first.body.errorCode).toBe(0);
    expect(calls).toEqual(['delay:300', 'sync', 'sync', 'sync', 'sync', 'sync']);
    for (let i = 1; i <= 5; i++)
      expect((await c.response<HeartbeatResponse>(ApiKey.Heartbeat, 4)).body.errorCode).toBe(i);
  });

  it('writes nothing for NO_RESPONSE and keeps the order of the others', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let n = 0;
    // The first acks=1 request waits on the gate; acks=0 ones answer NO_RESPONSE at once.
    server = await startServer([toyProduceHandler({ gate: () => (n++ === 0 ? gate : Promise.resolve()) })]);
    const c = await client();
    const a = c.send(ApiKey.Produce, 9, produceRequest(1, Buffer.alloc(3)));
    c.send(ApiKey.Produce, 9, produceRequest(0, Buffer.alloc(4)));
    const b = c.send(ApiKey.Produce, 9, produceRequest(1, Buffer.alloc(5)));
    c.send(ApiKey.Produce, 9, produceRequest(0, Buffer.alloc(6)));
    c.send(ApiKey.Produce, 9, produceRequest(0, Buffer.alloc(7)));
    const d = c.send(ApiKey.Produce, 3, produceRequest(1, Buffer.alloc(8)));
    await new Promise((r) => setTimeout(r, 50));
    expect(c.queued).toBe(0);
    expect(server.stats().inFlight).toBe(6);
    release();
    const r1 = await c.response<ProduceResponse>(ApiKey.Produce, 9);
    const r2 = await c.response<ProduceResponse>(ApiKey.Produce, 9);
    const r3 = await c.response<ProduceResponse>(ApiKey.Produce, 3);
    expect([r1.correlationId, r2.correlationId, r3.correlationId]).toEqual([a, b, d]);
    expect(r1.body.responses[0].partitionResponses[0].baseOffset).toBe(3n);
    expect(r2.body.responses[0].partitionResponses[0].baseOffset).toBe(5n);
    expect(r3.body.responses[0].partitionResponses[0].baseOffset).toBe(8n);
    await new Promise((r) => setTimeout(r, 30));
    expect(c.queued).toBe(0);
    expect(server.stats().inFlight).toBe(0);
  });

  it('a synchronous NO_RESPONSE handler writes nothing', async () => {
    server = await startServer([
      {
        apiKey: ApiKey.Heartbeat,
        minVersion: 0,
        maxVersion: 4,
        handle: (req: any) => (req.groupId === 'silent' ? NO_RESPONSE : { throttleTimeMs: 0, errorCode: 7 }),
        errorResponse: () => ({ throttleTimeMs: 0, errorCode: -1 }),
      },
    ]);
    const c = await client();
    c.send(ApiKey.Heartbeat, 2, heartbeat('silent'));
    const id = c.send(ApiKey.Heartbeat, 2, heartbeat('x'));
    const r = await c.response<HeartbeatResponse>(ApiKey.Heartbeat, 2);
    expect(r.correlationId).toBe(id);
    expect(r.body.errorCode).toBe(7);
  });
});

describe('ApiVersions', () => {
  it('is built from the registry, for versions 0-4, with a v0 response header', async () => {
    server = await startServer([toyMetadataHandler(() => server!.address), toyProduceHandler()]);
    const c = await client();
    const expected = [
      { apiKey: ApiKey.Produce, minVersion: 0, maxVersion: 11 },
      { apiKey: ApiKey.Metadata, minVersion: 0, maxVersion: 12 },
      { apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 4 },
    ];
    for (let v = 0; v <= 4; v++) {
      const body =
        v >= 3
          ? { clientSoftwareName: 'test-client', clientSoftwareVersion: '1.0.0' }
          : { clientSoftwareName: '', clientSoftwareVersion: '' };
      const id = c.send(ApiKey.ApiVersions, v, body);
      const frame = await c.frame();
      // Response header v0: the correlation id, then the body at once (no tagged fields byte).
      expect(frame.readInt32BE(0)).toBe(id);
      expect(frame.readInt16BE(4)).toBe(ErrorCode.NONE);
      const r = decodeAt<ApiVersionsResponse>(frame, v);
      expect(r.errorCode).toBe(ErrorCode.NONE);
      expect(r.apiKeys).toEqual(expected);
      expect(r.finalizedFeaturesEpoch).toBe(-1n);
    }
  });

  it('answers an unsupported version with a v0 body carrying UNSUPPORTED_VERSION and the key list', async () => {
    server = await startServer([toyMetadataHandler(() => server!.address)]);
    const c = await client();
    for (const v of [5, 127, -1]) {
      const id = rawApiVersions(c, v, 100 + v);
      const frame = await c.frame();
      expect(frame.readInt32BE(0)).toBe(id);
      const r = decodeAt<ApiVersionsResponse>(frame, 0);
      expect(r.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
      expect(r.apiKeys).toEqual([
        { apiKey: ApiKey.Metadata, minVersion: 0, maxVersion: 12 },
        { apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 4 },
      ]);
      // A v0 body is exactly error code + array: nothing after it.
      expect(frame.length).toBe(4 + 2 + 4 + 2 * 6);
    }
    // The connection stays usable.
    c.send(ApiKey.ApiVersions, 2, { clientSoftwareName: '', clientSoftwareVersion: '' });
    expect((await c.response<ApiVersionsResponse>(ApiKey.ApiVersions, 2)).body.errorCode).toBe(0);
  });

  it('answers v3+ with an invalid client software name INVALID_REQUEST (as Kafka)', async () => {
    server = await startServer([]);
    const c = await client();
    c.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 'bad name!', clientSoftwareVersion: '1' });
    const r = await c.response<ApiVersionsResponse>(ApiKey.ApiVersions, 3);
    expect(r.body.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(r.body.apiKeys).toEqual([]);
  });

  it('advertises the given features, leaving out min-version-0 ones below v4 (as Kafka)', async () => {
    server = await startServer([], {
      apiVersionsFeatures: {
        supportedFeatures: [
          { name: 'transaction.version', minVersion: 0, maxVersion: 2 },
          { name: 'metadata.version', minVersion: 7, maxVersion: 25 },
        ],
        finalizedFeatures: [
          { name: 'metadata.version', minVersionLevel: 25, maxVersionLevel: 25 },
          { name: 'transaction.version', minVersionLevel: 0, maxVersionLevel: 0 },
        ],
        finalizedFeaturesEpoch: 5n,
      },
    });
    const c = await client();
    c.send(ApiKey.ApiVersions, 4, { clientSoftwareName: 'x', clientSoftwareVersion: '1' });
    const v4 = (await c.response<ApiVersionsResponse>(ApiKey.ApiVersions, 4)).body;
    expect(v4.supportedFeatures.map((f) => f.name)).toEqual(['transaction.version', 'metadata.version']);
    expect(v4.finalizedFeatures).toEqual([
      { name: 'metadata.version', minVersionLevel: 25, maxVersionLevel: 25 },
    ]);
    expect(v4.finalizedFeaturesEpoch).toBe(5n);
    c.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' });
    const v3 = (await c.response<ApiVersionsResponse>(ApiKey.ApiVersions, 3)).body;
    expect(v3.supportedFeatures).toEqual([{ name: 'metadata.version', minVersion: 7, maxVersion: 25 }]);
    expect(v3.finalizedFeaturesEpoch).toBe(5n);
  });
});

describe('errors answered in the API', () => {
  it('versions below servedMinVersion get errorResponse(UNSUPPORTED_VERSION) without calling handle', async () => {
    const seen: number[] = [];
    server = await startServer([toyProduceHandler({ seen })]);
    const c = await client();
    for (const v of [0, 1, 2]) {
      const id = c.send(ApiKey.Produce, v, produceRequest(1, Buffer.alloc(10)));
      const r = await c.response<ProduceResponse>(ApiKey.Produce, v);
      expect(r.correlationId).toBe(id);
      expect(r.body.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    }
    expect(seen).toEqual([]);
    c.send(ApiKey.Produce, 3, produceRequest(1, Buffer.alloc(10)));
    const ok = await c.response<ProduceResponse>(ApiKey.Produce, 3);
    expect(ok.body.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.NONE);
    expect(seen.length).toBe(1);
  });

  it('a throwing or rejecting handler gets UNKNOWN_SERVER_ERROR, a log line, and the connection lives', async () => {
    const logger = memoryLogger();
    server = await startServer([toyHeartbeatHandler()], { logger });
    const c = await client();
    const ids = [
      c.send(ApiKey.Heartbeat, 1, heartbeat('throw', 1)),
      c.send(ApiKey.Heartbeat, 1, heartbeat('reject', 2)),
      c.send(ApiKey.Heartbeat, 1, heartbeat('bad-response', 3)),
      c.send(ApiKey.Heartbeat, 1, heartbeat('sync', 4)),
    ];
    const codes: number[] = [];
    for (const id of ids) {
      const r = await c.response<HeartbeatResponse>(ApiKey.Heartbeat, 1);
      expect(r.correlationId).toBe(id);
      codes.push(r.body.errorCode);
    }
    expect(codes).toEqual([
      ErrorCode.UNKNOWN_SERVER_ERROR,
      ErrorCode.UNKNOWN_SERVER_ERROR,
      ErrorCode.UNKNOWN_SERVER_ERROR,
      4,
    ]);
    const errors = logger.lines.filter((l) => l.level === 'error');
    expect(errors.length).toBe(3);
    expect(errors[0].o).toMatchObject({ apiKey: ApiKey.Heartbeat, apiVersion: 1, correlationId: ids[0] });
    expect(server.stats().handlerErrors).toBe(3);
  });

  it('rejects a registry the protocol cannot serve', async () => {
    const h = toyHeartbeatHandler();
    await expect(startServer([{ ...h, maxVersion: 99 }])).rejects.toThrow(/outside/);
    await expect(startServer([h, h])).rejects.toThrow(/two handlers/);
    await expect(startServer([{ ...h, apiKey: 9999 }])).rejects.toThrow(/unknown api key/);
    await expect(startServer([{ ...h, servedMinVersion: 6 }])).rejects.toThrow(/servedMinVersion/);
  });

  it('start rejects when the port is taken; handlers lists the registry with ApiVersions', async () => {
    server = await startServer([toyHeartbeatHandler()]);
    await expect(startServer([], { port: server.address.port })).rejects.toThrow(/EADDRINUSE/);
    expect(server.handlers.map((h) => [h.apiKey, h.minVersion, h.maxVersion])).toEqual([
      [ApiKey.Heartbeat, 0, 4],
      [ApiKey.ApiVersions, 0, 4],
    ]);
  });
});

function decodeAt<T>(frame: Buffer, v: number): T {
  const spec = apiByKey.get(ApiKey.ApiVersions)!;
  // Header v0 = 4 bytes of correlation id.
  return spec.decodeResponse(new Reader(frame.subarray(4)), v) as T;
}

/** An ApiVersions request at any version: header v2 for v3+ (flexible), else v1; empty body. */
function rawApiVersions(c: TestClient, version: number, correlationId: number): number {
  const clientId = Buffer.from('raw');
  const flexible = version >= 3;
  const payload = Buffer.alloc(8 + 2 + clientId.length + (flexible ? 1 + 3 : 0));
  payload.writeInt16BE(ApiKey.ApiVersions, 0);
  payload.writeInt16BE(version, 2);
  payload.writeInt32BE(correlationId, 4);
  payload.writeInt16BE(clientId.length, 8);
  clientId.copy(payload, 10);
  // Flexible: header tagged fields (0), then a body this server does not read.
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length, 0);
  c.sendRaw(Buffer.concat([size, payload]));
  return correlationId;
}
