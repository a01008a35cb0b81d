import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKey, buildRecordBatch, ErrorCode, iterateBatches, readRecords } from '@tributary/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { type Broker, type BrokerOptions, startBroker } from '../src/index.ts';
import { RawClient } from './raw-client.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
});

async function broker(o: BrokerOptions = {}): Promise<{ b: Broker; c: RawClient }> {
  const b = await startBroker({
    port: 0,
    wal: 'memory://',
    objectStore: 'memory://',
    metadata: 'memory',
    ...o,
  });
  cleanups.push(() => b.close());
  const c = await RawClient.connect(b.address.port);
  cleanups.push(() => c.close());
  return { b, c };
}

async function createTopic(c: RawClient, name: string, partitions = 1, configs: Record<string, string> = {}) {
  const res = await c.request(ApiKey.CreateTopics, 7, {
    topics: [
      {
        name,
        numPartitions: partitions,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
      },
    ],
    timeoutMs: 5000,
    validateOnly: false,
  });
  expect(res.topics[0].errorCode).toBe(0);
  return res.topics[0];
}

function produceBody(topic: string, partition: number, records: Buffer | null, acks = -1) {
  return {
    transactionalId: null,
    acks,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  };
}

async function produce(c: RawClient, topic: string, partition: number, records: Buffer | null, acks = -1) {
  const res = await c.request(ApiKey.Produce, 9, produceBody(topic, partition, records, acks));
  return res.responses[0].partitionResponses[0];
}

function fetchBody(
  topic: string,
  partition: number,
  offset: number,
  o: { maxWaitMs?: number; minBytes?: number; isolation?: number } = {},
) {
  return {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1n },
    maxWaitMs: o.maxWaitMs ?? 0,
    minBytes: o.minBytes ?? 1,
    maxBytes: 50 << 20,
    isolationLevel: o.isolation ?? 1,
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
            fetchOffset: BigInt(offset),
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: 1 << 20,
            replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  };
}

async function fetchAll(c: RawClient, topic: string, partition: number, from = 0) {
  const out: { offset: bigint; key: string | null; value: string | null; timestamp: number }[] = [];
  let offset = from;
  for (;;) {
    const res = await c.request(ApiKey.Fetch, 12, fetchBody(topic, partition, offset));
    const p = res.responses[0].partitions[0];
    expect(p.errorCode).toBe(0);
    if (!p.records || p.records.length === 0)
      return { records: out, hw: Number(p.highWatermark), logStart: Number(p.logStartOffset) };
    for (const batch of iterateBatches(p.records)) {
      for (const r of readRecords(batch)) {
        if (Number(r.offset) < offset) continue;
        out.push({
          offset: r.offset,
          key: r.key?.toString() ?? null,
          value: r.value?.toString() ?? null,
          timestamp: r.timestamp,
        });
      }
    }
    offset = Number(out[out.length - 1]!.offset) + 1;
  }
}

const batch = (
  n: number,
  prefix: string,
  o: Parameters<typeof buildRecordBatch>[1] = {},
  ts?: (i: number) => number,
) =>
  buildRecordBatch(
    Array.from({ length: n }, (_, i) => ({
      key: Buffer.from(`${prefix}k${i}`),
      value: i % 7 === 3 ? null : Buffer.from(`${prefix}v${i}`),
      ...(ts ? { timestamp: ts(i) } : {}),
    })),
    o,
  );

