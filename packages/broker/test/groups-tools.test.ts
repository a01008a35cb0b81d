/**
 * Kafka's own kafka-consumer-groups (org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
 * from the Maven Central jars in tools/.cache/kafka) against startBroker: lists and describes a
 * group with its lag, resets offsets (--to-earliest, --to-datetime, --shift-by; dry run and
 * --execute), deletes offsets and the group; and a KIP-848 consumer group (listed with its
 * type, described through ConsumerGroupDescribe with epochs and target assignments).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiKey } from '@tributary/protocol';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { runProcess } from '../../../test/golden/clients/process.ts';
import { startBroker } from '../src/index.ts';
import { RawClient } from './raw-client.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const JARS = path.join(ROOT, 'tools/.cache/kafka');
const LOG4J = path.join(ROOT, 'tools/kafka/log4j2-tools.xml');

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
});

async function groups(bootstrap: string, ...args: string[]): Promise<string> {
  const r = await runProcess(
    'java',
    [
      `-Dlog4j2.configurationFile=${LOG4J}`,
      '-cp',
      `${JARS}/*`,
      'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand',
      '--bootstrap-server',
      bootstrap,
      ...args,
    ],
    { timeoutMs: 60_000 },
  );
  if (r.code !== 0)
    throw new Error(`kafka-consumer-groups ${args.join(' ')} failed (${r.code}): ${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** Rows of a describe/reset table: header names → values. */
function table(out: string): Record<string, string>[] {
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  const at = lines.findIndex((l) => l.trim().startsWith('GROUP'));
  if (at < 0) return [];
  const header = lines[at]!.trim().split(/\s+/);
  return lines.slice(at + 1).map((l) => {
    const cells = l.trim().split(/\s+/);
    return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']));
  });
}

