/**
 * kafkajs 2.2.4 against the broker. kafkajs has no group-less consumer (its consumer needs
 * the group APIs of issue 6), so the records it produces are read back with the Java
 * KafkaConsumer (assign(), no group) and compared byte for byte. kafkajs compresses with
 * gzip only out of the box (snappy/lz4/zstd need codec packages), so: none and gzip.
 * Admin: createTopics with configEntries, describeConfigs, alterConfigs (kafkajs has no
 * IncrementalAlterConfigs), createPartitions, deleteTopics; offsets: fetchTopicOffsets and
 * fetchTopicOffsetsByTimestamp.
 */
import path from 'node:path';
import { CompressionTypes, ConfigResourceTypes, type IHeaders, Kafka, logLevel } from 'kafkajs';
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
} from './common.ts';
import { compileJavaDriver, javaConsume } from './java.ts';

const CODECS = [
  ['none', CompressionTypes.None],
  ['gzip', CompressionTypes.GZIP],
] as const;

/** Records per kafkajs send() (one batch each; all 10,000 in one would pass max.message.bytes). */
const CHUNK = 1000;

function kafka(bootstrap: string): Kafka {
  return new Kafka({
    clientId: 'tributary-clients-kafkajs',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 10_000,
    requestTimeout: 30_000,
    retry: { retries: 5, initialRetryTime: 100 },
  });
}

describe.sequential('kafkajs', () => {
  let b: TestBroker;
  let files: ReturnType<typeof scratchDir>;
  let records: TestRecord[];
  beforeAll(async () => {
    await compileJavaDriver();
    b = await startTestBroker('kafkajs');
    files = scratchDir('kafkajs');
    records = makeRecords(RECORD_COUNT, 5, timestampBase());
  }, 180_000);
  afterAll(async () => {
    await b?.close();
    files?.remove();
  });

  for (const [codec, type] of CODECS) {
    it(`idempotent produce, 10,000 records, ${codec}; read back with the Java consumer (kafkajs has no group-less consumer)`, async () => {
      const topic = `kafkajs-${codec}`;
      const producer = kafka(b.bootstrap).producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: true,
      });
      await producer.connect();
      const offsets: number[] = [];
      try {
        for (let i = 0; i < records.length; i += CHUNK) {
          const chunk = records.slice(i, i + CHUNK);
          const res = await producer.send({
            topic,
            acks: -1,
            compression: type,
            messages: chunk.map((r) => {
              const headers: IHeaders = {};
              for (const [k, v] of r.headers) headers[k] = v;
              return { partition: 0, key: r.key, value: r.value, timestamp: String(r.timestampMs), headers };
            }),
          });
          offsets.push(Number(res[0]?.baseOffset));
        }
      } finally {
        await producer.disconnect();
      }
      expect(offsets).toEqual(offsets.map((_, i) => i * CHUNK));
      const out = path.join(files.dir, `out-${codec}.tsv`);
      expect(await javaConsume(b.bootstrap, topic, 0, RECORD_COUNT, out)).toBe(RECORD_COUNT);
      expectSameRecords(readRecordFile(out), records);
    }, 120_000);
  }

  it('list offsets: fetchTopicOffsets (earliest, latest) and fetchTopicOffsetsByTimestamp', async () => {
    const admin = kafka(b.bootstrap).admin();
    await admin.connect();
    try {
      const o = await admin.fetchTopicOffsets('kafkajs-none');
      expect(o.map((p) => [p.partition, p.low, p.high])).toEqual([[0, '0', String(RECORD_COUNT)]]);
      const { targets } = timeQueries(records);
      const got: OffsetPair[] = [];
      for (const t of targets) {
        const r = await admin.fetchTopicOffsetsByTimestamp('kafkajs-none', t);
        const off = Number(r[0]?.offset);
        // kafkajs answers "no record at or after t" with the high watermark.
        got.push(off === RECORD_COUNT ? [null, null] : [off, null]);
      }
      expectByTime(got, records, targets);
    } finally {
      await admin.disconnect();
    }
  }, 60_000);

  it('admin: createTopics with configs, describeConfigs, alterConfigs, createPartitions, deleteTopics', async () => {
    const topic = 'kafkajs-admin';
    const admin = kafka(b.bootstrap).admin();
    await admin.connect();
    const describe = async (): Promise<AdminResult['configsAfterCreate']> => {
      const d = await admin.describeConfigs({
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
        includeSynonyms: false,
      });
      const out: AdminResult['configsAfterCreate'] = {};
      for (const e of d.resources[0]?.configEntries ?? []) out[e.configName] = { value: e.configValue };
      return out;
    };
    const partitions = async (): Promise<number> => {
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      return md.topics[0]?.partitions.length ?? -1;
    };
    try {
      expect(
        await admin.createTopics({
          waitForLeaders: true,
          topics: [
            {
              topic,
              numPartitions: 3,
              replicationFactor: 1,
              configEntries: [
                { name: 'retention.ms', value: '3600000' },
                { name: 'max.message.bytes', value: '2000000' },
                { name: 'cleanup.policy', value: 'delete' },
              ],
            },
          ],
        }),
      ).toBe(true);
      const partitionsAfterCreate = await partitions();
      const configsAfterCreate = await describe();
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: topic,
            configEntries: [{ name: 'segment.ms', value: '600000' }],
          },
        ],
      });
      const configsAfterAlter = await describe();
      await admin.createPartitions({ topicPartitions: [{ topic, count: 5 }] });
      const partitionsAfterCreatePartitions = await partitions();
      await admin.deleteTopics({ topics: [topic], timeout: 10_000 });
      const existsAfterDelete = (await admin.listTopics()).includes(topic);
      expectAdminResult({
        partitionsAfterCreate,
        configsAfterCreate,
        configsAfterAlter,
        partitionsAfterCreatePartitions,
        existsAfterDelete,
      });
    } finally {
      await admin.disconnect();
    }
  }, 60_000);
});
