/**
 * @platformatic/kafka 1.x driver (in-process): admin createTopics / listTopics /
 * deleteTopics, an idempotent producer with each codec it can use on this Node (zstd needs
 * a zlib with zstd, which Node 20 lacks), and a group-less consumer (listOffsets + fetch).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Admin, Consumer, Producer, stringSerializers } from '@platformatic/kafka';
import type { FixtureRecord } from '../fixture.ts';

/** Codecs @platformatic/kafka can produce here. */
export type PlatformaticCodec = 'none' | 'gzip' | 'snappy' | 'lz4';

/** The installed @platformatic/kafka version. */
export function platformaticVersion(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('@platformatic/kafka');
  let dir = path.dirname(main);
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version: string;
      };
      if (pkg.name === '@platformatic/kafka') return pkg.version;
    } catch {
      // keep walking up
    }
    dir = path.dirname(dir);
  }
  return 'unknown';
}

function base(broker: string, clientId: string) {
  return { clientId, bootstrapBrokers: [broker], timeout: 10_000, retries: 2, retryDelay: 100 };
}

/** Admin: create `topic`, list topics, create + delete `scratch`; returns the topic list. */
export async function platformaticAdmin(
  broker: string,
  topic: string,
  partitions: number,
  scratch: string,
): Promise<string[]> {
  const admin = new Admin(base(broker, 'golden-platformatic-admin'));
  try {
    await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
    const topics = await admin.listTopics();
    await admin.createTopics({ topics: [scratch], partitions: 1, replicas: 1 });
    await admin.deleteTopics({ topics: [scratch] });
    return topics;
  } finally {
    await admin.close();
  }
}

/** Idempotent producer sending the records to partition 0 of `topic` with `codec`. */
export async function platformaticProduce(
  broker: string,
  topic: string,
  codec: PlatformaticCodec,
  records: FixtureRecord[],
): Promise<void> {
  const producer = new Producer({
    ...base(broker, 'golden-platformatic-producer'),
    serializers: stringSerializers,
    idempotent: true,
    autocreateTopics: false,
  });
  try {
    await producer.send({
      acks: -1,
      compression: codec,
      messages: records.map((r) => ({
        topic,
        partition: 0,
        key: r.key ?? undefined,
        value: r.value ?? undefined,
        timestamp: BigInt(r.timestampMs),
        headers: Object.fromEntries(r.headers.map((h) => [h.key, h.value])),
      })),
    });
  } finally {
    await producer.close();
  }
}

/** Group-less read of partition 0: listOffsets, then one fetch from offset 0; returns record count. */
export async function platformaticConsume(broker: string, topic: string): Promise<number> {
  const consumer = new Consumer({
    ...base(broker, 'golden-platformatic-consumer'),
    groupId: 'golden-unused',
  });
  try {
    await consumer.listOffsets({ topics: [topic] });
    const res = await consumer.fetch({
      node: 1,
      maxWaitTime: 100,
      topics: [
        {
          topicId: topic,
          partitions: [
            {
              partition: 0,
              currentLeaderEpoch: -1,
              fetchOffset: 0n,
              lastFetchedEpoch: -1,
              partitionMaxBytes: 1 << 20,
            },
          ],
        },
      ],
    });
    let count = 0;
    for (const t of res.responses) {
      for (const p of t.partitions) for (const b of p.records ?? []) count += b.records.length;
    }
    return count;
  } finally {
    await consumer.close();
  }
}
