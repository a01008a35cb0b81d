/**
 * kafkajs 2.2.4 consumer groups against startBroker (in-process, 127.0.0.1):
 * - 3 members on a 12-partition topic (two in this process, one in a child process): each
 *   gets 4 partitions; the child is SIGKILLed and its partitions move to the others after its
 *   session timeout; one member leaves (LeaveGroup) and the last one takes every partition.
 *   Check: every record produced is consumed at least once; records produced after the group
 *   settled on its last member are consumed exactly once (duplicates are only allowed for
 *   records in flight at a rebalance or uncommitted by the killed member: kafkajs commits
 *   after each batch, at-least-once).
 * - Offsets survive a broker kill() and a restart on the same data dir; a new consumer of the
 *   group resumes after the committed offsets.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Consumer, Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { type Broker, type BrokerOptions, startBroker } from '../src/index.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
});

const GROUP_OPTIONS: BrokerOptions = {
  groupInitialRebalanceDelayMs: 200,
  groupMinSessionTimeoutMs: 1000,
  offsetsTopicPartitions: 8,
};

async function broker(o: BrokerOptions = {}): Promise<Broker> {
  const b = await startBroker({
    port: 0,
    wal: 'memory://',
    objectStore: 'memory://',
    metadata: 'memory',
    ...GROUP_OPTIONS,
    ...o,
  });
  cleanups.push(() => b.close());
  return b;
}

function kafka(b: Broker, clientId = 'groups-kafkajs'): Kafka {
  return new Kafka({
    clientId,
    brokers: [`127.0.0.1:${b.address.port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

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

async function produce(k: Kafka, topic: string, from: number, count: number): Promise<void> {
  const p = k.producer();
  await p.connect();
  try {
    for (let i = from; i < from + count; i += 100) {
      const messages = [];
      for (let j = i; j < Math.min(i + 100, from + count); j++)
        messages.push({ key: `k${j}`, value: `v${j}` });
      await p.send({ topic, messages });
    }
  } finally {
    await p.disconnect();
  }
}

interface Tracker {
  seen: Map<string, number>;
  assigned: number[];
}

function tracker(): Tracker {
  return { seen: new Map(), assigned: [] };
}

async function member(
  k: Kafka,
  groupId: string,
  topic: string,
  t: Tracker,
  sessionTimeout = 6000,
): Promise<Consumer> {
  const c = k.consumer({
    groupId,
    sessionTimeout,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 300,
    maxWaitTimeInMs: 200,
  });
  c.on(c.events.GROUP_JOIN, (e) => {
    t.assigned = (e.payload.memberAssignment[topic] ?? []).slice().sort((a, b) => a - b);
  });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await c.run({
    eachMessage: async ({ message }) => {
      const v = message.value!.toString();
      t.seen.set(v, (t.seen.get(v) ?? 0) + 1);
    },
  });
  cleanups.push(() => c.disconnect());
  return c;
}

/** A member in a child process (can be SIGKILLed); its records arrive on stdout. */
function childMember(
  b: Broker,
  groupId: string,
  topic: string,
  t: Tracker,
  sessionTimeout: number,
): ChildProcess {
  const script = fileURLToPath(new URL('./groups-clients/kafkajs-member.mjs', import.meta.url));
  const child = spawn(
    process.execPath,
    [script, `127.0.0.1:${b.address.port}`, groupId, topic, String(sessionTimeout)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  cleanups.push(() => child.kill('SIGKILL'));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const m = JSON.parse(line) as { event?: string; assignment?: Record<string, number[]>; v?: string };
    if (m.event === 'join') t.assigned = (m.assignment?.[topic] ?? []).slice().sort((a, b) => a - b);
    else if (m.v !== undefined) t.seen.set(m.v, (t.seen.get(m.v) ?? 0) + 1);
  });
  return child;
}

function allSeen(ts: Tracker[], from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!ts.some((t) => t.seen.has(`v${i}`))) return false;
  return true;
}

