import { ApiKey, type HeartbeatResponse } from '@tributary/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { KafkaServer } from '../src/index.ts';
import { framed, heartbeat, memoryLogger, startServer, TestClient, toyHeartbeatHandler } from './helpers.ts';

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

/** A request frame: api key, version, correlation id, client id "x", then `body`. */
function request(apiKey: number, apiVersion: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const p = Buffer.alloc(11 + body.length);
  p.writeInt16BE(apiKey, 0);
  p.writeInt16BE(apiVersion, 2);
  p.writeInt32BE(42, 4);
  p.writeInt16BE(1, 8);
  p.write('x', 10);
  body.copy(p, 11);
  return framed(p);
}

const cases: [string, () => Buffer][] = [
  ['an unknown api key', () => request(9999, 0)],
  ['an api key the server does not serve', () => request(ApiKey.Fetch, 4)],
  ['a version above the handler range', () => request(ApiKey.Heartbeat, 5)],
  ['a negative version', () => request(ApiKey.Heartbeat, -1)],
  ['a body that does not decode', () => request(ApiKey.Heartbeat, 0, Buffer.from([0, 50, 1]))],
  ['a frame shorter than a header', () => framed(Buffer.from([0, 12, 0]))],
  ['an empty frame', () => framed(Buffer.alloc(0))],
  ['a negative size prefix', () => Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2, 3])],
  ['a frame larger than maxFrameBytes', () => Buffer.from([0x00, 0x10, 0x00, 0x01])],
  ['random garbage', () => Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
];

describe('protocol violations close only the offending connection', () => {
  for (const [name, bytes] of cases) {
    it(name, async () => {
      const logger = memoryLogger();
      server = await startServer([toyHeartbeatHandler()], { maxFrameBytes: 1 << 20, logger });
      const good = await client();
      const bad = await client();
      // A request in flight on the good connection while the bad one is closed.
      good.send(ApiKey.Heartbeat, 1, heartbeat('delay:50', 1));
      bad.sendRaw(bytes());
      await bad.waitClosed(3000);
      expect(server.stats().connectionsClosedOnError).toBe(1);
      expect(logger.lines.some((l) => l.level === 'warn' && /closing connection/.test(l.msg ?? ''))).toBe(
        true,
      );
      expect((await good.response<HeartbeatResponse>(ApiKey.Heartbeat, 1)).body.errorCode).toBe(1);
      good.send(ApiKey.Heartbeat, 4, heartbeat('sync', 2));
      expect((await good.response<HeartbeatResponse>(ApiKey.Heartbeat, 4)).body.errorCode).toBe(2);
      expect(server.stats().connections).toBe(1);
    });
  }

  it('a bad request behind good pipelined ones closes the connection without crashing', async () => {
    server = await startServer([toyHeartbeatHandler()]);
    const c = await client();
    c.send(ApiKey.Heartbeat, 1, heartbeat('delay:20', 1));
    c.sendRaw(request(9999, 0));
    await c.waitClosed(3000);
    // A new connection works.
    const d = await client();
    d.send(ApiKey.Heartbeat, 1, heartbeat('sync', 3));
    expect((await d.response<HeartbeatResponse>(ApiKey.Heartbeat, 1)).body.errorCode).toBe(3);
  });

  it('a frame exactly at maxFrameBytes is accepted', async () => {
    server = await startServer([toyHeartbeatHandler()], { maxFrameBytes: 64 });
    const c = await client();
    // Heartbeat v0 body: groupId string, generationId, memberId string; pad groupId to hit 64 bytes.
    const header = 8 + 2 + 11; // clientId "test-client"
    const groupLen = 64 - header - 2 - 4 - 2 - 1;
    c.send(ApiKey.Heartbeat, 0, heartbeat('g'.repeat(groupLen), 9));
    expect((await c.response<HeartbeatResponse>(ApiKey.Heartbeat, 0)).body.errorCode).toBe(9);
    c.send(ApiKey.Heartbeat, 0, heartbeat('g'.repeat(groupLen + 1), 9));
    await c.waitClosed(3000);
  });
});