describe('kafka-consumer-groups (ConsumerGroupCommand)', () => {
  it('lists, describes with lag, resets offsets, deletes offsets and groups', async () => {
    const b = await startBroker({
      port: 0,
      wal: 'memory://',
      objectStore: 'memory://',
      metadata: 'memory',
      groupInitialRebalanceDelayMs: 100,
      groupMinSessionTimeoutMs: 1000,
      offsetsTopicPartitions: 8,
    });
    cleanups.push(() => b.close());
    const bootstrap = `127.0.0.1:${b.address.port}`;
    const k = new Kafka({ clientId: 'groups-tools', brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const admin = k.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    await admin.createTopics({ topics: [{ topic: 'tools', numPartitions: 3 }] });
    const producer = k.producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    const t0 = Date.now();
    for (let p = 0; p < 3; p++)
      await producer.send({
        topic: 'tools',
        messages: Array.from({ length: 10 }, (_, i) => ({
          partition: p,
          value: `v${i}`,
          timestamp: String(t0 + i * 1000),
        })),
      });
    // A consumer commits 4 records of each partition, then stays in the group.
    await admin.setOffsets({
      groupId: 'tg',
      topic: 'tools',
      partitions: [0, 1, 2].map((partition) => ({ partition, offset: '4' })),
    });
    const consumer = k.consumer({ groupId: 'tg', sessionTimeout: 6000, heartbeatInterval: 300 });
    await consumer.connect();
    cleanups.push(() => consumer.disconnect());
    await consumer.subscribe({ topic: 'tools' });
    let joined = false;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joined = true;
    });
    await consumer.run({ autoCommit: false, eachMessage: async () => {} });
    await consumer.pause([{ topic: 'tools' }]);
    const deadline = Date.now() + 30_000;
    while (!joined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(joined).toBe(true);

    expect((await groups(bootstrap, '--list')).split('\n')).toContain('tg');
    const described = table(await groups(bootstrap, '--describe', '--group', 'tg'));
    expect(described.map((r) => [r.PARTITION, r['CURRENT-OFFSET'], r['LOG-END-OFFSET'], r.LAG])).toEqual([
      ['0', '4', '10', '6'],
      ['1', '4', '10', '6'],
      ['2', '4', '10', '6'],
    ]);
    expect(described.every((r) => r['CONSUMER-ID']!.startsWith('groups-tools-'))).toBe(true);
    const state = await groups(bootstrap, '--describe', '--group', 'tg', '--state');
    expect(state).toMatch(/Stable/);
    const members = await groups(bootstrap, '--describe', '--group', 'tg', '--members');
    expect(members).toMatch(/groups-tools-/);

    // Resetting needs an inactive group.
    await consumer.disconnect();
    const dry = table(
      await groups(
        bootstrap,
        '--reset-offsets',
        '--group',
        'tg',
        '--topic',
        'tools',
        '--to-earliest',
        '--dry-run',
      ),
    );
    expect(dry.map((r) => r['NEW-OFFSET'])).toEqual(['0', '0', '0']);
    expect(
      (await admin.fetchOffsets({ groupId: 'tg', topics: ['tools'] }))[0]!.partitions.map((p) => p.offset),
    ).toEqual(['4', '4', '4']);
    await groups(
      bootstrap,
      '--reset-offsets',
      '--group',
      'tg',
      '--topic',
      'tools',
      '--to-earliest',
      '--execute',
    );
    const offsets = async () =>
      (await admin.fetchOffsets({ groupId: 'tg', topics: ['tools'] }))[0]!.partitions
        .sort((x, y) => x.partition - y.partition)
        .map((p) => p.offset);
    expect(await offsets()).toEqual(['0', '0', '0']);
    await groups(
      bootstrap,
      '--reset-offsets',
      '--group',
      'tg',
      '--topic',
      'tools',
      '--shift-by',
      '3',
      '--execute',
    );
    expect(await offsets()).toEqual(['3', '3', '3']);
    const at = new Date(t0 + 7000).toISOString(); // with Z: independent of the machine's time zone
    await groups(
      bootstrap,
      '--reset-offsets',
      '--group',
      'tg',
      '--topic',
      'tools:1',
      '--to-datetime',
      at,
      '--execute',
    );
    expect(await offsets()).toEqual(['3', '7', '3']);
    const lag = table(await groups(bootstrap, '--describe', '--group', 'tg'));
    expect(lag.map((r) => r.LAG)).toEqual(['7', '3', '7']);

    const del = await groups(bootstrap, '--delete-offsets', '--group', 'tg', '--topic', 'tools');
    expect(del).toMatch(/Successful/);
    expect(await offsets()).toEqual(['-1', '-1', '-1']);
    await groups(
      bootstrap,
      '--reset-offsets',
      '--group',
      'tg',
      '--topic',
      'tools',
      '--to-latest',
      '--execute',
    );
    expect(await offsets()).toEqual(['10', '10', '10']);
    const deleted = await groups(bootstrap, '--delete', '--group', 'tg');
    expect(deleted).toMatch(/Deletion of requested consumer groups \('tg'\) was successful/);
    expect((await groups(bootstrap, '--list')).split('\n')).not.toContain('tg');
  }, 120_000);

  it('lists and describes a KIP-848 consumer group', async () => {
    const b = await startBroker({
      port: 0,
      wal: 'memory://',
      objectStore: 'memory://',
      metadata: 'memory',
      offsetsTopicPartitions: 4,
    });
    cleanups.push(() => b.close());
    const bootstrap = `127.0.0.1:${b.address.port}`;
    const c = await RawClient.connect(b.address.port);
    cleanups.push(() => c.close());
    await c.request(ApiKey.CreateTopics, 7, {
      topics: [{ name: 'tk', numPartitions: 3, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    const k = new Kafka({ clientId: 'groups-tools', brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const producer = k.producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    for (let p = 0; p < 3; p++)
      await producer.send({
        topic: 'tk',
        messages: Array.from({ length: 5 }, () => ({ partition: p, value: 'v' })),
      });
    const hb = await c.request(ApiKey.ConsumerGroupHeartbeat, 1, {
      groupId: 'kip',
      memberId: 'member-1',
      memberEpoch: 0,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: 5000,
      subscribedTopicNames: ['tk'],
      subscribedTopicRegex: null,
      serverAssignor: 'range',
      topicPartitions: [],
    });
    expect(hb.errorCode).toBe(0);
    const commit = await c.request(ApiKey.OffsetCommit, 9, {
      groupId: 'kip',
      generationIdOrMemberEpoch: hb.memberEpoch,
      memberId: 'member-1',
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [
        {
          name: 'tk',
          partitions: [0, 1, 2].map((p) => ({
            partitionIndex: p,
            committedOffset: BigInt(p + 1),
            committedLeaderEpoch: -1,
            commitTimestamp: -1n,
            committedMetadata: '',
          })),
        },
      ],
    });
    expect(commit.topics[0].partitions.map((p: { errorCode: number }) => p.errorCode)).toEqual([0, 0, 0]);

    const listed = (await groups(bootstrap, '--list', '--type'))
      .split('\n')
      .map((l) => l.trim().split(/\s+/));
    expect(listed).toContainEqual(['kip', 'Consumer']);
    const described = table(await groups(bootstrap, '--describe', '--group', 'kip'));
    expect(described.map((r) => [r.PARTITION, r['CURRENT-OFFSET'], r.LAG, r['CONSUMER-ID']])).toEqual([
      ['0', '1', '4', 'member-1'],
      ['1', '2', '3', 'member-1'],
      ['2', '3', '2', 'member-1'],
    ]);
    const members = table(await groups(bootstrap, '--describe', '--group', 'kip', '--members', '--verbose'));
    expect(members).toEqual([
      expect.objectContaining({
        'CONSUMER-ID': 'member-1',
        '#PARTITIONS': '3',
        'CURRENT-EPOCH': '1',
        'CURRENT-ASSIGNMENT': 'tk:0,1,2',
        'TARGET-EPOCH': '1',
        'TARGET-ASSIGNMENT': 'tk:0,1,2',
      }),
    ]);
    const state = await groups(bootstrap, '--describe', '--group', 'kip', '--state', '--verbose');
    expect(state).toMatch(/kip\s+\S+\s+\(\d+\)\s+range\s+Stable\s+1\s+1\s+1/);
    // Deleting needs an empty group: the member leaves first.
    expect(await groups(bootstrap, '--delete', '--group', 'kip').catch((e: Error) => e.message)).toMatch(
      /not empty|NonEmptyGroup/i,
    );
    const left = await c.request(ApiKey.ConsumerGroupHeartbeat, 1, {
      groupId: 'kip',
      memberId: 'member-1',
      memberEpoch: -1,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: -1,
      subscribedTopicNames: null,
      subscribedTopicRegex: null,
      serverAssignor: null,
      topicPartitions: null,
    });
    expect(left.errorCode).toBe(0);
    expect(await groups(bootstrap, '--delete', '--group', 'kip')).toMatch(/was successful/);
    expect((await groups(bootstrap, '--list')).split('\n')).not.toContain('kip');
  }, 120_000);
});
