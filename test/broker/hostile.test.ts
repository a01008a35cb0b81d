/**
 * Malformed and hostile frames against a running broker, on raw sockets. After each case a
 * well-behaved client on another connection still works (Metadata, Produce, Fetch) and every
 * record acknowledged so far reads back intact at its offset. Then a seeded fuzz loop of
 * mutated valid frames against the broker CLI as a child process: it must not crash and must
 * keep answering a control client.
 *
 * BROKER_FUZZ_SECONDS (default 10) bounds the fuzz loop; BROKER_FUZZ_SEED replays one.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Broker, startBroker } from '../../packages/broker/src/index.ts';
import {
  ApiKey,
  type ApiVersionsResponse,
  buildRecordBatch,
  CompressionCodec,
  type CreateTopicsResponse,
  decodeResponse,
  ErrorCode,
  encodeRequest,
  type FetchResponse,
  type ListOffsetsRequest,
  type MetadataResponse,
  type ProduceResponse,
  RecordBatchLayout,
  updateBatchCrc,
} from '../../packages/protocol/src/index.ts';
import {
  BrokerProcess,
  createTopic,
  fetchRequest,
  freePort,
  HOST,
  METADATA_VERSION,
  metadata,
  metadataRequest,
  PRODUCE_VERSION,
  prng,
  produceRaw,
  produceRequest,
  produceValues,
  RawClient,
  readPartition,
  seedFrom,
  sleep,
  within,
} from './helpers.ts';

const FUZZ_SECONDS = Number(process.env.BROKER_FUZZ_SECONDS ?? 10);
const FUZZ_SEED = seedFrom('BROKER_FUZZ_SEED');
const MAX_FRAME_BYTES = 8 * 1024 * 1024;
const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

/** Records acknowledged on a topic, in offset order. */
class Ledger {
  readonly records: { offset: bigint; value: string }[] = [];
  private n = 0;

  /** Produces `count` new records on `c` and remembers them. */
  async add(c: RawClient, topic: string, count = 3): Promise<void> {
    const values = Array.from(
      { length: count },
      () => `ledger-${this.n++}-${Math.random().toString(36).slice(2)}`,
    );
    const base = await produceValues(c, topic, 0, values);
    values.forEach((value, i) => {
      this.records.push({ offset: base + BigInt(i), value });
    });
  }

  /** Reads the topic back: exactly the acknowledged records, at their offsets. */
  async check(c: RawClient, topic: string): Promise<void> {
    const got = await readPartition(c, topic, 0);
    expect(got.map((r) => [r.offset, r.value])).toEqual(this.records.map((r) => [r.offset, r.value]));
  }
}

/** A request frame by hand: header v1 (client id "h"), then `body`. */
function rawRequest(
  apiKey: number,
  apiVersion: number,
  body: Buffer = Buffer.alloc(0),
  correlationId = 7,
): Buffer {
  const p = Buffer.alloc(11 + body.length);
  p.writeInt16BE(apiKey, 0);
  p.writeInt16BE(apiVersion, 2);
  p.writeInt32BE(correlationId, 4);
  p.writeInt16BE(1, 8);
  p.write('h', 10);
  body.copy(p, 11);
  return sizePrefixed(p);
}

function sizePrefixed(payload: Buffer): Buffer {
  const b = Buffer.alloc(4 + payload.length);
  b.writeInt32BE(payload.length, 0);
  payload.copy(b, 4);
  return b;
}

/** A whole encoded request as one buffer (with its size prefix). */
function frameOf(apiKey: number, apiVersion: number, body: unknown, correlationId = 1): Buffer {
  return Buffer.concat(
    encodeRequest(
      { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId: 'fuzz' },
      body,
    ),
  );
}

/** A legacy (magic 0 or 1) message set with one message. */
function legacyMessageSet(magic: 0 | 1, value: string): Buffer {
  const v = Buffer.from(value);
  const body = Buffer.alloc(1 + 1 + (magic === 1 ? 8 : 0) + 4 + 4 + v.length);
  let o = 0;
  body.writeInt8(magic, o++);
  body.writeInt8(0, o++);
  if (magic === 1) {
    body.writeBigInt64BE(BigInt(Date.now()), o);
    o += 8;
  }
  body.writeInt32BE(-1, o);
  o += 4;
  body.writeInt32BE(v.length, o);
  o += 4;
  v.copy(body, o);
  const msg = Buffer.alloc(8 + 4 + 4 + body.length);
  msg.writeBigInt64BE(0n, 0);
  msg.writeInt32BE(4 + body.length, 8);
  msg.writeUInt32BE(crc32(body), 12);
  body.copy(msg, 16);
  return msg;
}

function listOffsetsRequest(topic: string, timestamp: bigint): ListOffsetsRequest {
  return {
    replicaId: -1,
    isolationLevel: 0,
    topics: [
      {
        name: topic,
        partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }],
      },
    ],
    timeoutMs: 1000,
  };
}

