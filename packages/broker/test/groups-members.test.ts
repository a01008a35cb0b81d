/**
 * Group members in their own processes against startBroker, with the range and the
 * cooperative-sticky assignors: the Java KafkaConsumer (kafka-clients from tools/.cache/java,
 * classic protocol; test/groups-clients/GroupMember.java) and librdkafka through
 * confluent-kafka-python (the venv in tools/.cache/pyclients; groups-clients/confluent_member.py).
 * The scenario (groups-clients/scenario.ts, shared with groups-franz.test.ts): 3 members on a
 * 12-partition topic get 4 partitions each; one leaves cleanly (LeaveGroup), the other two
 * take its partitions; one is SIGKILLed and the last takes everything after the session
 * timeout. Members commit synchronously after each poll and on revocation, so the check is:
 * every record is consumed; a record is delivered twice only on a partition the killed member
 * owned (its last uncommitted poll); records produced once the group settled are delivered
 * exactly once; the committed offsets end at the partitions' ends.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runProcess } from '../../../test/golden/clients/process.ts';
import { groupCoordinator } from '../src/groups/index.ts';
import type { Broker, BrokerOptions } from '../src/index.ts';
import {
  connectedProducer,
  deliveryCounts,
  joinLeaveKill,
  type Member,
  ROOT,
  sleep,
  spawnMember,
  startGroupBroker,
  stopMember,
  until,
  useCleanups,
  withDiagnostics,
} from './groups-clients/scenario.ts';

const JARS = path.join(ROOT, 'tools/.cache/java');
const CLASSES = path.join(ROOT, 'tools/.cache/java-classes-groups');
const SOURCE = path.join(ROOT, 'packages/broker/test/groups-clients/GroupMember.java');
const PYTHON = path.join(ROOT, 'tools/.cache/pyclients/bin/python');
const PY_MEMBER = path.join(ROOT, 'packages/broker/test/groups-clients/confluent_member.py');

const cleanups = useCleanups();

beforeAll(async () => {
  if (!existsSync(JARS)) throw new Error(`${JARS} missing: run scripts/install-tools.sh`);
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} missing: run scripts/install-tools.sh`);
  mkdirSync(CLASSES, { recursive: true });
  const r = await runProcess('javac', ['-d', CLASSES, '-cp', `${JARS}/*`, SOURCE], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`javac failed: ${r.stderr}`);
}, 180_000);

type Client = 'java' | 'librdkafka';

function member(
  client: Client,
  b: Broker,
  group: string,
  topic: string,
  assignor: string,
  instanceId?: string,
): Member {
  const args = [
    `127.0.0.1:${b.address.port}`,
    group,
    topic,
    assignor,
    '6000',
    ...(instanceId ? [instanceId] : []),
  ];
  return client === 'java'
    ? spawnMember(cleanups, 'java', [
        '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
        '-cp',
        `${CLASSES}:${JARS}/*`,
        'GroupMember',
        ...args,
      ])
    : spawnMember(cleanups, PYTHON, [PY_MEMBER, ...args], { ...process.env, PYTHONUNBUFFERED: '1' });
}

const brokerWithAdmin = (o: Partial<BrokerOptions> = {}) => startGroupBroker(cleanups, 'groups-java', o);

const CASES: [Client, string][] = [
  ['java', 'range'],
  ['java', 'cooperative-sticky'],
  ['librdkafka', 'range'],
  ['librdkafka', 'cooperative-sticky'],
  // KIP-848 (group.protocol=consumer): ConsumerGroupHeartbeat with the broker's assignors.
  ['java', 'consumer-uniform'],
  ['java', 'consumer-range'],
  ['librdkafka', 'consumer-uniform'],
];

for (const [client, assignor] of CASES) {
  describe(`${client} group, ${assignor} assignor`, () => {
    it('3 members on 12 partitions: join, leave, kill; every record consumed', async () => {
      const group = `${client}-${assignor}`;
      await joinLeaveKill({
        cleanups,
        clientId: 'groups-java',
        topic: `m12-${client}-${assignor}`,
        group,
        start: (b, g, t) => member(client, b, g, t, assignor),
        checkAssigned: async (b) => {
          if (!assignor.startsWith('consumer-')) return;
          // The members really use KIP-848: the group is a consumer group with the chosen assignor.
          const d = await groupCoordinator(b).consumer.describe(group);
          expect(d.errorCode).toBe(0);
          expect(d.members.length).toBe(3);
          expect(d.assignorName).toBe(assignor.slice('consumer-'.length));
        },
        diagLines: 6,
        label: `${client} ${assignor}`,
      });
    }, 180_000);
  });
}

describe('Java static membership', () => {
  it('a SIGKILLed static member restarted within its session timeout gets its partitions back without a rebalance', async () => {
    const { b, admin } = await brokerWithAdmin();
    await admin.createTopics({ topics: [{ topic: 'static12', numPartitions: 12 }] });
    const a = member('java', b, 'jstatic', 'static12', 'range', 'ja');
    const c = member('java', b, 'jstatic', 'static12', 'range', 'jc');
    await until(
      'two static members with 6 partitions each',
      () => a.assigned.length === 6 && c.assigned.length === 6,
    );
    const before = a.assigned;
    const cLines = c.lines.length;
    a.child.kill('SIGKILL');
    const a2 = member('java', b, 'jstatic', 'static12', 'range', 'ja');
    await until('the restarted member is assigned', () => a2.assigned.length > 0, 30_000);
    expect(a2.assigned).toEqual(before);
    // Past the session timeout (6 s) of the killed process: still no rebalance.
    await sleep(7000);
    expect(c.lines.slice(cLines)).toEqual([]);
    expect(a2.lines.filter((l) => l.startsWith('assigned') || l.startsWith('revoked'))).toEqual([
      `assigned ${before.join(',')}`,
    ]);
    const d = await admin.describeGroups(['jstatic']);
    expect(d.groups[0]!.state).toBe('Stable');
    expect(d.groups[0]!.members.length).toBe(2);
  }, 90_000);
});

describe('Java static membership, KIP-848', () => {
  it('a static member that closes and comes back within the session timeout gets its partitions back; the other sees nothing', async () => {
    const { b, admin } = await brokerWithAdmin({ groupConsumerSessionTimeoutMs: 20_000 });
    await admin.createTopics({ topics: [{ topic: 'static848', numPartitions: 12 }] });
    const a = member('java', b, 'jstatic848', 'static848', 'consumer-uniform', 'ja');
    const c = member('java', b, 'jstatic848', 'static848', 'consumer-uniform', 'jc');
    await until(
      'two static members with 6 partitions each',
      () => a.assigned.length === 6 && c.assigned.length === 6,
    );
    const before = a.assigned;
    const epoch = (await groupCoordinator(b).consumer.describe('jstatic848')).groupEpoch;
    const cLines = c.lines.length;
    // close() of a static KIP-848 member leaves with epoch -2: its partitions stay reserved.
    await stopMember(a, 'a closed');
    const a2 = member('java', b, 'jstatic848', 'static848', 'consumer-uniform', 'ja');
    await until('the restarted member is assigned', () => a2.assigned.length > 0, 30_000);
    expect(a2.assigned).toEqual(before);
    await sleep(2000);
    expect(c.lines.slice(cLines).filter((l) => !l.startsWith('stderr'))).toEqual([]);
    const d = await groupCoordinator(b).consumer.describe('jstatic848');
    expect(d.groupEpoch).toBe(epoch);
    expect(d.groupState).toBe('Stable');
    expect(d.members.map((m) => m.instanceId).sort()).toEqual(['ja', 'jc']);
  }, 90_000);
});

describe('Java KIP-848 regex subscription (SubscriptionPattern, resolved by the broker)', () => {
  it('members subscribed by pattern share the matching topics and pick up a new one', async () => {
    const { b, k, admin } = await brokerWithAdmin();
    await admin.createTopics({
      topics: [
        { topic: 'rx-a', numPartitions: 4 },
        { topic: 'rx-b', numPartitions: 4 },
        { topic: 'other', numPartitions: 4 },
      ],
    });
    const producer = await connectedProducer(cleanups, k);
    const produce = (topic: string, prefix: string) =>
      producer.send({ topic, messages: Array.from({ length: 100 }, (_, i) => ({ value: `${prefix}${i}` })) });
    const ms = [
      member('java', b, 'jregex', 're:rx-.*', 'consumer-uniform'),
      member('java', b, 'jregex', 're:rx-.*', 'consumer-uniform'),
    ];
    const consumed = (prefix: string) => {
      const seen = new Set<string>();
      for (const m of ms) for (const [v] of m.deliveries) if (v.startsWith(prefix)) seen.add(v);
      return seen.size;
    };
    await withDiagnostics(ms, 6, async () => {
      await until('8 partitions of rx-a and rx-b shared', () => ms.every((m) => m.assigned.length === 4));
      await produce('rx-a', 'a');
      await produce('rx-b', 'b');
      await produce('other', 'o');
      await until('rx-a and rx-b consumed', () => consumed('a') === 100 && consumed('b') === 100);
      await admin.createTopics({ topics: [{ topic: 'rx-c', numPartitions: 4 }] });
      await until('rx-c joins the subscription', () => ms.every((m) => m.assigned.length === 6), 30_000);
      await produce('rx-c', 'c');
      await until('rx-c consumed', () => consumed('c') === 100);
      expect(consumed('o')).toBe(0);
      const d = await groupCoordinator(b).consumer.describe('jregex');
      expect(d.members.map((m) => m.subscribedTopicRegex)).toEqual(['rx-.*', 'rx-.*']);
    });
  }, 90_000);
});

describe('rolling upgrade from the classic protocol to KIP-848 (Java)', () => {
  it('members restarted one at a time with group.protocol=consumer: partitions keep moving, every record consumed once', async () => {
    const { b, k, admin } = await brokerWithAdmin();
    const topic = 'upgrade12';
    const group = 'jupgrade';
    await admin.createTopics({ topics: [{ topic, numPartitions: 12 }] });
    const producer = await connectedProducer(cleanups, k);
    let produced = 0;
    const produce = async (count: number) => {
      const messages = Array.from({ length: count }, (_, i) => ({
        key: `k${produced + i}`,
        value: `v${produced + i}`,
      }));
      produced += count;
      await producer.send({ topic, messages });
    };
    const all: Member[] = [];
    const start = (assignor: string) => {
      const m = member('java', b, group, topic, assignor);
      all.push(m);
      return m;
    };
    const live = [start('cooperative-sticky'), start('cooperative-sticky'), start('cooperative-sticky')];
    const counts = () => deliveryCounts(all);
    const consumedAll = () => counts().size === produced;
    const settled = () => {
      const owned = live.flatMap((m) => m.assigned);
      return live.every((m) => m.assigned.length === 4) && new Set(owned).size === 12;
    };
    await withDiagnostics(all, 5, async () => {
      await until('3 classic members with 4 partitions each', settled);
      await produce(600);
      await until('first records consumed', consumedAll);
      for (let i = 0; i < 3; i++) {
        await stopMember(live[i]!, `classic member ${i} closed`);
        live[i] = start('consumer-uniform');
        await produce(300);
        await until(`member ${i} upgraded and the group settled`, settled, 60_000);
        await until('records so far consumed', consumedAll);
        const d = await groupCoordinator(b).consumer.describe(group);
        expect(d.errorCode).toBe(0); // a consumer group from the first upgrade on, classic members inside
        expect(d.members.length).toBe(3);
      }
      await produce(600);
      await until('every record consumed', consumedAll);
      await sleep(500);
      const twice = [...counts().values()].filter((n) => n > 1).length;
      console.log(`rolling upgrade: ${produced} records, ${twice} delivered twice`);
      expect(twice).toBe(0);
      const d = await groupCoordinator(b).consumer.describe(group);
      expect(d.members.length).toBe(3);
      expect(d.groupState).toBe('Stable');
    });
  }, 180_000);

  it('classic members join a KIP-848 group (a rollback) and share it', async () => {
    const { b, k, admin } = await brokerWithAdmin();
    const topic = 'rollback12';
    const group = 'jrollback';
    await admin.createTopics({ topics: [{ topic, numPartitions: 12 }] });
    const producer = await connectedProducer(cleanups, k);
    await producer.send({ topic, messages: Array.from({ length: 600 }, (_, i) => ({ value: `v${i}` })) });
    const ms = [
      member('java', b, group, topic, 'consumer-uniform'),
      member('java', b, group, topic, 'consumer-uniform'),
    ];
    await until('two KIP-848 members', () => ms.every((m) => m.assigned.length === 6));
    ms.push(member('java', b, group, topic, 'range'), member('java', b, group, topic, 'cooperative-sticky'));
    await withDiagnostics(ms, 5, async () => {
      await until(
        'four members (two classic) with 3 partitions each',
        () => ms.every((m) => m.assigned.length === 3) && new Set(ms.flatMap((m) => m.assigned)).size === 12,
        60_000,
      );
      const seen = () => new Set(ms.flatMap((m) => m.deliveries.map(([v]) => v))).size;
      await until('every record consumed', () => seen() === 600);
      expect((await groupCoordinator(b).consumer.describe(group)).members.length).toBe(4);
    });
  }, 120_000);
});
