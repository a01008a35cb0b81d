/**
 * @platformatic/kafka 1.x against the broker: idempotent Producer with each codec this Node
 * has (none, gzip, snappy, lz4; zstd only where node:zlib has zstd, i.e. not on Node 20),
 * a group-less read through Consumer.fetch() (raw Fetch requests from offset 0 until the
 * high watermark; its consume() streams need the group APIs of issue 6), Admin (createTopics
 * with configs, describeConfigs, incrementalAlterConfigs, alterConfigs, createPartitions,
 * deleteTopics) and offsets (Admin.listOffsets by timestamp / earliest / latest / max
 * timestamp, Consumer.listOffsets).
 */
import zlib from 'node:zlib';
import {
  Admin,
  ConfigResourceTypes,
  ConfigSources,
  Consumer,
  IncrementalAlterConfigOperationTypes,
  Producer,
} from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AdminResult,
  type ConsumedRecord,
  expectAdminResult,
  expectByTime,
  expectSameRecords,
  makeRecords,
  type OffsetPair,
  RECORD_COUNT,
  startTestBroker,
  type TestBroker,
  type TestRecord,
  timeQueries,
  timestampBase,
} from './common.ts';

const CODECS = [
  'none',
  'gzip',
  'snappy',
  'lz4',
  ...('zstdCompressSync' in zlib ? ['zstd' as const] : []),
] as const;
const CHUNK = 1000;

function base(bootstrap: string, clientId: string) {
  return { clientId, bootstrapBrokers: [bootstrap], timeout: 30_000, retries: 5, retryDelay: 100 };
}

/** Reads partition 0 of `topic` from offset 0 to the high watermark with raw fetches. */
async function fetchAll(bootstrap: string, topic: string): Promise<ConsumedRecord[]> {
  const consumer = new Consumer({
    ...base(bootstrap, 'tributary-clients-platformatic-fetch'),
    groupId: 'unused',
  });
  const out: ConsumedRecord[] = [];
  try {
    const md = await consumer.metadata({ topics: [topic] });
    const leader = md.topics.get(topic)?.partitions[0]?.leader ?? 1;
    let next = 0n;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const res = await consumer.fetch({
        node: leader,
        maxWaitTime: 200,
        maxBytes: 4 << 20,
        topics: [
          {
            topicId: topic,
            partitions: [
              {
                partition: 0,
                currentLeaderEpoch: -1,
                fetchOffset: next,
                lastFetchedEpoch: -1,
                partitionMaxBytes: 1 << 20,
              },
            ],
          },
        ],
      });
      const p = res.responses[0]?.partitions[0];
      if (p === undefined) throw new Error('fetch: no partition in the response');
      if (p.errorCode !== 0) throw new Error(`fetch: error ${p.errorCode}`);
      for (const batch of p.records ?? []) {
        for (const r of batch.records) {
          const offset = batch.firstOffset + BigInt(r.offsetDelta);
          if (offset < next) continue; // a batch may start before the fetch offset
          out.push({
            offset: Number(offset),
            key: r.key,
            value: r.value,
            timestampMs: Number(batch.firstTimestamp + r.timestampDelta),
            headers: r.headers.map(([k, v]): [string, Buffer] => [
              k?.toString('utf8') ?? '',
              v ?? Buffer.alloc(0),
            ]),
          });
          next = offset + 1n;
        }
      }
      if (next >= p.highWatermark) break;
    }
    return out;
  } finally {
    await consumer.close();
  }
}

