/**
 * kafka-python 2.x (pure Python; snappy, lz4, zstd through python-snappy, lz4, zstandard)
 * against the broker: idempotent KafkaProducer (enable_idempotence=True) with every codec, KafkaConsumer with group_id=None
 * and assign(), KafkaAdminClient (create with configs, DescribeConfigs, AlterConfigs,
 * CreatePartitions, DeleteTopics; it has no IncrementalAlterConfigs) and offsets_for_times /
 * beginning_offsets / end_offsets. kafka-python refuses records with neither key nor value,
 * so its record set has none.
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
import { PYTHON_CODECS, pyDriver, pythonVersions } from './python.ts';

const DRIVER = 'kafka_python_driver.py';

describe.sequential('kafka-python', () => {
  let b: TestBroker;
  let files: ReturnType<typeof scratchDir>;
  let records: TestRecord[];
  beforeAll(async () => {
    await pythonVersions('import kafka; print(kafka.__version__)');
    b = await startTestBroker('kafka-python');
    files = scratchDir('kafka-python');
    records = makeRecords(RECORD_COUNT, 3, timestampBase(), { keyOrValue: true });
    writeRecordFile(path.join(files.dir, 'in.tsv'), records);
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    files?.remove();
  });

  for (const codec of PYTHON_CODECS) {
    it(`idempotent produce + assign() consume, 10,000 records, ${codec}`, async () => {
      const topic = `kafka-python-${codec}`;
      const p = await pyDriver<{ acked: number; offsets: number[] }>(DRIVER, [
        'produce',
        b.bootstrap,
        topic,
        codec,
        path.join(files.dir, 'in.tsv'),
      ]);
      expect(p.acked).toBe(RECORD_COUNT);
      expect(p.offsets).toEqual(records.map((_, i) => i));
      const out = path.join(files.dir, `out-${codec}.tsv`);
      const c = await pyDriver<{ consumed: number }>(DRIVER, [
        'consume',
        b.bootstrap,
        topic,
        '0',
        String(RECORD_COUNT),
        out,
      ]);
      expect(c.consumed).toBe(RECORD_COUNT);
      expectSameRecords(readRecordFile(out), records);
    }, 120_000);
  }

  it('list offsets: earliest, latest, by time (KafkaConsumer; kafka-python has no admin ListOffsets)', async () => {
    const { targets } = timeQueries(records);
    const r = await pyDriver<{
      consumerBeginning: number;
      consumerEnd: number;
      consumerByTime: OffsetPair[];
    }>(DRIVER, ['offsets', b.bootstrap, 'kafka-python-none', '0', targets.join(',')]);
    expect(r.consumerBeginning).toBe(0);
    expect(r.consumerEnd).toBe(RECORD_COUNT);
    expectByTime(r.consumerByTime, records, targets);
  }, 120_000);

  it('KafkaAdminClient: create with configs, describe, alter (AlterConfigs), create partitions, delete', async () => {
    const r = await pyDriver<AdminResult>(DRIVER, ['admin', b.bootstrap, 'kafka-python-admin']);
    expectAdminResult(r);
  }, 120_000);
});