describe('kafkajs consumer groups', () => {
  it('3 members on 12 partitions: join, kill, leave; every record consumed', async () => {
    const b = await broker();
    const k = kafka(b);
    const admin = k.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const topic = 'g12';
    await admin.createTopics({ topics: [{ topic, numPartitions: 12 }] });
    await produce(k, topic, 0, 1200);

    const [t1, t2, t3] = [tracker(), tracker(), tracker()];
    const c1 = await member(k, 'kjs', topic, t1);
    await until('the first member owns all 12 partitions', () => t1.assigned.length === 12);
    const child = childMember(b, 'kjs', topic, t3, 3000);
    const c2 = await member(k, 'kjs', topic, t2);
    await until(
      'three members with 4 partitions each',
      () => t1.assigned.length === 4 && t2.assigned.length === 4 && t3.assigned.length === 4,
    );
    expect(new Set([...t1.assigned, ...t2.assigned, ...t3.assigned]).size).toBe(12);
    const d = await admin.describeGroups(['kjs']);
    expect(d.groups[0]!.state).toBe('Stable');
    expect(d.groups[0]!.members.length).toBe(3);
    await produce(k, topic, 1200, 1200);
    await until('records 0–2400 consumed', () => allSeen([t1, t2, t3], 0, 2400));

    // SIGKILL: no LeaveGroup; its partitions move after its 3 s session timeout.
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await until(
      'two members own the 12 partitions',
      () => t1.assigned.length + t2.assigned.length === 12 && t1.assigned.length === 6,
    );
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(2500);
    await produce(k, topic, 2400, 1200);
    await until(
      'records 0–3600 consumed',
      () => allSeen([t1, t2], 2400, 3600) && allSeen([t1, t2, t3], 0, 3600),
    );

    // A clean leave: the last member takes everything.
    await c2.disconnect();
    await until('one member owns the 12 partitions', () => t1.assigned.length === 12);
    const d2 = await admin.describeGroups(['kjs']);
    expect(d2.groups[0]!.members.length).toBe(1);
    // Settled: what is produced now is consumed exactly once.
    const before = new Map(t1.seen);
    await produce(k, topic, 3600, 1200);
    await until('records 3600–4800 consumed', () => allSeen([t1], 3600, 4800));
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 3600; i < 4800; i++) expect(t1.seen.get(`v${i}`)).toBe(1);
    expect(
      [...t1.seen.keys()].filter((v) => before.get(v) !== t1.seen.get(v) && Number(v.slice(1)) < 3600),
    ).toEqual([]);
    let dups = 0;
    for (let i = 0; i < 4800; i++)
      dups += [t1, t2, t3].reduce((n, t) => n + (t.seen.get(`v${i}`) ?? 0), 0) - 1;
    console.log(`kafkajs group: 4800 records, ${dups} delivered twice (rebalances, killed member)`);

    // Committed offsets reach the end of every partition.
    await c1.stop();
    const committed = await admin.fetchOffsets({ groupId: 'kjs', topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    const end = new Map(ends.map((e) => [e.partition, e.offset]));
    for (const p of committed[0]!.partitions) expect(p.offset).toBe(end.get(p.partition));
    await c1.disconnect();
    await until(
      'the group is empty',
      async () => (await admin.describeGroups(['kjs'])).groups[0]!.state === 'Empty',
    );
    const listed = await admin.listGroups();
    expect(listed.groups).toContainEqual({ groupId: 'kjs', protocolType: 'consumer' });
    await admin.deleteGroups(['kjs']);
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).not.toContain('kjs');
  }, 120_000);

  it('offsets survive a broker kill and restart on the same data dir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trib-groups-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const o: BrokerOptions = { port: 0, dataDir: dir, walBytes: 32 << 20, ...GROUP_OPTIONS };
    const b1 = await startBroker(o);
    cleanups.push(() => b1.kill());
    const k1 = kafka(b1);
    const admin1 = k1.admin();
    await admin1.connect();
    await admin1.createTopics({ topics: [{ topic: 'durable', numPartitions: 4 }] });
    await produce(k1, 'durable', 0, 400);
    const t1 = tracker();
    const c1 = await member(k1, 'dg', 'durable', t1, 6000);
    await until('400 consumed', () => allSeen([t1], 0, 400));
    await c1.stop();
    const before = await admin1.fetchOffsets({ groupId: 'dg', topics: ['durable'] });
    expect(before[0]!.partitions.reduce((n, p) => n + Number(p.offset), 0)).toBe(400);
    await c1.disconnect();
    await admin1.disconnect();
    await b1.kill();

    const b2 = await startBroker(o);
    cleanups.push(() => b2.close());
    const k2 = kafka(b2);
    const admin2 = k2.admin();
    await admin2.connect();
    cleanups.push(() => admin2.disconnect());
    const after = await admin2.fetchOffsets({ groupId: 'dg', topics: ['durable'] });
    expect(after).toEqual(before);
    expect((await admin2.listGroups()).groups).toContainEqual({ groupId: 'dg', protocolType: 'consumer' });
    await produce(k2, 'durable', 400, 100);
    const t2 = tracker();
    await member(k2, 'dg', 'durable', t2, 6000);
    await until('the 100 new records consumed', () => allSeen([t2], 400, 500));
    await new Promise((r) => setTimeout(r, 500));
    expect([...t2.seen.keys()].filter((v) => Number(v.slice(1)) < 400)).toEqual([]);
  }, 90_000);
});