describe.sequential('@platformatic/kafka', () => {
  let b: TestBroker;
  let records: TestRecord[];
  beforeAll(async () => {
    b = await startTestBroker('platformatic');
    records = makeRecords(RECORD_COUNT, 6, timestampBase());
  }, 60_000);
  afterAll(async () => {
    await b?.close();
  });

  for (const codec of CODECS) {
    it(`idempotent produce + group-less fetch, 10,000 records, ${codec}`, async () => {
      const topic = `platformatic-${codec}`;
      const producer = new Producer({
        ...base(b.bootstrap, 'tributary-clients-platformatic'),
        idempotent: true,
        autocreateTopics: true,
      });
      const offsets: bigint[] = [];
      try {
        for (let i = 0; i < records.length; i += CHUNK) {
          const res = await producer.send({
            acks: -1,
            compression: codec,
            messages: records.slice(i, i + CHUNK).map((r) => ({
              topic,
              partition: 0,
              ...(r.key === null ? {} : { key: r.key }),
              ...(r.value === null ? {} : { value: r.value }),
              timestamp: BigInt(r.timestampMs),
              headers: new Map(r.headers.map(([k, v]): [Buffer, Buffer] => [Buffer.from(k), v])),
            })),
          });
          offsets.push(res.offsets?.[0]?.offset ?? -1n);
        }
      } finally {
        await producer.close();
      }
      expect(offsets).toEqual(offsets.map((_, i) => BigInt(i * CHUNK)));
      expectSameRecords(await fetchAll(b.bootstrap, topic), records);
    }, 120_000);
  }

  it('list offsets: Admin.listOffsets (earliest, latest, max timestamp, by time) and Consumer.listOffsets', async () => {
    const topic = 'platformatic-none';
    const admin = new Admin(base(b.bootstrap, 'tributary-clients-platformatic-admin'));
    const consumer = new Consumer({
      ...base(b.bootstrap, 'tributary-clients-platformatic-offsets'),
      groupId: 'unused',
    });
    try {
      const list = async (timestamp: bigint): Promise<{ offset: bigint; timestamp: bigint }> => {
        const r = await admin.listOffsets({
          topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp }] }],
        });
        const p = r[0]?.partitions[0];
        if (p === undefined) throw new Error('listOffsets: no partition');
        return p;
      };
      expect((await list(-2n)).offset).toBe(0n);
      expect((await list(-1n)).offset).toBe(BigInt(RECORD_COUNT));
      const max = await list(-3n);
      const maxTs = records[RECORD_COUNT - 1]?.timestampMs as number;
      expect(max.timestamp).toBe(BigInt(maxTs));
      expect(records[Number(max.offset)]?.timestampMs).toBe(maxTs);
      const { targets } = timeQueries(records);
      const got: OffsetPair[] = [];
      for (const t of targets) {
        const p = await list(BigInt(t));
        got.push(p.offset < 0n ? [null, null] : [Number(p.offset), Number(p.timestamp)]);
      }
      expectByTime(got, records, targets);
      expect((await consumer.listOffsets({ topics: [topic], timestamp: -2n })).get(topic)).toEqual([0n]);
      expect((await consumer.listOffsets({ topics: [topic] })).get(topic)).toEqual([BigInt(RECORD_COUNT)]);
      const byTime = await consumer.listOffsetsWithTimestamps({
        topics: [topic],
        timestamp: BigInt(targets[4] as number),
      });
      const e = timeQueries(records).expected[4] as number;
      expect(byTime.get(topic)?.get(0)?.offset).toBe(BigInt(e));
    } finally {
      await admin.close();
      await consumer.close();
    }
  }, 60_000);

  it('admin: createTopics with configs, describeConfigs, incrementalAlterConfigs, alterConfigs, createPartitions, deleteTopics', async () => {
    const topic = 'platformatic-admin';
    const admin = new Admin(base(b.bootstrap, 'tributary-clients-platformatic-admin'));
    const sourceNames = new Map<number, string>(Object.entries(ConfigSources).map(([k, v]) => [v, k]));
    const describe = async (): Promise<AdminResult['configsAfterCreate']> => {
      const d = await admin.describeConfigs({
        // configurationKeys: [] means "all" in Kafka (ConfigHelper: null or empty).
        resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: [] }],
      });
      const out: AdminResult['configsAfterCreate'] = {};
      for (const c of d[0]?.configs ?? [])
        out[c.name] = { value: c.value ?? null, source: sourceNames.get(c.configSource) ?? '?' };
      return out;
    };
    const partitions = async (): Promise<number> => {
      const md = await admin.metadata({ topics: [topic], forceUpdate: true });
      return md.topics.get(topic)?.partitionsCount ?? -1;
    };
    try {
      await admin.createTopics({
        topics: [topic],
        partitions: 3,
        replicas: 1,
        configs: [
          { name: 'retention.ms', value: '3600000' },
          { name: 'max.message.bytes', value: '2000000' },
          { name: 'cleanup.policy', value: 'delete' },
        ],
      });
      const partitionsAfterCreate = await partitions();
      const configsAfterCreate = await describe();
      await admin.incrementalAlterConfigs({
        resources: [
          {
            resourceType: ConfigResourceTypes.TOPIC,
            resourceName: topic,
            configs: [
              {
                name: 'retention.ms',
                configOperation: IncrementalAlterConfigOperationTypes.SET,
                value: '7200000',
              },
              {
                name: 'retention.bytes',
                configOperation: IncrementalAlterConfigOperationTypes.SET,
                value: '1048576',
              },
              {
                name: 'max.message.bytes',
                configOperation: IncrementalAlterConfigOperationTypes.DELETE,
              },
            ],
          },
        ],
      });
      const configsAfterIncremental = await describe();
      await admin.alterConfigs({
        resources: [
          {
            resourceType: ConfigResourceTypes.TOPIC,
            resourceName: topic,
            configs: [{ name: 'segment.ms', value: '600000' }],
          },
        ],
      });
      const configsAfterAlter = await describe();
      await admin.createPartitions({ topics: [{ name: topic, count: 5 }] });
      const partitionsAfterCreatePartitions = await partitions();
      await admin.deleteTopics({ topics: [topic] });
      const existsAfterDelete = (await admin.listTopics()).includes(topic);
      expectAdminResult({
        partitionsAfterCreate,
        configsAfterCreate,
        configsAfterIncremental,
        configsAfterAlter,
        partitionsAfterCreatePartitions,
        existsAfterDelete,
      });
      expect(configsAfterCreate['retention.ms']?.source).toBe('TOPIC_CONFIG');
    } finally {
      await admin.close();
    }
  }, 60_000);
});
