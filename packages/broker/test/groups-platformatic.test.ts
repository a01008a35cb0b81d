/**
 * @platformatic/kafka 1.x consumer groups against startBroker: its flexible versions
 * (FindCoordinator 4 batched, JoinGroup 9, SyncGroup 5, Heartbeat 4, LeaveGroup 5,
 * OffsetCommit 9, OffsetFetch 9 multi-group, DescribeGroups 5, ListGroups 4/5 → 4).
 * 3 members join a 12-partition topic (its own assignor: 4 partitions each), each reads its
 * partitions from the committed offsets and commits; one member leaves (LeaveGroup), the
 * others rejoin on their heartbeat's REBALANCE_IN_PROGRESS and take its partitions; every
 * record is read exactly once (commits are explicit); Admin lists, describes, reads the
 * group's offsets and deletes the group.
 *
 * Its consume() streams are not used: with Fetch ≤ 12 they send the topic id in place of the
 * topic name (platformatic 1.35 fetch-v12.js writes `topicId` into the name field), which no
 * broker without Fetch 13+ can serve; records are read with Consumer.fetch() and the topic
 * name, as in test/clients/platformatic.test.ts.
 *
 * Static membership: two static members (group.instance.id) in child processes; one is
 * SIGKILLed and restarted under the same instance id within its session timeout: it gets the
 * same partitions at the same generation, and the other member sees no rebalance.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Admin, Consumer, Producer } from '@platformatic/kafka';
import { afterEach, describe, expect, it } from 'vitest';
import { type Broker, startBroker } from '../src/index.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
});

async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function base(b: Broker, clientId: string) {
  return {
    clientId,
    bootstrapBrokers: [`127.0.0.1:${b.address.port}`],
    timeout: 20_000,
    retries: 10,
    retryDelay: 100,
  };
}

describe('@platformatic/kafka consumer groups', () => {
  it('3 members on 12 partitions; one leaves; every record read once from committed offsets', async () => {
    const b = await startBroker({
      port: 0,
      wal: 'memory://',
      objectStore: 'memory://',
      metadata: 'memory',
      groupInitialRebalanceDelayMs: 300,
      groupMinSessionTimeoutMs: 1000,
      offsetsTopicPartitions: 8,
    });
    cleanups.push(() => b.close());
    const topic = 'p12';
    const admin = new Admin(base(b, 'groups-platformatic-admin'));
    cleanups.push(() => admin.close());
    await admin.createTopics({ topics: [topic], partitions: 12, replicas: 1 });
    const producer = new Producer(base(b, 'groups-platformatic-producer'));
    cleanups.push(() => producer.close());
    const produce = async (from: number, count: number) => {
      for (let i = from; i < from + count; i += 100) {
        const messages = [];
        for (let j = i; j < Math.min(from + count, i + 100); j++)
          messages.push({ topic, key: Buffer.from(`k${j}`), value: Buffer.from(`v${j}`) });
        await producer.send({ messages });
      }
    };
    await produce(0, 1200);

    const seen = new Map<string, number>();
    const members: Consumer[] = [];
    for (let i = 0; i < 3; i++) {
      const consumer = new Consumer({
        ...base(b, `groups-platformatic-${i}`),
        groupId: 'pg',
        sessionTimeout: 6000,
        rebalanceTimeout: 10_000,
        heartbeatInterval: 200,
      });
      cleanups.push(() => consumer.close(true));
      consumer.topics.trackAll(topic);
      members.push(consumer);
    }
    await Promise.all(members.map((c) => c.joinGroup({})));
    const partitionsOf = (c: Consumer) => c.assignments?.find((a) => a.topic === topic)?.partitions ?? [];
    await until('three members with 4 partitions each', () =>
      members.every((c) => partitionsOf(c).length === 4),
    );
    expect(new Set(members.flatMap(partitionsOf)).size).toBe(12);
    const groups = await admin.describeGroups({ groups: ['pg'] });
    expect(groups.get('pg')?.state).toBe('STABLE');
    expect(groups.get('pg')?.members.size).toBe(3);

    /** Reads a member's partitions from the committed offsets to the end, then commits. */
    const drain = async (c: Consumer) => {
      const parts = partitionsOf(c);
      const committed =
        (await c.listCommittedOffsets({ topics: [{ topic, partitions: parts }] })).get(topic) ?? [];
      const offsets: { topic: string; partition: number; offset: bigint; leaderEpoch: number }[] = [];
      for (const partition of parts) {
        let next =
          committed[partition] !== undefined && committed[partition]! >= 0n ? committed[partition]! : 0n;
        for (;;) {
          const res = await c.fetch({
            node: b.brokerId,
            maxWaitTime: 10,
            maxBytes: 4 << 20,
            topics: [
              {
                topicId: topic,
                partitions: [
                  {
                    partition,
                    currentLeaderEpoch: -1,
                    fetchOffset: next,
                    lastFetchedEpoch: -1,
                    partitionMaxBytes: 1 << 20,
                  },
                ],
              },
            ],
          });
          const p = res.responses[0]!.partitions[0]!;
          expect(p.errorCode).toBe(0);
          for (const batch of p.records ?? [])
            for (const r of batch.records) {
              const offset = batch.firstOffset + BigInt(r.offsetDelta);
              if (offset < next) continue;
              const v = r.value!.toString();
              seen.set(v, (seen.get(v) ?? 0) + 1);
              next = offset + 1n;
            }
          if (next >= p.highWatermark) break;
        }
        offsets.push({ topic, partition, offset: next, leaderEpoch: 0 });
      }
      await c.commit({ offsets });
    };
    await Promise.all(members.map(drain));
    expect(seen.size).toBe(1200);

    const leaving = members.pop()!;
    await leaving.leaveGroup();
    await until(
      'two members with 6 partitions each',
      () => members.every((c) => partitionsOf(c).length === 6),
      20_000,
    );
    await produce(1200, 1200);
    await Promise.all(members.map(drain));
    expect(seen.size).toBe(2400);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);

    const offsets = await admin.listConsumerGroupOffsets({ groups: ['pg'] });
    const parts = offsets[0]!.topics.find((t) => t.name === topic)!.partitions;
    expect(parts.length).toBe(12);
    expect(parts.reduce((n, p) => n + Number(p.committedOffset), 0)).toBe(2400);
    const listed = await admin.listGroups();
    expect(listed.get('pg')?.protocolType).toBe('consumer');
    for (const c of members) await c.leaveGroup();
    await until(
      'the group is empty',
      async () => (await admin.describeGroups({ groups: ['pg'] })).get('pg')?.state === 'EMPTY',
    );
    await admin.deleteGroups({ groups: ['pg'] });
    expect((await admin.listGroups()).has('pg')).toBe(false);
  }, 120_000);

  it('a restarted static member gets its partitions back without a rebalance', async () => {
    const b = await startBroker({
      port: 0,
      wal: 'memory://',
      objectStore: 'memory://',
      metadata: 'memory',
      groupInitialRebalanceDelayMs: 300,
      groupMinSessionTimeoutMs: 1000,
      offsetsTopicPartitions: 8,
    });
    cleanups.push(() => b.close());
    const topic = 's12';
    const admin = new Admin(base(b, 'groups-platformatic-admin'));
    cleanups.push(() => admin.close());
    await admin.createTopics({ topics: [topic], partitions: 12, replicas: 1 });
    type Join = { memberId: string; generation: number; partitions: number[] };
    const script = fileURLToPath(new URL('./groups-clients/platformatic-member.mjs', import.meta.url));
    const start = (instanceId: string, joins: Join[]): ChildProcess => {
      const child = spawn(
        process.execPath,
        [script, `127.0.0.1:${b.address.port}`, 'static', topic, '4000', instanceId],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      cleanups.push(() => child.kill('SIGKILL'));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const m = JSON.parse(line) as Join & { event: string };
        if (m.event === 'join')
          joins.push({ memberId: m.memberId, generation: m.generation, partitions: m.partitions });
      });
      return child;
    };
    const aJoins: Join[] = [];
    const bJoins: Join[] = [];
    const a = start('sa', aJoins);
    start('sb', bJoins);
    const last = (j: Join[]) => j[j.length - 1];
    await until(
      'two static members with 6 partitions each at one generation',
      () =>
        last(aJoins)?.partitions.length === 6 &&
        last(bJoins)?.partitions.length === 6 &&
        last(aJoins)!.generation === last(bJoins)!.generation,
      40_000,
    );
    const before = last(aJoins)!;
    const bCount = bJoins.length;
    a.kill('SIGKILL');
    const a2Joins: Join[] = [];
    start('sa', a2Joins);
    await until('the restarted member joined', () => a2Joins.length > 0, 20_000);
    const after = a2Joins[0]!;
    expect(after.memberId).not.toBe(before.memberId);
    expect(after.memberId.startsWith('sa-')).toBe(true);
    expect(after.generation).toBe(before.generation);
    expect(after.partitions).toEqual(before.partitions);
    // Past the old member's session timeout: still no rebalance.
    await new Promise((r) => setTimeout(r, 5000));
    expect(bJoins.length).toBe(bCount);
    expect(a2Joins.length).toBe(1);
    const d = (await admin.describeGroups({ groups: ['static'] })).get('static')!;
    expect(d.state).toBe('STABLE');
    expect([...d.members.values()].map((m) => m.groupInstanceId).sort()).toEqual(['sa', 'sb']);
  }, 90_000);
});