describe('broker produce and fetch', () => {
  it('round-trips batches with offsets assigned in order, across uploads and restarts (file backends)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trib-broker-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const { b, c } = await broker({
      dataDir: dir,
      wal: undefined,
      objectStore: undefined,
      metadata: 'embedded',
      uploadBytes: 4096,
      walBytes: 64 << 20,
    });
    await createTopic(c, 'rt', 2);
    const r1 = await produce(c, 'rt', 0, batch(10, 'a'));
    const r2 = await produce(c, 'rt', 0, batch(5, 'b'));
    expect([r1.errorCode, Number(r1.baseOffset), r2.errorCode, Number(r2.baseOffset)]).toEqual([0, 0, 0, 10]);
    for (let i = 0; i < 20; i++) await produce(c, 'rt', 1, batch(50, `x${i}`));
    const got = await fetchAll(c, 'rt', 0);
    expect(got.records.map((r) => Number(r.offset))).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(got.records[3]!.value).toBeNull();
    expect(got.records[10]!.key).toBe('bk0');
    expect(b.streams.stats().upload.objects).toBeGreaterThan(0);
    c.close();
    await b.close();
    cleanups.length = 1; // keep only the directory removal
    const again = await broker({
      dataDir: dir,
      wal: undefined,
      objectStore: undefined,
      metadata: 'embedded',
    });
    const after = await fetchAll(again.c, 'rt', 1);
    expect(after.records.length).toBe(1000);
    expect(after.records[999]!.key).toBe('x19k49');
    expect((await fetchAll(again.c, 'rt', 0)).records.length).toBe(15);
  });

  it('long-polls: a fetch at the end waits for an append and returns it', async () => {
    const { c } = await broker();
    await createTopic(c, 'lp');
    const c2 = await RawClient.connect(
      (
        await c.request(ApiKey.Metadata, 12, {
          topics: null,
          allowAutoTopicCreation: false,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        })
      ).brokers[0].port,
    );
    cleanups.push(() => c2.close());
    const t0 = Date.now();
    const pending = c2.request(ApiKey.Fetch, 12, fetchBody('lp', 0, 0, { maxWaitMs: 5000, minBytes: 1 }));
    await new Promise((r) => setTimeout(r, 200));
    await produce(c, 'lp', 0, batch(3, 'w'));
    const res = await pending;
    const elapsed = Date.now() - t0;
    expect(res.responses[0].partitions[0].records.length).toBeGreaterThan(0);
    expect(elapsed).toBeLessThan(4000);
    // Nothing arrives: the wait ends at maxWaitMs with no records.
    const t1 = Date.now();
    const empty = await c2.request(ApiKey.Fetch, 12, fetchBody('lp', 0, 3, { maxWaitMs: 300 }));
    expect(Date.now() - t1).toBeGreaterThanOrEqual(250);
    expect(empty.responses[0].partitions[0].records.length).toBe(0);
    expect(Number(empty.responses[0].partitions[0].highWatermark)).toBe(3);
  });

  it('answers bad input with the right error codes and keeps the connection', async () => {
    const { c } = await broker({ autoCreateTopics: false });
    await createTopic(c, 'bad', 1, { 'max.message.bytes': '2000' });
    const good = batch(2, 'g');
    const corrupt = Buffer.from(good);
    corrupt[corrupt.length - 1] ^= 0xff;
    expect((await produce(c, 'bad', 0, corrupt)).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect((await produce(c, 'bad', 0, batch(200, 'big'))).errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect((await produce(c, 'nope', 0, good)).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await produce(c, 'bad', 5, good)).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await produce(c, 'bad', 0, good, 2)).errorCode).toBe(ErrorCode.INVALID_REQUIRED_ACKS);
    const magic1 = Buffer.from(good);
    magic1[16] = 1;
    expect((await produce(c, 'bad', 0, magic1)).errorCode).toBe(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT);
    const ctrl = buildRecordBatch([{ key: null, value: null }], {
      control: true,
      transactional: true,
      producerId: 1n,
      producerEpoch: 0,
    });
    expect((await produce(c, 'bad', 0, ctrl)).errorCode).not.toBe(0);
    const old = await c.request(ApiKey.Produce, 2, produceBody('bad', 0, good));
    expect(old.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect((await produce(c, 'bad', 0, good)).errorCode).toBe(0);
    const f = await c.request(ApiKey.Fetch, 12, fetchBody('bad', 0, 99));
    expect(f.responses[0].partitions[0].errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    const md = await c.request(ApiKey.Metadata, 12, {
      topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'missing' }],
      allowAutoTopicCreation: true,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(md.topics[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('dedupes retried idempotent batches and refuses sequence gaps', async () => {
    const { c } = await broker();
    await createTopic(c, 'idem');
    const init = await c.request(ApiKey.InitProducerId, 4, {
      transactionalId: null,
      transactionTimeoutMs: 60000,
      producerId: -1n,
      producerEpoch: -1,
    });
    expect(init.errorCode).toBe(0);
    const pid = init.producerId as bigint;
    const b0 = batch(3, 'i0', { producerId: pid, producerEpoch: 0, baseSequence: 0 });
    const b1 = batch(2, 'i1', { producerId: pid, producerEpoch: 0, baseSequence: 3 });
    expect(Number((await produce(c, 'idem', 0, Buffer.from(b0))).baseOffset)).toBe(0);
    expect(Number((await produce(c, 'idem', 0, Buffer.from(b1))).baseOffset)).toBe(3);
    const dup = await produce(c, 'idem', 0, Buffer.from(b0));
    expect([dup.errorCode, Number(dup.baseOffset)]).toEqual([0, 0]);
    const gap = batch(1, 'i9', { producerId: pid, producerEpoch: 0, baseSequence: 9 });
    expect((await produce(c, 'idem', 0, gap)).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    const bumped = batch(1, 'ie', { producerId: pid, producerEpoch: 1, baseSequence: 0 });
    expect((await produce(c, 'idem', 0, bumped)).errorCode).toBe(0);
    const stale = batch(1, 'ix', { producerId: pid, producerEpoch: 0, baseSequence: 5 });
    expect((await produce(c, 'idem', 0, stale)).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect((await fetchAll(c, 'idem', 0)).records.length).toBe(6);
  });

  it('ListOffsets: earliest, latest, by timestamp (cached and uploaded), max timestamp; DeleteRecords', async () => {
    const { b, c } = await broker({ uploadBytes: 1 << 30 });
    await createTopic(c, 'lo');
    // Offsets 0..9 at 1000+100i, uploaded; 10..19 at 5000+100i, still cached.
    await produce(
      c,
      'lo',
      0,
      batch(10, 'u', {}, (i) => 1000 + 100 * i),
    );
    await b.streams.flush();
    await produce(
      c,
      'lo',
      0,
      batch(10, 'c', {}, (i) => 5000 + 100 * i),
    );
    const ask = async (timestamp: bigint) => {
      const res = await c.request(ApiKey.ListOffsets, 7, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [
          {
            name: 'lo',
            partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }],
          },
        ],
        timeoutMs: 1000,
      });
      const p = res.topics[0].partitions[0];
      return [p.errorCode, Number(p.offset), Number(p.timestamp)];
    };
    expect(await ask(-2n)).toEqual([0, 0, -1]);
    expect(await ask(-1n)).toEqual([0, 20, -1]);
    expect(await ask(1450n)).toEqual([0, 5, 1500]);
    expect(await ask(1000n)).toEqual([0, 0, 1000]);
    expect(await ask(3000n)).toEqual([0, 10, 5000]);
    expect(await ask(5550n)).toEqual([0, 16, 5600]);
    expect(await ask(99999n)).toEqual([0, -1, -1]);
    expect(await ask(-3n)).toEqual([0, 19, 5900]);
    const del = await c.request(ApiKey.DeleteRecords, 2, {
      topics: [{ name: 'lo', partitions: [{ partitionIndex: 0, offset: 12n }] }],
      timeoutMs: 1000,
    });
    expect(Number(del.topics[0].partitions[0].lowWatermark)).toBe(12);
    expect(await ask(-2n)).toEqual([0, 12, -1]);
    expect(await ask(1000n)).toEqual([0, 12, 5200]);
    const f = await c.request(ApiKey.Fetch, 12, fetchBody('lo', 0, 3));
    expect(f.responses[0].partitions[0].errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
  });

  it('retention.bytes trims whole uploaded ranges', async () => {
    const { b, c } = await broker({ uploadBytes: 1 << 30 });
    await createTopic(c, 'ret', 1, { 'retention.bytes': '1000' });
    for (let i = 0; i < 6; i++) {
      await produce(c, 'ret', 0, batch(20, `r${i}`));
      await b.streams.flush();
    }
    await b.applyRetention();
    const got = await fetchAll(c, 'ret', 0, (await b.partition('ret', 0))!.logStartOffset);
    expect(got.logStart).toBeGreaterThan(0);
    expect(got.records.length).toBe(120 - got.logStart);
    expect(got.records[0]!.offset).toBe(BigInt(got.logStart));
  });

  it('LogAppendTime topics stamp the broker time', async () => {
    const { c } = await broker();
    await createTopic(c, 'lat', 1, { 'message.timestamp.type': 'LogAppendTime' });
    const before = Date.now();
    const r = await produce(
      c,
      'lat',
      0,
      batch(3, 'l', {}, () => 42),
    );
    expect(Number(r.logAppendTimeMs)).toBeGreaterThanOrEqual(before);
    const got = await fetchAll(c, 'lat', 0);
    expect(got.records.every((x) => x.timestamp >= before)).toBe(true);
  });

  it('acks=0 gets no response but the records are written', async () => {
    const { c } = await broker();
    await createTopic(c, 'a0');
    c.send(ApiKey.Produce, 9, produceBody('a0', 0, batch(4, 'z'), 0));
    const md = await c.request(ApiKey.Metadata, 12, {
      topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'a0' }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(md.topics[0].errorCode).toBe(0);
    for (let i = 0; i < 50 && (await fetchAll(c, 'a0', 0)).records.length < 4; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect((await fetchAll(c, 'a0', 0)).records.length).toBe(4);
  });
});

describe('broker restarts', () => {
  it('a retried idempotent batch written before a restart gets its original offset', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trib-idem-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const o = {
      dataDir: dir,
      wal: undefined,
      objectStore: undefined,
      metadata: 'embedded',
      walBytes: 16 << 20,
    } as const;
    const first = await broker(o);
    await createTopic(first.c, 'idr');
    const b0 = batch(3, 'p0', { producerId: 77n, producerEpoch: 0, baseSequence: 0 });
    const b1 = batch(2, 'p1', { producerId: 77n, producerEpoch: 0, baseSequence: 3 });
    await produce(first.c, 'idr', 0, Buffer.from(b0));
    await first.b.streams.flush();
    await produce(first.c, 'idr', 0, Buffer.from(b1)); // in the WAL only
    first.c.close();
    await first.b.kill();
    const again = await broker(o);
    const retry = await produce(again.c, 'idr', 0, Buffer.from(b1));
    expect([retry.errorCode, Number(retry.baseOffset)]).toEqual([0, 3]);
    const retryOld = await produce(again.c, 'idr', 0, Buffer.from(b0));
    expect([retryOld.errorCode, Number(retryOld.baseOffset)]).toEqual([0, 0]);
    expect((await fetchAll(again.c, 'idr', 0)).records.length).toBe(5);
  });
});
