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
});
