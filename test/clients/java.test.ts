/**
 * Java kafka-clients 4.x against the broker: idempotent producer (its defaults: acks=all,
 * enable.idempotence=true) with every codec, group-less KafkaConsumer (assign()), AdminClient
 * (create with configs, DescribeConfigs, IncrementalAlterConfigs, CreatePartitions,
 * DeleteTopics) and ListOffsets (earliest, latest, max timestamp, by time) through both
 * AdminClient.listOffsets and KafkaConsumer.offsetsForTimes.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AdminResult,
  expectAdminResult,
  expectByTime,
  expectSameRecords,
  makeRecords,
  type OffsetPair,
  RECORD_COUNT,
  readRecordFile,
  scratchDir,
  startTestBroker,
  type TestBroker,
  type TestRecord,
  timeQueries,
  timestampBase,
  writeRecordFile,
} from './common.ts';
import { compileJavaDriver, JAVA_CODECS, javaConsume, javaDriver } from './java.ts';

describe.sequential('Java kafka-clients', () => {
  let b: TestBroker;
  let files: ReturnType<typeof scratchDir>;
  let records: TestRecord[];
  beforeAll(async () => {
    await compileJavaDriver();
    b = await startTestBroker('java');
    files = scratchDir('java');
    records = makeRecords(RECORD_COUNT, 1, timestampBase());
    writeRecordFile(path.join(files.dir, 'in.tsv'), records);
  }, 180_000);
  afterAll(async () => {
    await b?.close();
    files?.remove();
  });

  for (const codec of JAVA_CODECS) {
    it(`idempotent produce + assign() consume, 10,000 records, ${codec}`, async () => {
      const topic = `java-${codec}`;
      const p = await javaDriver<{ acked: number; offsets: number[] }>([
        'produce',
        b.bootstrap,
        topic,
        codec,
        path.join(files.dir, 'in.tsv'),
      ]);
      expect(p.acked).toBe(RECORD_COUNT);
      expect(p.offsets).toEqual(records.map((_, i) => i));
      const out = path.join(files.dir, `out-${codec}.tsv`);
      expect(await javaConsume(b.bootstrap, topic, 0, RECORD_COUNT, out)).toBe(RECORD_COUNT);
      expectSameRecords(readRecordFile(out), records);
    }, 120_000);
  }

  it('idempotent producer pipelining ~1,000 small batches (5 in flight, batch.size 1 KiB)', async () => {
    const p = await javaDriver<{ acked: number; offsets: number[] }>([
      'produce',
      b.bootstrap,
      'java-pipelined',
      'none',
      path.join(files.dir, 'in.tsv'),
      'batch.size=1024',
      'linger.ms=0',
      'max.in.flight.requests.per.connection=5',
    ]);
    expect(p.offsets).toEqual(records.map((_, i) => i));
    const out = path.join(files.dir, 'out-pipelined.tsv');
    expect(await javaConsume(b.bootstrap, 'java-pipelined', 0, RECORD_COUNT, out)).toBe(RECORD_COUNT);
    expectSameRecords(readRecordFile(out), records);
  }, 120_000);

  it('read_committed consumer with tiny fetch sizes (a batch larger than the limits still comes whole)', async () => {
    const out = path.join(files.dir, 'out-small-fetch.tsv');
    const n = await javaConsume(b.bootstrap, 'java-gzip', 0, RECORD_COUNT, out, [
      'isolation.level=read_committed',
      'max.partition.fetch.bytes=64',
      'fetch.max.bytes=64',
      'fetch.min.bytes=1',
      'max.poll.records=7',
    ]);
    expect(n).toBe(RECORD_COUNT);
    expectSameRecords(readRecordFile(out), records);
  }, 120_000);

  it('seek into the middle of a compressed batch, and past the end (OFFSET_OUT_OF_RANGE → auto.offset.reset)', async () => {
    const mid = path.join(files.dir, 'out-seek.tsv');
    expect(await javaConsume(b.bootstrap, 'java-snappy', 0, RECORD_COUNT - 4321, mid, ['seek=4321'])).toBe(
      RECORD_COUNT - 4321,
    );
    expectSameRecords(readRecordFile(mid), records.slice(4321), 4321);
    const past = path.join(files.dir, 'out-past.tsv');
    expect(
      await javaConsume(b.bootstrap, 'java-snappy', 0, RECORD_COUNT, past, [
        'seek=25000',
        'auto.offset.reset=earliest',
      ]),
    ).toBe(RECORD_COUNT);
    expectSameRecords(readRecordFile(past), records);
  }, 120_000);

  it('list offsets: earliest, latest, max timestamp, by time (AdminClient and KafkaConsumer)', async () => {
    const { targets } = timeQueries(records);
    const r = await javaDriver<{
      earliest: number;
      latest: number;
      maxTimestamp: OffsetPair;
      adminByTime: OffsetPair[];
      consumerBeginning: number;
      consumerEnd: number;
      consumerByTime: OffsetPair[];
    }>(['offsets', b.bootstrap, 'java-none', '0', targets.join(',')]);
    expect(r.earliest).toBe(0);
    expect(r.latest).toBe(RECORD_COUNT);
    expect(r.consumerBeginning).toBe(0);
    expect(r.consumerEnd).toBe(RECORD_COUNT);
    const maxTs = records[RECORD_COUNT - 1]?.timestampMs as number;
    // MAX_TIMESTAMP: a record carrying the largest timestamp.
    expect(r.maxTimestamp[1]).toBe(maxTs);
    expect(records[r.maxTimestamp[0] as number]?.timestampMs).toBe(maxTs);
    expectByTime(r.adminByTime, records, targets);
    expectByTime(r.consumerByTime, records, targets);
  }, 120_000);

  it('AdminClient: create with configs, describe, incremental alter, create partitions, delete', async () => {
    const r = await javaDriver<AdminResult>(['admin', b.bootstrap, 'java-admin']);
    expectAdminResult(r);
    expect(r.configsAfterCreate['retention.ms']?.source).toBe('DYNAMIC_TOPIC_CONFIG');
    expect(r.configsAfterCreate['segment.bytes']?.source).toBe('DEFAULT_CONFIG');
  }, 120_000);

  for (const acks of ['0', '1', 'all'] as const) {
    it(`keyed produce with acks=${acks} to 3 partitions (default partitioner), every partition read back in order`, async () => {
      const topic = `java-acks-${acks}`;
      expect((await javaDriver<{ partitions: number }>(['create', b.bootstrap, topic, '3'])).partitions).toBe(
        3,
      );
      const p = await javaDriver<{ partitions: number[]; offsets: number[] }>([
        'produce-keyed',
        b.bootstrap,
        topic,
        acks,
        path.join(files.dir, 'in.tsv'),
      ]);
      const out = path.join(files.dir, `out-acks-${acks}.tsv`);
      const c = await javaDriver<{ consumed: number }>([
        'consume-all',
        b.bootstrap,
        topic,
        String(RECORD_COUNT),
        out,
      ]);
      expect(c.consumed).toBe(RECORD_COUNT);
      const got = readRecordFile(out);
      const used = new Set(p.partitions);
      expect(used.size).toBeGreaterThan(1);
      for (const partition of [0, 1, 2]) {
        const expected = records.filter((_, i) => p.partitions[i] === partition);
        const mine = got.filter((r) => r.partition === partition);
        expectSameRecords(mine, expected);
        if (acks !== '0') {
          const acked = p.offsets.filter((_, i) => p.partitions[i] === partition);
          expect(acked).toEqual(expected.map((_, i) => i));
        }
      }
    }, 120_000);
  }

  it('a record above max.message.bytes is refused (RecordTooLargeException), the next one is accepted', async () => {
    const big = await javaDriver<{ offset: number; error: string | null; nextOffset: number }>([
      'too-large',
      b.bootstrap,
      'java-large',
      String(2_000_000),
    ]);
    expect(big.offset).toBe(-1);
    expect(big.error).toMatch(/^RecordTooLargeException/);
    expect(big.nextOffset).toBe(0);
    const fits = await javaDriver<{ offset: number; error: string | null; nextOffset: number }>([
      'too-large',
      b.bootstrap,
      'java-large',
      String(1_000_000),
    ]);
    expect(fits.error).toBeNull();
    expect(fits.offset).toBe(1);
    expect(fits.nextOffset).toBe(2);
  }, 120_000);

  it('AdminClient.deleteRecords: low watermark, earliest offset and the first record read move', async () => {
    const r = await javaDriver<{ lowWatermark: number; earliest: number; firstConsumed: number }>([
      'delete-records',
      b.bootstrap,
      'java-lz4',
      '0',
      '5000',
    ]);
    expect(r).toEqual({ lowWatermark: 5000, earliest: 5000, firstConsumed: 5000 });
  }, 120_000);

  it('after a broker restart on the same data directory: records, offsets and deleted records as before', async () => {
    await b.restart();
    const out = path.join(files.dir, 'out-restart.tsv');
    expect(await javaConsume(b.bootstrap, 'java-zstd', 0, RECORD_COUNT, out)).toBe(RECORD_COUNT);
    expectSameRecords(readRecordFile(out), records);
    const { targets } = timeQueries(records);
    const r = await javaDriver<{ earliest: number; latest: number; adminByTime: OffsetPair[] }>([
      'offsets',
      b.bootstrap,
      'java-gzip',
      '0',
      targets.join(','),
    ]);
    expect([r.earliest, r.latest]).toEqual([0, RECORD_COUNT]);
    expectByTime(r.adminByTime, records, targets);
    const lz4 = await javaDriver<{ earliest: number; latest: number }>([
      'offsets',
      b.bootstrap,
      'java-lz4',
      '0',
      '0',
    ]);
    expect([lz4.earliest, lz4.latest]).toEqual([5000, RECORD_COUNT]);
  }, 120_000);
});