describe('hostile frames against a running broker', () => {
  let broker: Broker;
  let dataDir: string;
  let port: number;
  const ledger = new Ledger();
  const logged: { level: string; msg?: string; o: object }[] = [];
  const logger = {
    info: () => {},
    warn: (o: object, msg?: string) => logged.push({ level: 'warn', o, ...(msg ? { msg } : {}) }),
    error: (o: object, msg?: string) => logged.push({ level: 'error', o, ...(msg ? { msg } : {}) }),
  };
  const open: RawClient[] = [];

  async function client(): Promise<RawClient> {
    const c = await RawClient.connect(port);
    open.push(c);
    return c;
  }

  /** Open connections drop back to 0 once every test client is closed. */
  async function noConnectionsLeft(ms = 5_000): Promise<void> {
    for (const c of open.splice(0)) c.close();
    const deadline = Date.now() + ms;
    while ((broker.serverStats()?.connections ?? 0) > 0) {
      if (Date.now() > deadline) {
        throw new Error(`${broker.serverStats()?.connections} connections still open on the broker`);
      }
      await sleep(10);
    }
  }

  /** A new well-behaved client: Metadata, Produce, Fetch work; the ledger reads back intact. */
  async function healthy(): Promise<void> {
    const c = await RawClient.connect(port);
    try {
      const md = await metadata(c, ['ledger']);
      expect(md.topics[0]?.errorCode).toBe(ErrorCode.NONE);
      await ledger.add(c, 'ledger');
      await ledger.check(c, 'ledger');
    } finally {
      c.close();
    }
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tributary-hostile-'));
    broker = await startBroker({
      host: HOST,
      port: 0,
      dataDir,
      walBytes: 64 * 1024 * 1024,
      maxFrameBytes: MAX_FRAME_BYTES,
      logger,
    });
    port = broker.address.port;
    const c = await RawClient.connect(port);
    await createTopic(c, 'ledger', 1);
    await createTopic(c, 'small', 1, { 'max.message.bytes': '1024' });
    await createTopic(c, 'target', 2);
    for (let i = 0; i < 10; i++) await ledger.add(c, 'ledger', 5);
    c.close();
  });

  afterAll(async () => {
    for (const c of open.splice(0)) c.close();
    await broker?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  describe('frames that close only their own connection', () => {
    const cases: [string, () => Buffer][] = [
      ['garbage bytes (an HTTP request)', () => Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
      ['random garbage', () => Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 97 + 13) & 0xff))],
      ['a negative size prefix', () => Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2, 3, 4])],
      ['a size prefix above max frame bytes', () => Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0])],
      [
        'a size just above max frame bytes',
        () => {
          const b = Buffer.alloc(8);
          b.writeInt32BE(MAX_FRAME_BYTES + 1, 0);
          return b;
        },
      ],
      ['an empty frame', () => sizePrefixed(Buffer.alloc(0))],
      ['a frame shorter than a request header', () => sizePrefixed(Buffer.from([0, 3, 0]))],
      ['an unknown api key', () => rawRequest(32000, 0)],
      ['a negative api key', () => rawRequest(-1, 0)],
      ['an unsupported Metadata version', () => rawRequest(ApiKey.Metadata, 99)],
      ['an unsupported Produce version', () => rawRequest(ApiKey.Produce, 99)],
      ['a negative version', () => rawRequest(ApiKey.Fetch, -3)],
      [
        'a valid Metadata header with a body that does not decode',
        () => rawRequest(ApiKey.Metadata, 1, Buffer.from([0, 0, 0, 5, 0, 9])),
      ],
      [
        'a Produce v3 body that claims a huge topic array',
        () =>
          rawRequest(
            ApiKey.Produce,
            3,
            Buffer.from([0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]),
          ),
      ],
      [
        'a Fetch v11 body cut in the middle',
        () => frameOf(ApiKey.Fetch, 11, fetchRequest('ledger', 0, 0n)).subarray(0, 40),
      ],
    ];
    for (const [name, bytes] of cases) {
      it(name, async () => {
        const before = broker.serverStats()!.connectionsClosedOnError;
        const bystander = await client();
        const bad = await client();
        bad.sendRaw(bytes());
        // A truncated frame is simply waited for; every other case is closed by the broker.
        if (name.includes('cut in the middle')) {
          await sleep(200);
          expect(bad.closed).toBe(false);
          bad.close();
        } else {
          await bad.waitClosed(5_000);
          expect(broker.serverStats()!.connectionsClosedOnError).toBeGreaterThan(before);
        }
        // The connection that was open all along still works.
        const md = await bystander.request<MetadataResponse>(
          ApiKey.Metadata,
          METADATA_VERSION,
          metadataRequest(['ledger']),
        );
        expect(md.topics[0]?.errorCode).toBe(ErrorCode.NONE);
        await healthy();
        await noConnectionsLeft();
      });
    }

    it('a truncated frame, then the client closes', async () => {
      const bad = await client();
      const frame = frameOf(
        ApiKey.Produce,
        PRODUCE_VERSION,
        produceRequest('ledger', 0, buildRecordBatch([{ value: Buffer.from('never') }])),
      );
      bad.sendRaw(frame.subarray(0, frame.length - 10));
      await sleep(100);
      bad.close();
      await healthy();
      await noConnectionsLeft();
    });

    it('a size prefix of 1 GiB with a few bytes, then close (no allocation of the announced size)', async () => {
      const bad = await client();
      const b = Buffer.alloc(64);
      b.writeInt32BE(1 << 30, 0);
      bad.sendRaw(b);
      await bad.waitClosed(5_000).catch(() => bad.close());
      await healthy();
      await noConnectionsLeft();
    });
  });

  describe('bad records are answered with an error; the connection stays open', () => {
    async function produceOn(c: RawClient, topic: string, partition: number, records: Buffer | null) {
      return produceRaw(c, topic, partition, records);
    }

    it('a batch with a bad CRC → CORRUPT_MESSAGE', async () => {
      const c = await client();
      const batch = buildRecordBatch([{ value: Buffer.from('payload with a flipped bit') }]);
      batch[batch.length - 3]! ^= 0x10;
      const r = await produceOn(c, 'ledger', 0, batch);
      expect(r.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
      // Same connection still serves requests.
      await ledger.add(c, 'ledger');
      await healthy();
      await noConnectionsLeft();
    });

    for (const magic of [0, 1] as const) {
      it(`a magic ${magic} message set → UNSUPPORTED_FOR_MESSAGE_FORMAT`, async () => {
        const c = await client();
        const r = await produceOn(c, 'ledger', 0, legacyMessageSet(magic, `legacy v${magic}`));
        expect(r.errorCode).toBe(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT);
        await ledger.add(c, 'ledger');
        await healthy();
        await noConnectionsLeft();
      });
    }

    it('a batch larger than max.message.bytes → MESSAGE_TOO_LARGE', async () => {
      const c = await client();
      const r = await produceOn(c, 'small', 0, buildRecordBatch([{ value: Buffer.alloc(4096, 7) }]));
      expect(r.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
      // A batch under the limit is accepted on the same connection.
      const ok = await produceOn(c, 'small', 0, buildRecordBatch([{ value: Buffer.alloc(100, 7) }]));
      expect(ok.errorCode).toBe(ErrorCode.NONE);
      await healthy();
      await noConnectionsLeft();
    });

    it('unknown topic, unknown and negative partitions → UNKNOWN_TOPIC_OR_PARTITION', async () => {
      const c = await client();
      const batch = () => buildRecordBatch([{ value: Buffer.from('nowhere') }]);
      expect((await produceOn(c, 'no-such-topic', 0, batch())).errorCode).toBe(
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      );
      expect((await produceOn(c, 'target', 2, batch())).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      expect((await produceOn(c, 'target', -1, batch())).errorCode).toBe(
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      );
      expect((await produceOn(c, 'target', 0x7fffffff, batch())).errorCode).toBe(
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      );
      await healthy();
      await noConnectionsLeft();
    });

    it('null records, an empty records field, bad acks → errors, nothing written', async () => {
      const c = await client();
      expect((await produceOn(c, 'target', 0, null)).errorCode).not.toBe(ErrorCode.NONE);
      expect((await produceOn(c, 'target', 0, Buffer.alloc(0))).errorCode).not.toBe(ErrorCode.NONE);
      const res = await c.request<ProduceResponse>(
        ApiKey.Produce,
        PRODUCE_VERSION,
        produceRequest('target', 0, buildRecordBatch([{ value: Buffer.from('acks=2') }]), 2),
      );
      expect(res.responses[0]?.partitionResponses[0]?.errorCode).toBe(ErrorCode.INVALID_REQUIRED_ACKS);
      expect(await readPartition(c, 'target', 0)).toEqual([]);
      await healthy();
      await noConnectionsLeft();
    });

    it('a record count that disagrees with lastOffsetDelta → refused, offsets stay dense', async () => {
      const c = await client();
      const batch = buildRecordBatch([{ value: Buffer.from('one') }], { lastOffsetDelta: 1_000_000 });
      const r = await produceOn(c, 'target', 1, batch);
      expect(r.errorCode).not.toBe(ErrorCode.NONE);
      const ok = await produceValues(c, 'target', 1, ['after']);
      expect(ok).toBe(0n);
      await healthy();
      await noConnectionsLeft();
    });

    it('a batch with a valid CRC but records that do not parse → CORRUPT_MESSAGE or INVALID_RECORD', async () => {
      const c = await client();
      const batch = buildRecordBatch([
        { value: Buffer.from('aaaaaaaaaaaaaaaaaaaaaaaaaaaa') },
        { value: Buffer.from('bb') },
      ]);
      // Corrupt the first record's length varint (say it is 60 bytes long) and re-seal the CRC.
      batch[RecordBatchLayout.RECORDS_OFFSET] = 120;
      updateBatchCrc(batch);
      const r = await produceOn(c, 'target', 0, batch);
      expect([ErrorCode.CORRUPT_MESSAGE, ErrorCode.INVALID_RECORD]).toContain(r.errorCode);
      // Whatever happened, the partition must still be readable by a consumer.
      await readPartition(c, 'target', 0);
      await healthy();
      await noConnectionsLeft();
    });

    it('a gzip batch whose compressed section is garbage → CORRUPT_MESSAGE or INVALID_RECORD', async () => {
      const c = await client();
      const batch = buildRecordBatch([{ value: Buffer.from('x'.repeat(100)) }], {
        compression: CompressionCodec.gzip,
      });
      for (let i = RecordBatchLayout.RECORDS_OFFSET + 10; i < batch.length; i++) batch[i] = (i * 31) & 0xff;
      updateBatchCrc(batch);
      const r = await produceOn(c, 'target', 0, batch);
      expect([ErrorCode.CORRUPT_MESSAGE, ErrorCode.INVALID_RECORD]).toContain(r.errorCode);
      await readPartition(c, 'target', 0);
      await healthy();
      await noConnectionsLeft();
    });

    it('acks=0: a good produce writes without an answer; the next request is answered in order', async () => {
      const c = await client();
      const value = `acks0-${Date.now()}`;
      c.sendRaw(
        frameOf(
          ApiKey.Produce,
          PRODUCE_VERSION,
          produceRequest('target', 1, buildRecordBatch([{ value: Buffer.from(value) }]), 0),
          900,
        ),
      );
      const md = await metadata(c, ['target']);
      expect(md.topics[0]?.errorCode).toBe(ErrorCode.NONE);
      expect(c.unexpected).toEqual([]);
      const deadline = Date.now() + 5_000;
      while (!(await readPartition(c, 'target', 1)).some((r) => r.value === value)) {
        if (Date.now() > deadline) throw new Error('acks=0 record not written');
        await sleep(20);
      }
      await healthy();
      await noConnectionsLeft();
    });

    it('acks=0 with a bad batch closes the connection (as Kafka, so the producer notices)', async () => {
      const c = await client();
      const batch = buildRecordBatch([{ value: Buffer.from('acks=0 corrupt') }]);
      batch[batch.length - 2]! ^= 0x01;
      c.sendRaw(frameOf(ApiKey.Produce, PRODUCE_VERSION, produceRequest('target', 1, batch, 0), 901));
      await c.waitClosed(5_000);
      await healthy();
      await noConnectionsLeft();
    });

    it('invalid topic names are refused by CreateTopics and auto-creation', async () => {
      const c = await client();
      const bad = ['', '.', '..', 'a/b', '../x', 'x'.repeat(250), 'tópico', 'with space', 'a\u0000b'];
      const res = await c.request<CreateTopicsResponse>(ApiKey.CreateTopics, 7, {
        topics: bad.map((name) => ({
          name,
          numPartitions: 1,
          replicationFactor: 1,
          assignments: [],
          configs: [],
        })),
        timeoutMs: 1000,
        validateOnly: false,
      });
      expect(res.topics.map((t) => t.errorCode)).toEqual(bad.map(() => ErrorCode.INVALID_TOPIC_EXCEPTION));
      const md = await c.request<MetadataResponse>(
        ApiKey.Metadata,
        METADATA_VERSION,
        metadataRequest(['a/b/c', '..'], true),
      );
      expect(md.topics.map((t) => t.errorCode)).toEqual([
        ErrorCode.INVALID_TOPIC_EXCEPTION,
        ErrorCode.INVALID_TOPIC_EXCEPTION,
      ]);
      await healthy();
      await noConnectionsLeft();
    });

    it('a Fetch naming one partition 200 times stays within its maxBytes', async () => {
      const c = await client();
      const req = fetchRequest('ledger', 0, 0n);
      req.maxBytes = 4096;
      const one = req.topics[0]!.partitions[0]!;
      req.topics[0]!.partitions = Array.from({ length: 200 }, () => ({ ...one }));
      const res = await c.request<FetchResponse>(ApiKey.Fetch, 11, req);
      const total = res.responses[0]!.partitions.reduce((n, p) => n + (p.records?.length ?? 0), 0);
      expect(total).toBeGreaterThan(0);
      // At least one batch even above maxBytes (KIP-74), but not 200 copies.
      expect(total).toBeLessThan(4096 + 64 * 1024);
      await healthy();
      await noConnectionsLeft();
    });

    it('Produce v0–2 → UNSUPPORTED_VERSION answer (as Kafka 4), connection open', async () => {
      const c = await client();
      const res = await c.request<ProduceResponse>(
        ApiKey.Produce,
        2,
        produceRequest('ledger', 0, legacyMessageSet(1, 'old client')),
      );
      expect(res.responses[0]?.partitionResponses[0]?.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
      await ledger.add(c, 'ledger');
      await healthy();
      await noConnectionsLeft();
    });

    it('ApiVersions at an unknown version → v0 answer with UNSUPPORTED_VERSION and the key list', async () => {
      const c = await client();
      const answer = c.expectFrame(55);
      // Header v2 (what a newer client sends): client id, then an empty tagged-field section.
      c.sendRaw(rawRequest(ApiKey.ApiVersions, 99, Buffer.from([0]), 55));
      const res = decodeResponse<ApiVersionsResponse>(ApiKey.ApiVersions, 0, await answer).body;
      expect(res.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
      expect(res.apiKeys.some((k) => k.apiKey === ApiKey.Produce)).toBe(true);
      await healthy();
      await noConnectionsLeft();
    });

    it('ApiVersions v3 with an invalid client software name → INVALID_REQUEST, connection open', async () => {
      const c = await client();
      const bad = await c.request<ApiVersionsResponse>(ApiKey.ApiVersions, 3, {
        clientSoftwareName: '../../etc passwd',
        clientSoftwareVersion: '1.0',
      });
      expect(bad.errorCode).toBe(ErrorCode.INVALID_REQUEST);
      const good = await c.request<ApiVersionsResponse>(ApiKey.ApiVersions, 3, {
        clientSoftwareName: 'robust-client',
        clientSoftwareVersion: '1.0.0',
      });
      expect(good.errorCode).toBe(ErrorCode.NONE);
      await healthy();
      await noConnectionsLeft();
    });

    it('ListOffsets with nonsense timestamps and Fetch at a negative offset answer errors, not crashes', async () => {
      const c = await client();
      for (const ts of [-3n, -1000n, 2n ** 62n]) {
        await c.request(ApiKey.ListOffsets, 7, listOffsetsRequest('ledger', ts));
      }
      const fr = await c.request<{ responses: { partitions: { errorCode: number }[] }[] }>(
        ApiKey.Fetch,
        11,
        fetchRequest('ledger', 0, -5n),
      );
      expect(fr.responses[0]?.partitions[0]?.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
      await healthy();
      await noConnectionsLeft();
    });
  });

  describe('resource abuse', () => {
    it('slow loris: 10 connections sending a request 1 byte per 100 ms do not stall others', async () => {
      const frame = frameOf(ApiKey.Metadata, METADATA_VERSION, metadataRequest(['ledger']), 1);
      const slow = await Promise.all(Array.from({ length: 10 }, () => client()));
      const answers = slow.map((s) => s.expectFrame(1, 30_000));
      const dribble = (async () => {
        for (let i = 0; i < frame.length; i++) {
          for (const s of slow) s.sendRaw(frame.subarray(i, i + 1));
          await sleep(100);
        }
      })();
      // While they dribble, a normal client gets quick answers.
      const latencies: number[] = [];
      const c = await client();
      const until = Date.now() + Math.min(3_000, frame.length * 100 - 500);
      while (Date.now() < until) {
        const t0 = performance.now();
        await ledger.add(c, 'ledger', 1);
        latencies.push(performance.now() - t0);
        await sleep(50);
      }
      expect(Math.max(...latencies)).toBeLessThan(2_000);
      await dribble;
      // Each slow request is answered once complete.
      for (const answer of answers) {
        const md = decodeResponse<MetadataResponse>(ApiKey.Metadata, METADATA_VERSION, await answer).body;
        expect(md.topics[0]?.errorCode).toBe(ErrorCode.NONE);
      }
      await healthy();
      await noConnectionsLeft();
    }, 30_000);

    it('200 connections opened at once are all served, then all released', async () => {
      const many = await Promise.all(Array.from({ length: 200 }, () => client()));
      const answers = await Promise.all(
        many.map((m) =>
          m.request<ApiVersionsResponse>(ApiKey.ApiVersions, 3, {
            clientSoftwareName: 'x',
            clientSoftwareVersion: '1',
          }),
        ),
      );
      expect(answers.every((a) => a.errorCode === ErrorCode.NONE)).toBe(true);
      expect(broker.serverStats()!.connections).toBeGreaterThanOrEqual(200);
      await healthy();
      await noConnectionsLeft();
      await healthy();
    }, 30_000);

    it('a client that never reads its responses does not stop others', async () => {
      const c = await client();
      c.socket.pause();
      const fetch = frameOf(ApiKey.Fetch, 11, fetchRequest('ledger', 0, 0n));
      for (let i = 0; i < 2_000; i++) c.sendRaw(fetch);
      await sleep(500);
      await healthy();
      await noConnectionsLeft();
    }, 30_000);

    it('long polls of connections that go away are released at once', async () => {
      // A client's end (FIN) aborts its in-flight long polls (ctx.signal), well before maxWaitMs.
      const c = await client();
      const hw = BigInt(ledger.records.length);
      const polls = await Promise.all(Array.from({ length: 50 }, () => client()));
      const maxWaitMs = 30_000;
      for (const p of polls) {
        const req = fetchRequest('ledger', 0, hw, maxWaitMs);
        req.minBytes = 1;
        p.sendRaw(frameOf(ApiKey.Fetch, 11, req, 1));
      }
      const deadline = Date.now() + 5_000;
      while (broker.serverStats()!.inFlight < 50) {
        if (Date.now() > deadline) throw new Error(`in flight: ${broker.serverStats()!.inFlight}`);
        await sleep(10);
      }
      const closedAt = Date.now();
      for (const p of polls) p.close();
      const released = closedAt + 3_000;
      while (broker.serverStats()!.inFlight > 0 || broker.serverStats()!.connections > 1) {
        if (Date.now() > released) {
          const st = broker.serverStats()!;
          throw new Error(`still in flight: ${st.inFlight}, connections ${st.connections}`);
        }
        await sleep(10);
      }
      console.log(`long polls of closed connections released after ${Date.now() - closedAt} ms`);
      await ledger.add(c, 'ledger', 1);
      await healthy();
      await noConnectionsLeft();
    }, 30_000);

    it('partial large frames on 20 connections are released when they close', async () => {
      const before = broker.serverStats()!.bufferedBytes;
      const hogs = await Promise.all(Array.from({ length: 20 }, () => client()));
      const chunk = Buffer.alloc(3 * 1024 * 1024, 1);
      for (const h of hogs) {
        const head = Buffer.alloc(4);
        head.writeInt32BE(MAX_FRAME_BYTES - 16, 0);
        h.sendRaw(head);
        h.sendRaw(chunk);
      }
      const deadline = Date.now() + 10_000;
      while (broker.serverStats()!.bufferedBytes < before + 20 * chunk.length) {
        if (Date.now() > deadline) throw new Error(`buffered: ${broker.serverStats()!.bufferedBytes}`);
        await sleep(20);
      }
      await healthy();
      for (const h of hogs) h.close();
      const released = Date.now() + 5_000;
      while (broker.serverStats()!.bufferedBytes > before) {
        if (Date.now() > released) throw new Error(`still buffered: ${broker.serverStats()!.bufferedBytes}`);
        await sleep(10);
      }
      await noConnectionsLeft();
    }, 30_000);

    it('no handler crashed or logged an error during the cases above', () => {
      expect(broker.serverStats()!.handlerErrors).toBe(0);
      expect(logged.filter((l) => l.level === 'error')).toEqual([]);
    });
  });
});

/** Seeded mutations of a valid frame (with its size prefix). */
function mutate(rand: () => number, frame: Buffer): Buffer {
  const pick = (n: number) => Math.floor(rand() * n);
  let payload = Buffer.from(frame.subarray(4));
  const interesting = [
    0, 1, -1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -0x80000000, 0x10000000,
  ];
  const rounds = 1 + pick(3);
  for (let k = 0; k < rounds; k++) {
    switch (pick(6)) {
      case 0: {
        const flips = 1 + pick(8);
        for (let i = 0; i < flips; i++) payload[pick(payload.length)]! ^= 1 << pick(8);
        break;
      }
      case 1:
        payload[pick(payload.length)] = pick(256);
        break;
      case 2:
        payload = payload.subarray(0, pick(payload.length + 1));
        break;
      case 3: {
        if (payload.length < 4) break;
        const at = pick(payload.length - 3);
        payload.writeInt32BE(interesting[pick(interesting.length)]!, at);
        break;
      }
      case 4: {
        if (payload.length < 2) break;
        const at = pick(payload.length - 1);
        payload.writeInt16BE([0, -1, 0x7fff, -0x8000, 1][pick(5)]!, at);
        break;
      }
      default: {
        const a = pick(payload.length + 1);
        const b = a + pick(payload.length - a + 1);
        payload = Buffer.concat([payload.subarray(0, b), payload.subarray(a, b), payload.subarray(b)]);
      }
    }
  }
  const out = sizePrefixed(payload);
  // Sometimes the size prefix no longer matches the payload.
  if (rand() < 0.1) out.writeInt32BE(frame.readInt32BE(0), 0);
  return out;
}

describe('fuzzing the broker process with mutated valid frames', () => {
  let broker: BrokerProcess | undefined;
  let dataDir = '';

  afterAll(async () => {
    await broker?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it(
    `${FUZZ_SECONDS} s of mutated frames of every served API`,
    async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'tributary-fuzz-'));
      const port = await freePort();
      broker = await BrokerProcess.start(port, dataDir, [
        '--wal-bytes',
        String(64 * 1024 * 1024),
        '--max-frame-bytes',
        String(MAX_FRAME_BYTES),
      ]);
      const ledger = new Ledger();
      const control = await RawClient.connect(port);
      await createTopic(control, 'ledger', 1);
      await createTopic(control, 'fuzz', 2);
      await ledger.add(control, 'ledger', 10);

      const now = Date.now();
      const batch = buildRecordBatch(
        [
          {
            key: Buffer.from('k'),
            value: Buffer.from('fuzz value'),
            headers: [{ key: 'h', value: Buffer.from('v') }],
          },
          { key: null, value: null, timestamp: now - 1000 },
        ],
        { timestamp: now },
      );
      const gz = buildRecordBatch([{ value: Buffer.from('compressed '.repeat(20)) }], {
        compression: CompressionCodec.gzip,
      });
      const idempotent = buildRecordBatch([{ value: Buffer.from('idempotent') }], {
        producerId: 5n,
        producerEpoch: 0,
        baseSequence: 0,
      });
      const seeds: Buffer[] = [
        frameOf(ApiKey.Produce, PRODUCE_VERSION, produceRequest('fuzz', 0, batch)),
        frameOf(ApiKey.Produce, 3, produceRequest('fuzz', 1, gz)),
        frameOf(ApiKey.Produce, 7, produceRequest('fuzz', 0, Buffer.concat([batch, gz]))),
        frameOf(ApiKey.Fetch, 11, fetchRequest('fuzz', 0, 0n)),
        frameOf(ApiKey.Fetch, 4, fetchRequest('fuzz', 1, 0n)),
        frameOf(ApiKey.Metadata, METADATA_VERSION, metadataRequest(['fuzz', 'ledger'])),
        frameOf(ApiKey.Metadata, 1, metadataRequest(null, true)),
        frameOf(ApiKey.ListOffsets, 7, listOffsetsRequest('fuzz', -1n)),
        frameOf(ApiKey.ListOffsets, 1, listOffsetsRequest('fuzz', BigInt(now))),
        frameOf(ApiKey.ApiVersions, 3, { clientSoftwareName: 'fuzz', clientSoftwareVersion: '1.0' }),
        frameOf(ApiKey.Produce, PRODUCE_VERSION, produceRequest('fuzz', 1, idempotent)),
        frameOf(ApiKey.CreateTopics, 7, {
          topics: [
            {
              name: 'fuzz-create',
              numPartitions: 3,
              replicationFactor: 1,
              assignments: [],
              configs: [{ name: 'retention.ms', value: '60000' }],
            },
          ],
          timeoutMs: 1000,
          validateOnly: false,
        }),
        frameOf(ApiKey.DeleteTopics, 6, {
          topics: [{ name: 'fuzz-create', topicId: ZERO_UUID }],
          topicNames: [],
          timeoutMs: 1000,
        }),
        frameOf(ApiKey.DeleteTopics, 3, { topics: [], topicNames: ['fuzz-create'], timeoutMs: 1000 }),
        frameOf(ApiKey.CreatePartitions, 3, {
          topics: [{ name: 'fuzz', count: 3, assignments: null }],
          timeoutMs: 1000,
          validateOnly: false,
        }),
        frameOf(ApiKey.DescribeConfigs, 4, {
          resources: [{ resourceType: 2, resourceName: 'fuzz', configurationKeys: null }],
          includeSynonyms: true,
          includeDocumentation: true,
        }),
        frameOf(ApiKey.IncrementalAlterConfigs, 1, {
          resources: [
            {
              resourceType: 2,
              resourceName: 'fuzz',
              configs: [{ name: 'retention.ms', configOperation: 0, value: '100000' }],
            },
          ],
          validateOnly: false,
        }),
        frameOf(ApiKey.AlterConfigs, 2, {
          resources: [
            { resourceType: 2, resourceName: 'fuzz', configs: [{ name: 'cleanup.policy', value: 'delete' }] },
          ],
          validateOnly: false,
        }),
        frameOf(ApiKey.DeleteRecords, 2, {
          topics: [{ name: 'fuzz', partitions: [{ partitionIndex: 0, offset: 1n }] }],
          timeoutMs: 1000,
        }),
        frameOf(ApiKey.InitProducerId, 4, {
          transactionalId: null,
          transactionTimeoutMs: 60_000,
          producerId: -1n,
          producerEpoch: -1,
        }),
        frameOf(ApiKey.OffsetForLeaderEpoch, 4, {
          replicaId: -1,
          topics: [{ topic: 'fuzz', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }],
        }),
        frameOf(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 }),
        frameOf(ApiKey.FindCoordinator, 3, { key: 'fuzz-group', keyType: 0, coordinatorKeys: [] }),
        frameOf(ApiKey.FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: ['fuzz-group', 'g2'] }),
        frameOf(ApiKey.JoinGroup, 9, {
          groupId: 'fuzz-group',
          sessionTimeoutMs: 10000,
          rebalanceTimeoutMs: 1000,
          memberId: '',
          groupInstanceId: null,
          protocolType: 'consumer',
          protocols: [
            {
              name: 'range',
              metadata: Buffer.from([0, 1, 0, 0, 0, 1, 0, 4, 102, 117, 122, 122, 0, 0, 0, 0]),
            },
          ],
          reason: null,
        }),
        frameOf(ApiKey.JoinGroup, 5, {
          groupId: 'fuzz-group',
          sessionTimeoutMs: 10000,
          rebalanceTimeoutMs: 1000,
          memberId: '',
          groupInstanceId: 'static-1',
          protocolType: 'consumer',
          protocols: [{ name: 'range', metadata: Buffer.alloc(8) }],
          reason: null,
        }),
        frameOf(ApiKey.SyncGroup, 5, {
          groupId: 'fuzz-group',
          generationId: 1,
          memberId: 'm-1',
          groupInstanceId: null,
          protocolType: 'consumer',
          protocolName: 'range',
          assignments: [{ memberId: 'm-1', assignment: Buffer.alloc(12) }],
        }),
        frameOf(ApiKey.Heartbeat, 4, {
          groupId: 'fuzz-group',
          generationId: 1,
          memberId: 'm-1',
          groupInstanceId: null,
        }),
        frameOf(ApiKey.LeaveGroup, 5, {
          groupId: 'fuzz-group',
          memberId: '',
          members: [{ memberId: 'm-1', groupInstanceId: null, reason: null }],
        }),
        frameOf(ApiKey.OffsetCommit, 8, {
          groupId: 'fuzz-group',
          generationIdOrMemberEpoch: -1,
          memberId: '',
          groupInstanceId: null,
          retentionTimeMs: -1n,
          topics: [
            {
              name: 'fuzz',
              partitions: [
                {
                  partitionIndex: 0,
                  committedOffset: 1n,
                  committedLeaderEpoch: -1,
                  commitTimestamp: -1n,
                  committedMetadata: 'meta',
                },
              ],
            },
          ],
        }),
        frameOf(ApiKey.OffsetCommit, 2, {
          groupId: 'fuzz-group',
          generationIdOrMemberEpoch: -1,
          memberId: '',
          groupInstanceId: null,
          retentionTimeMs: 60000n,
          topics: [
            {
              name: 'fuzz',
              partitions: [
                {
                  partitionIndex: 1,
                  committedOffset: 0n,
                  committedLeaderEpoch: -1,
                  commitTimestamp: -1n,
                  committedMetadata: null,
                },
              ],
            },
          ],
        }),
        frameOf(ApiKey.OffsetFetch, 7, {
          groupId: 'fuzz-group',
          topics: null,
          groups: [],
          requireStable: false,
        }),
        frameOf(ApiKey.OffsetFetch, 8, {
          groupId: '',
          topics: [],
          groups: [
            {
              groupId: 'fuzz-group',
              memberId: null,
              memberEpoch: -1,
              topics: [{ name: 'fuzz', partitionIndexes: [0, 1] }],
            },
          ],
          requireStable: false,
        }),
        frameOf(ApiKey.OffsetDelete, 0, {
          groupId: 'fuzz-group',
          topics: [{ name: 'fuzz', partitions: [{ partitionIndex: 0 }] }],
        }),
        frameOf(ApiKey.DescribeGroups, 5, {
          groups: ['fuzz-group', 'other'],
          includeAuthorizedOperations: false,
        }),
        frameOf(ApiKey.ListGroups, 4, { statesFilter: ['Empty'], typesFilter: [] }),
        frameOf(ApiKey.DeleteGroups, 2, { groupsNames: ['fuzz-group-2'] }),
      ];
      const rand = prng(FUZZ_SEED);
      const deadline = Date.now() + FUZZ_SECONDS * 1000;
      let sent = 0;
      let connections = 0;
      let controlRounds = 0;
      let controlMaxMs = 0;
      let failure: Error | undefined;

      // The control client: a produce and a metadata request every 200 ms, each answered in time.
      const controlLoop = (async () => {
        while (Date.now() < deadline && failure === undefined) {
          const t0 = performance.now();
          try {
            await within(ledger.add(control, 'ledger', 1), 10_000, 'a control produce');
            const md = await metadata(control, ['ledger']);
            if (md.topics[0]?.errorCode !== ErrorCode.NONE) throw new Error('control metadata failed');
          } catch (err) {
            failure = new Error(`control client failed after ${sent} fuzz frames: ${String(err)}`);
            return;
          }
          controlMaxMs = Math.max(controlMaxMs, performance.now() - t0);
          controlRounds++;
          await sleep(200);
        }
      })();

      try {
        while (Date.now() < deadline && failure === undefined) {
          if (!broker.running) throw new Error(`broker exited during fuzzing (seed ${FUZZ_SEED})`);
          const c = await RawClient.connect(port);
          connections++;
          const perConnection = 1 + Math.floor(rand() * 40);
          for (let i = 0; i < perConnection && !c.closed; i++) {
            const seed = seeds[Math.floor(rand() * seeds.length)]!;
            c.sendRaw(rand() < 0.1 ? seed : mutate(rand, seed));
            sent++;
            if (i % 8 === 7) await sleep(1);
          }
          await sleep(Math.floor(rand() * 20));
          c.close();
        }
        await controlLoop;
        if (failure) throw failure;
        expect(broker.running, `broker exited:\n${broker.log.slice(-3000)}`).toBe(true);
        await ledger.check(control, 'ledger');
        await ledger.add(control, 'ledger', 1);
        const status = readFileSync(`/proc/${broker.pid}/status`, 'utf8');
        const rssMiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
        expect(rssMiB, 'broker RSS after fuzzing (MiB)').toBeLessThan(1536);
        console.log(
          `fuzz seed=${FUZZ_SEED}: ${sent} frames on ${connections} connections in ${FUZZ_SECONDS} s; ` +
            `broker RSS ${rssMiB.toFixed(0)} MiB; ` +
            `control client ${controlRounds} rounds, slowest ${controlMaxMs.toFixed(0)} ms`,
        );
        expect(controlRounds).toBeGreaterThan(0);
        expect(
          /"level":50|"level":60/.test(broker.log),
          `error lines in the broker log:\n${broker.log.slice(-3000)}`,
        ).toBe(false);
      } catch (err) {
        (err as Error).message += `\nfuzz seed ${FUZZ_SEED}; broker log tail:\n${broker.log.slice(-3000)}`;
        throw err;
      } finally {
        control.close();
      }
    },
    60_000 + FUZZ_SECONDS * 2_000,
  );
});
