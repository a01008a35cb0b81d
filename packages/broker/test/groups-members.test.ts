/**
 * Group members in their own processes against startBroker, with the range and the
 * cooperative-sticky assignors: the Java KafkaConsumer (kafka-clients from tools/.cache/java,
 * classic protocol; test/groups-clients/GroupMember.java) and librdkafka through
 * confluent-kafka-python (the venv in tools/.cache/pyclients; groups-clients/confluent_member.py).
 * 3 members on a 12-partition topic get 4 partitions each; one
 * leaves cleanly (LeaveGroup), the other two take its partitions; one is SIGKILLed and the
 * last takes everything after the session timeout. Members commit synchronously after each
 * poll and on revocation, so the check is: every record is consumed; a record is delivered
 * twice only on a partition the killed member owned (its last uncommitted poll); records
 * produced once the group settled are delivered exactly once; the committed offsets end at
 * the partitions' ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runProcess } from '../../../test/golden/clients/process.ts';
import { groupCoordinator } from '../src/groups/index.ts';
import { type Broker, type BrokerOptions, startBroker } from '../src/index.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const JARS = path.join(ROOT, 'tools/.cache/java');
const CLASSES = path.join(ROOT, 'tools/.cache/java-classes-groups');
const SOURCE = path.join(ROOT, 'packages/broker/test/groups-clients/GroupMember.java');
const PYTHON = path.join(ROOT, 'tools/.cache/pyclients/bin/python');
const PY_MEMBER = path.join(ROOT, 'packages/broker/test/groups-clients/confluent_member.py');

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
});

beforeAll(async () => {
  if (!existsSync(JARS)) throw new Error(`${JARS} missing: run scripts/install-tools.sh`);
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} missing: run scripts/install-tools.sh`);
  mkdirSync(CLASSES, { recursive: true });
  const r = await runProcess('javac', ['-d', CLASSES, '-cp', `${JARS}/*`, SOURCE], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`javac failed: ${r.stderr}`);
}, 180_000);

async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Member {
  child: ChildProcess;
  assigned: number[];
  /** value → partition of every delivery. */
  deliveries: [string, number][];
  closed: boolean;
  lines: string[];
}

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
  const child =
    client === 'java'
      ? spawn(
          'java',
          [
            '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
            '-cp',
            `${CLASSES}:${JARS}/*`,
            'GroupMember',
            ...args,
          ],
          { stdio: ['pipe', 'pipe', 'pipe'] },
        )
      : spawn(PYTHON, [PY_MEMBER, ...args], {
          stdio: ['pipe', 'pipe', 'pipe'],
          env: { ...process.env, PYTHONUNBUFFERED: '1' },
        });
  cleanups.push(() => child.kill('SIGKILL'));
  const m: Member = { child, assigned: [], deliveries: [], closed: false, lines: [] };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('rec ')) {
      const [, p, , v] = line.split(' ');
      m.deliveries.push([v!, Number(p)]);
      return;
    }
    m.lines.push(line);
    if (line.startsWith('assigned')) m.assigned = line.slice(9).split(',').filter(Boolean).map(Number);
    else if (line === 'closed') m.closed = true;
  });
  child.stderr!.on('data', (d: Buffer) => m.lines.push(`stderr: ${d.toString().trim()}`));
  return m;
}

