/**
 * kafkajs 2.2.4 driver (in-process): admin createTopics / fetchTopicMetadata / deleteTopics
 * and an idempotent producer with no compression or gzip (the only codec kafkajs ships).
 * Consuming needs a consumer group in kafkajs, so it is not driven here.
 */
import { createRequire } from 'node:module';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import type { FixtureRecord } from '../fixture.ts';

/** The installed kafkajs version. */
export function kafkajsVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('kafkajs/package.json') as { version: string }).version;
}

function client(broker: string, clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5000,
    requestTimeout: 10_000,
    retry: { retries: 2, initialRetryTime: 100 },
  });
}

/** Admin: create `topic` with `partitions`, fetch its metadata, create + delete `scratch`. */
export async function kafkajsAdmin(
  broker: string,
  topic: string,
  partitions: number,
  scratch: string,
): Promise<number> {
  const admin = client(broker, 'golden-kafkajs-admin').admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] });
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.createTopics({ topics: [{ topic: scratch, numPartitions: 1, replicationFactor: 1 }] });
    await admin.deleteTopics({ topics: [scratch] });
    return md.topics[0]?.partitions.length ?? -1;
  } finally {
    await admin.disconnect();
  }
}

/** Idempotent producer sending the records to partition 0 of `topic`. */
export async function kafkajsProduce(
  broker: string,
  topic: string,
  codec: 'none' | 'gzip',
  records: FixtureRecord[],
): Promise<void> {
  const producer = client(broker, 'golden-kafkajs-producer').producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      compression: codec === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
      messages: records.map((r) => ({
        partition: 0,
        key: r.key,
        value: r.value,
        timestamp: String(r.timestampMs),
        headers: Object.fromEntries(r.headers.map((h) => [h.key, h.value])),
      })),
    });
  } finally {
    await producer.disconnect();
  }
}