/** A broker on memory storage (group settings for quick tests) and a kafkajs admin on it. */
async function brokerWithAdmin(
  o: Partial<BrokerOptions> = {},
): Promise<{ b: Broker; k: Kafka; admin: Admin }> {
  const b = await startBroker({
    port: 0,
    wal: 'memory://',
    objectStore: 'memory://',
    metadata: 'memory',
    groupInitialRebalanceDelayMs: 500,
    groupMinSessionTimeoutMs: 1000,
    offsetsTopicPartitions: 8,
    groupConsumerSessionTimeoutMs: 6000,
    groupConsumerHeartbeatIntervalMs: 300,
    ...o,
  });
  cleanups.push(() => b.close());
  const k = new Kafka({
    clientId: 'groups-java',
    brokers: [`127.0.0.1:${b.address.port}`],
    logLevel: logLevel.NOTHING,
  });
  const admin = k.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  return { b, k, admin };
}

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
      const { b, k, admin } = await brokerWithAdmin();
      const topic = `m12-${client}-${assignor}`;
      const group = `${client}-${assignor}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: 12 }] });
      const producer = k.producer();
      await producer.connect();
      cleanups.push(() => producer.disconnect());
      const produce = async (from: number, count: number) => {
        for (let i = from; i < from + count; i += 100) {
          const messages = [];
          for (let j = i; j < Math.min(from + count, i + 100); j++)
            messages.push({ key: `k${j}`, value: `v${j}` });
          await producer.send({ topic, messages });
        }
      };
      await produce(0, 1200);
      const ms = [
        member(client, b, group, topic, assignor),
        member(client, b, group, topic, assignor),
        member(client, b, group, topic, assignor),
      ];
      const seen = () => {
        const s = new Map<string, number>();
        for (const m of ms) for (const [v] of m.deliveries) s.set(v, (s.get(v) ?? 0) + 1);
        return s;
      };
      const allSeen = (from: number, to: number) => {
        const s = seen();
        for (let i = from; i < to; i++) if (!s.has(`v${i}`)) return false;
        return true;
      };
      const diag = () => ms.map((m, i) => `member ${i}: ${m.lines.slice(-6).join(' | ')}`).join('\n');
      try {
        await until(
          '3 members with 4 partitions each',
          () => ms.every((m) => m.assigned.length === 4),
          60_000,
        );
        expect(new Set(ms.flatMap((m) => m.assigned)).size).toBe(12);
        if (assignor.startsWith('consumer-')) {
          // The members really use KIP-848: the group is a consumer group with the chosen assignor.
          const d = await groupCoordinator(b).consumer.describe(group);
          expect(d.errorCode).toBe(0);
          expect(d.members.length).toBe(3);
          expect(d.assignorName).toBe(assignor.slice('consumer-'.length));
        }
        await until('records 0–1200 consumed', () => allSeen(0, 1200));

        // Clean leave.
        ms[2]!.child.stdin!.write('stop\n');
        await until('member 2 closed', () => ms[2]!.closed);
        await until(
          'two members with 6 partitions each',
          () => ms[0]!.assigned.length === 6 && ms[1]!.assigned.length === 6,
        );
        await produce(1200, 1200);
        await until('records 0–2400 consumed', () => allSeen(0, 2400));

        // SIGKILL while records flow: the last member takes everything after the session
        // timeout, and re-reads what the killed member consumed but had not committed.
        const killedOwned = new Set(ms[1]!.assigned);
        const flowing = (async () => {
          for (let i = 2400; i < 3600; i += 100) {
            await produce(i, 100);
            await new Promise((r) => setTimeout(r, 50));
          }
        })();
        const killedBefore = ms[1]!.deliveries.length;
        await until(
          'the member to kill consumes new records',
          () => ms[1]!.deliveries.length > killedBefore + 20,
        );
        ms[1]!.child.kill('SIGKILL');
        await flowing;
        await until('one member with 12 partitions', () => ms[0]!.assigned.length === 12, 30_000);
        await until('records 0–3600 consumed', () => allSeen(0, 3600));
        // Settled: what is produced now is delivered exactly once.
        const settled = ms[0]!.deliveries.length;
        await produce(3600, 1200);
        await until('records 0–4800 consumed', () => allSeen(0, 4800));
        await new Promise((r) => setTimeout(r, 500));
        const late = ms[0]!.deliveries.slice(settled).filter(([v]) => Number(v.slice(1)) >= 3600);
        expect(late.length).toBe(1200);
        expect(new Set(late.map(([v]) => v)).size).toBe(1200);
        // Duplicates only on the killed member's partitions.
        const counts = new Map<string, number>();
        for (const m of ms) for (const [v] of m.deliveries) counts.set(v, (counts.get(v) ?? 0) + 1);
        const dupPartitions = new Set<number>();
        let dups = 0;
        for (const m of ms)
          for (const [v, p] of m.deliveries)
            if (counts.get(v)! > 1) {
              dupPartitions.add(p);
              dups++;
            }
        for (const p of dupPartitions) expect(killedOwned.has(p)).toBe(true);
        console.log(
          `${client} ${assignor}: 4800 records, ${dups / 2} delivered twice (killed member's uncommitted poll)`,
        );

        ms[0]!.child.stdin!.write('stop\n');
        await until('member 0 closed', () => ms[0]!.closed);
        const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] });
        const ends = new Map((await admin.fetchTopicOffsets(topic)).map((e) => [e.partition, e.offset]));
        for (const p of committed[0]!.partitions) expect(p.offset).toBe(ends.get(p.partition));
      } catch (err) {
        throw new Error(`${String(err)}\n${diag()}`);
      }
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
    await new Promise((r) => setTimeout(r, 7000));
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
    a.child.stdin!.write('stop\n');
    await until('a closed', () => a.closed);
    const a2 = member('java', b, 'jstatic848', 'static848', 'consumer-uniform', 'ja');
    await until('the restarted member is assigned', () => a2.assigned.length > 0, 30_000);
    expect(a2.assigned).toEqual(before);
    await new Promise((r) => setTimeout(r, 2000));
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
    const producer = k.producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    const produce = (topic: string, prefix: string) =>
      producer.send({ topic, messages: Array.from({ length: 100 }, (_, i) => ({ value: `${prefix}${i}` })) });
    const ms = [
      member('java', b, 'jregex', 're:rx-.*', 'consumer-uniform'),
      member('java', b, 'jregex', 're:rx-.*', 'consumer-uniform'),
    ];
    const diag = () => ms.map((m, i) => `member ${i}: ${m.lines.slice(-6).join(' | ')}`).join('\n');
    const consumed = (prefix: string) => {
      const seen = new Set<string>();
      for (const m of ms) for (const [v] of m.deliveries) if (v.startsWith(prefix)) seen.add(v);
      return seen.size;
    };
    try {
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
    } catch (err) {
      throw new Error(`${String(err)}\n${diag()}`);
    }
  }, 90_000);
});

describe('rolling upgrade from the classic protocol to KIP-848 (Java)', () => {
  it('members restarted one at a time with group.protocol=consumer: partitions keep moving, every record consumed once', async () => {
    const { b, k, admin } = await brokerWithAdmin();
    const topic = 'upgrade12';
    const group = 'jupgrade';
    await admin.createTopics({ topics: [{ topic, numPartitions: 12 }] });
    const producer = k.producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
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
    const counts = () => {
      const c = new Map<string, number>();
      for (const m of all) for (const [v] of m.deliveries) c.set(v, (c.get(v) ?? 0) + 1);
      return c;
    };
    const consumedAll = () => counts().size === produced;
    const settled = () => {
      const owned = live.flatMap((m) => m.assigned);
      return live.every((m) => m.assigned.length === 4) && new Set(owned).size === 12;
    };
    const diag = () => all.map((m, i) => `member ${i}: ${m.lines.slice(-5).join(' | ')}`).join('\n');
    try {
      await until('3 classic members with 4 partitions each', settled);
      await produce(600);
      await until('first records consumed', consumedAll);
      for (let i = 0; i < 3; i++) {
        live[i]!.child.stdin!.write('stop\n');
        await until(`classic member ${i} closed`, () => live[i]!.closed);
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
      await new Promise((r) => setTimeout(r, 500));
      const twice = [...counts().values()].filter((n) => n > 1).length;
      console.log(`rolling upgrade: ${produced} records, ${twice} delivered twice`);
      expect(twice).toBe(0);
      const d = await groupCoordinator(b).consumer.describe(group);
      expect(d.members.length).toBe(3);
      expect(d.groupState).toBe('Stable');
    } catch (err) {
      throw new Error(`${String(err)}\n${diag()}`);
    }
  }, 180_000);

  it('classic members join a KIP-848 group (a rollback) and share it', async () => {
    const { b, k, admin } = await brokerWithAdmin();
    const topic = 'rollback12';
    const group = 'jrollback';
    await admin.createTopics({ topics: [{ topic, numPartitions: 12 }] });
    const producer = k.producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    await producer.send({ topic, messages: Array.from({ length: 600 }, (_, i) => ({ value: `v${i}` })) });
    const ms = [
      member('java', b, group, topic, 'consumer-uniform'),
      member('java', b, group, topic, 'consumer-uniform'),
    ];
    await until('two KIP-848 members', () => ms.every((m) => m.assigned.length === 6));
    ms.push(member('java', b, group, topic, 'range'), member('java', b, group, topic, 'cooperative-sticky'));
    const diag = () => ms.map((m, i) => `member ${i}: ${m.lines.slice(-5).join(' | ')}`).join('\n');
    try {
      await until(
        'four members (two classic) with 3 partitions each',
        () => ms.every((m) => m.assigned.length === 3) && new Set(ms.flatMap((m) => m.assigned)).size === 12,
        60_000,
      );
      const seen = () => new Set(ms.flatMap((m) => m.deliveries.map(([v]) => v))).size;
      await until('every record consumed', () => seen() === 600);
      expect((await groupCoordinator(b).consumer.describe(group)).members.length).toBe(4);
    } catch (err) {
      throw new Error(`${String(err)}\n${diag()}`);
    }
  }, 120_000);
});
