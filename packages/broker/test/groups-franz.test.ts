/**
 * franz-go group members (github.com/twmb/franz-go v1.22.2, test/groups-clients/franz, built
 * with `go build` into tools/.cache/franz-member) in their own processes against startBroker,
 * with the range and the cooperative-sticky balancers, in the classic protocol and in the
 * KIP-848 "consumer" protocol (ConsumerGroupHeartbeat; the broker's coordinator assigns).
 * The scenario is groups-members.test.ts's: 3 members on a 12-partition topic get 4 partitions
 * each; one leaves cleanly, the other two take its partitions; one is SIGKILLed and the last
 * takes everything after the session timeout. Members commit synchronously after each poll
 * and on revocation, so: every record is consumed; a record is delivered twice only on a
 * partition the killed member owned; records produced once the group settled are delivered
 * exactly once; the committed offsets end at the partitions' ends. Each member prints which
 * protocol it really spoke ("protocol consumer" on its first ConsumerGroupHeartbeat,
 * "protocol classic" on its first JoinGroup): a KIP-848 case fails if a member fell back.
 * Also: static members (classic SIGKILL + restart; franz-go's KIP-848 static leave, which lacks
 * the instance id and is refused as Kafka 4.3 does), partitions added to a KIP-848 group's topic,
 * a KIP-848 regex subscription, KIP-848 members across a broker kill and restart on a data dir,
 * churn (join to 4, leave to 1 while records flow) with every record delivered exactly once, and
 * mixed groups (classic and KIP-848 members in one group, both ways). Behaviours that differ
 * between clients and brokers were checked against Apache Kafka 4.3.1 with the same member.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectSuccess, runProcess } from '../../../test/golden/clients/process.ts';
import { type Broker, startBroker } from '../src/index.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const MODULE = path.join(ROOT, 'packages/broker/test/groups-clients/franz');
const BIN_DIR = path.join(ROOT, 'tools/.cache/franz-member');
const BIN = path.join(BIN_DIR, 'franz-member');

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
});

beforeAll(async () => {
  mkdirSync(BIN_DIR, { recursive: true });
  // The module's go.sum is committed: no -mod=mod, so a missing or stale checksum fails the
  // build instead of rewriting go.sum. Dependencies come from the module cache (filled by
  // scripts/install-tools.sh) or the module proxy.
  const env = { ...process.env, GOFLAGS: '-mod=readonly -buildvcs=false', GOTOOLCHAIN: 'local' };
  let r: Awaited<ReturnType<typeof runProcess>>;
  try {
    r = await runProcess('go', ['-C', MODULE, 'build', '-o', BIN, '.'], { timeoutMs: 240_000, env });
  } catch (err) {
    throw new Error(`go missing (needed for the franz-go member): ${String(err)}`);
  }
  expectSuccess('go build (franz-go member)', r);
}, 300_000);

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
  /** The last "assigned" line's entries as printed ("3", or "topic:3" for a regex subscription). */
  assignedNames: string[];
  /** value → partition of every delivery. */
  deliveries: [string, number][];
  closed: boolean;
  /** Every line but the records (assigned, revoked, lost, protocol, closed, stderr). */
  lines: string[];
}

type Mode = 'classic' | 'consumer';

function member(
  b: Broker,
  group: string,
  topic: string,
  balancer: string,
  mode: Mode,
  instanceId?: string,
): Member {
  const args = [`127.0.0.1:${b.address.port}`, group, topic, balancer, mode];
  if (instanceId) args.push(instanceId);
  const child = spawn(BIN, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  cleanups.push(() => child.kill('SIGKILL'));
  const m: Member = { child, assigned: [], assignedNames: [], deliveries: [], closed: false, lines: [] };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('rec ')) {
      const [, p, , v] = line.split(' ');
      m.deliveries.push([v!, Number(p)]);
      return;
    }
    m.lines.push(line);
    if (line.startsWith('assigned')) {
      m.assignedNames = line.slice(9).split(',').filter(Boolean);
      m.assigned = m.assignedNames.map(Number);
    } else if (line === 'closed') m.closed = true;
  });
  child.stderr!.on('data', (d: Buffer) => m.lines.push(`stderr: ${d.toString().trim()}`));
  return m;
}

const CASES: [Mode, string][] = [
  ['classic', 'range'],
  ['classic', 'cooperative-sticky'],
  ['consumer', 'range'],
  ['consumer', 'cooperative-sticky'],
];

for (const [mode, balancer] of CASES) {
  const name =
    mode === 'classic'
      ? `franz-go classic group, ${balancer} balancer`
      : `franz-go KIP-848 group, ${balancer} balancer`;
  describe(name, () => {
    it('3 members on 12 partitions: join, leave, kill; every record consumed', async () => {
      const b = await startBroker({
        port: 0,
        wal: 'memory://',
        objectStore: 'memory://',
        metadata: 'memory',
        groupInitialRebalanceDelayMs: 500,
        groupMinSessionTimeoutMs: 1000,
        offsetsTopicPartitions: 8,
        // KIP-848: the session timeout and heartbeat interval are the broker's, not the client's.
        groupConsumerSessionTimeoutMs: 6000,
        groupConsumerHeartbeatIntervalMs: 300,
      });
      cleanups.push(() => b.close());
      const k = new Kafka({
        clientId: 'groups-franz',
        brokers: [`127.0.0.1:${b.address.port}`],
        logLevel: logLevel.NOTHING,
      });
      const admin = k.admin();
      await admin.connect();
      cleanups.push(() => admin.disconnect());
      const topic = `franz12-${mode}-${balancer}`;
      const group = `franz-${mode}-${balancer}`;
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
        member(b, group, topic, balancer, mode),
        member(b, group, topic, balancer, mode),
        member(b, group, topic, balancer, mode),
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
      const diag = () => ms.map((m, i) => `member ${i}: ${m.lines.slice(-8).join(' | ')}`).join('\n');
      const t0 = Date.now();
      const phases: string[] = [];
      const phase = (what: string) => phases.push(`${what} ${Date.now() - t0} ms`);
      try {
        await until(
          '3 members with 4 partitions each',
          () => ms.every((m) => m.assigned.length === 4),
          60_000,
        );
        phase('3×4 assigned');
        expect(new Set(ms.flatMap((m) => m.assigned)).size).toBe(12);
        // The protocol each member really spoke.
        const other = mode === 'classic' ? 'protocol consumer' : 'protocol classic';
        for (const m of ms) {
          expect(m.lines).toContain(`protocol ${mode}`);
          expect(m.lines).not.toContain(other);
        }
        await until('records 0–1200 consumed', () => allSeen(0, 1200));

        // Clean leave.
        ms[2]!.child.stdin!.write('stop\n');
        await until('member 2 closed', () => ms[2]!.closed);
        await until(
          'two members with 6 partitions each',
          () => ms[0]!.assigned.length === 6 && ms[1]!.assigned.length === 6,
        );
        phase('2×6 after leave');
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
        const killedAt = Date.now();
        await flowing;
        await until('one member with 12 partitions', () => ms[0]!.assigned.length === 12, 30_000);
        phase(`1×12 ${Date.now() - killedAt} ms after the kill`);
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

        ms[0]!.child.stdin!.write('stop\n');
        await until('member 0 closed', () => ms[0]!.closed);
        const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] });
        const ends = new Map((await admin.fetchTopicOffsets(topic)).map((e) => [e.partition, e.offset]));
        for (const p of committed[0]!.partitions) expect(p.offset).toBe(ends.get(p.partition));
        console.log(
          `franz-go ${mode} ${balancer}: 4800 records, ${dups / 2} delivered twice (killed member's uncommitted poll); ${phases.join(', ')}`,
        );
      } catch (err) {
        throw new Error(`${String(err)}\n${diag()}`);
      }
    }, 180_000);
  });
}

async function groupBroker(): Promise<{ b: Broker; admin: ReturnType<Kafka['admin']> }> {
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
  });
  cleanups.push(() => b.close());
  const k = new Kafka({
    clientId: 'groups-franz',
    brokers: [`127.0.0.1:${b.address.port}`],
    logLevel: logLevel.NOTHING,
  });
  const admin = k.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  return { b, admin };
}

describe('franz-go static membership', () => {
  it('classic: a SIGKILLed static member restarted within its session timeout gets its partitions back without a rebalance', async () => {
    const { b, admin } = await groupBroker();
    await admin.createTopics({ topics: [{ topic: 'fstatic12', numPartitions: 12 }] });
    const a = member(b, 'fstatic', 'fstatic12', 'range', 'classic', 'fa');
    const c = member(b, 'fstatic', 'fstatic12', 'range', 'classic', 'fc');
    const diag = () => [a, c].map((m, i) => `member ${i}: ${m.lines.slice(-8).join(' | ')}`).join('\n');
    try {
      await until(
        'two static members with 6 partitions each',
        () => a.assigned.length === 6 && c.assigned.length === 6,
      );
      const before = a.assigned;
      const cLines = c.lines.length;
      a.child.kill('SIGKILL');
      const a2 = member(b, 'fstatic', 'fstatic12', 'range', 'classic', 'fa');
      await until('the restarted member is assigned', () => a2.assigned.length > 0, 30_000);
      expect(a2.assigned).toEqual(before);
      // Past the session timeout (6 s) of the killed process: still no rebalance.
      await new Promise((r) => setTimeout(r, 7000));
      expect(c.lines.slice(cLines)).toEqual([]);
      expect(a2.lines.filter((l) => /^(assigned|revoked|lost)/.test(l))).toEqual([
        `assigned ${before.join(',')}`,
      ]);
      const d = await admin.describeGroups(['fstatic']);
      expect(d.groups[0]!.state).toBe('Stable');
      expect(d.groups[0]!.members.length).toBe(2);
    } catch (err) {
      throw new Error(`${String(err)}\n${diag()}`);
    }
  }, 90_000);

  // franz-go 1.22.2 sends its static KIP-848 leave (member epoch -2) without the instance id;
  // Kafka 4.3.1 refuses it with INVALID_REQUEST ("InstanceId can't be null"), so the old member
  // keeps the instance id until its session expires and the restart gets UNRELEASED_INSTANCE_ID
  // until then (checked against Apache Kafka 4.3.1 with the same member). Tributary must do the same.
  it('franz-go KIP-848: a static member whose leave lacks its instance id is refused; its restart waits for the session timeout, then the group splits again', async () => {
    const { b, admin } = await groupBroker();
    await admin.createTopics({ topics: [{ topic: 'fstatic848', numPartitions: 12 }] });
    const a = member(b, 'fstatic848', 'fstatic848', 'range', 'consumer', 'fa');
    const c = member(b, 'fstatic848', 'fstatic848', 'range', 'consumer', 'fc');
    const ms = [a, c];
    const diag = () => ms.map((m, i) => `member ${i}: ${m.lines.slice(-8).join(' | ')}`).join('\n');
    try {
      await until(
        'two static members with 6 partitions each',
        () => a.assigned.length === 6 && c.assigned.length === 6,
      );
      for (const m of ms) expect(m.lines).toContain('protocol consumer');
      a.child.stdin!.write('stop\n');
      await until('the static member closed', () => a.closed);
      const stoppedAt = Date.now();
      expect(a.lines.some((l) => l.includes('leave: INVALID_REQUEST') && l.includes('InstanceId'))).toBe(
        true,
      );
      const a2 = member(b, 'fstatic848', 'fstatic848', 'range', 'consumer', 'fa');
      ms.push(a2);
      await until(
        'the restart refused while the old member holds the instance id',
        () => a2.lines.some((l) => l.includes('UNRELEASED_INSTANCE_ID')),
        20_000,
      );
      await until(
        'the restarted member and the other with 6 partitions each',
        () => a2.assigned.length === 6 && c.assigned.length === 6,
        40_000,
      );
      const waited = Date.now() - stoppedAt;
      // The old member's session (6 s from its last heartbeat) had to expire first.
      expect(waited).toBeGreaterThan(4000);
      expect(new Set([...a2.assigned, ...c.assigned]).size).toBe(12);
      console.log(`franz-go KIP-848 static leave refused; restart assigned ${waited} ms after the stop`);
    } catch (err) {
      throw new Error(`${String(err)}\n${diag()}`);
    }
  }, 90_000);
});

describe('franz-go KIP-848 topic changes', () => {
  it('franz-go KIP-848: partitions added to the subscribed topic are assigned by the broker and consumed', async () => {
    const { b, admin } = await groupBroker();
    await admin.createTopics({ topics: [{ topic: 'fgrow', numPartitions: 6 }] });
    const ms = [
      member(b, 'fgrow', 'fgrow', 'range', 'consumer'),
      member(b, 'fgrow', 'fgrow', 'range', 'consumer'),
    ];
    const diag = () => ms.map((m, i) => `member ${i}: ${m.lines.slice(-8).join(' | ')}`).join('\n');
    try {
      await until('two members with 3 partitions each', () => ms.every((m) => m.assigned.length === 3));
      await admin.createPartitions({ topicPartitions: [{ topic: 'fgrow', count: 12 }] });
      const t = Date.now();
      await until(
        'two members with 6 partitions each',
        () => ms.every((m) => m.assigned.length === 6),
        30_000,
      );
      const reassignedMs = Date.now() - t;
      expect(new Set(ms.flatMap((m) => m.assigned)).size).toBe(12);
      const k = new Kafka({
        clientId: 'groups-franz',
        brokers: [`127.0.0.1:${b.address.port}`],
        logLevel: logLevel.NOTHING,
      });
      const producer = k.producer();
      await producer.connect();
      cleanups.push(() => producer.disconnect());
      const messages = [];
      for (let p = 0; p < 12; p++)
        for (let i = 0; i < 10; i++) messages.push({ partition: p, value: `p${p}-${i}` });
      await producer.send({ topic: 'fgrow', messages });
      const seen = () => new Set(ms.flatMap((m) => m.deliveries.map(([v]) => v)));
      await until('120 records consumed', () => seen().size === 120, 30_000);
      // Each record came from the member owning its partition, and from the partition it was sent to.
      for (const m of ms)
        for (const [v, p] of m.deliveries) {
          expect(m.assigned).toContain(p);
          expect(v.startsWith(`p${p}-`)).toBe(true);
        }
      console.log(`franz-go KIP-848: 6 → 12 partitions assigned ${reassignedMs} ms after CreatePartitions`);
    } catch (err) {
      throw new Error(`${String(err)}\n${diag()}`);
    }
  }, 90_000);
});

describe('franz-go KIP-848 regex subscription', () => {
  it('franz-go KIP-848: a regex subscription (resolved by the broker) picks up matching topics created later, not others', async () => {
    const { b, admin } = await groupBroker();
    await admin.createTopics({ topics: [{ topic: 'fre-a', numPartitions: 6 }] });
    const ms = [
      member(b, 'fre', 're:^fre-', 'range', 'consumer'),
      member(b, 'fre', 're:^fre-', 'range', 'consumer'),
    ];
    const diag = () => ms.map((m, i) => `member ${i}: ${m.lines.slice(-8).join(' | ')}`).join('\n');
    const owned = () => ms.flatMap((m) => m.assignedNames);
    try {
      await until('fre-a split 3/3', () => ms.every((m) => m.assignedNames.length === 3));
      for (const m of ms) expect(m.lines).toContain('protocol consumer');
      await admin.createTopics({
        topics: [
          { topic: 'fre-b', numPartitions: 6 },
          { topic: 'other', numPartitions: 6 },
        ],
      });
      await until('fre-a and fre-b split 6/6', () => ms.every((m) => m.assignedNames.length === 6), 30_000);
      const all = owned().sort();
      const want = ['fre-a', 'fre-b'].flatMap((t) => [0, 1, 2, 3, 4, 5].map((p) => `${t}:${p}`)).sort();
      expect(all).toEqual(want);
      const k = new Kafka({
        clientId: 'groups-franz',
        brokers: [`127.0.0.1:${b.address.port}`],
        logLevel: logLevel.NOTHING,
      });
      const producer = k.producer();
      await producer.connect();
      cleanups.push(() => producer.disconnect());
      for (const topic of ['fre-a', 'fre-b', 'other'])
        await producer.send({
          topic,
          messages: Array.from({ length: 60 }, (_, i) => ({ partition: i % 6, value: `${topic}-${i}` })),
        });
      const values = () => ms.flatMap((m) => m.deliveries.map(([v]) => v));
      await until('120 records of fre-a and fre-b consumed', () => new Set(values()).size === 120, 30_000);
      await new Promise((r) => setTimeout(r, 1000));
      expect(values().length).toBe(120);
      expect(values().filter((v) => v.startsWith('other'))).toEqual([]);
    } catch (err) {
      throw new Error(`${String(err)}\n${diag()}`);
    }
  }, 90_000);
});

describe('franz-go KIP-848 across a broker restart', () => {
  it('franz-go KIP-848: members keep their assignment across a broker kill and restart on the same data dir, and their sessions still expire', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'trib-franz-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const o = {
      port: 0,
      dataDir: dir,
      walBytes: 32 << 20,
      groupInitialRebalanceDelayMs: 500,
      offsetsTopicPartitions: 8,
      // Longer than the restart takes (well under a second): the members' sessions survive it.
      groupConsumerSessionTimeoutMs: 6000,
      groupConsumerHeartbeatIntervalMs: 300,
    };
    const b1 = await startBroker(o);
    cleanups.push(() => b1.kill());
    const port = b1.address.port;
    const client = () =>
      new Kafka({ clientId: 'groups-franz', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
    const produce = async (from: number, count: number) => {
      const producer = client().producer();
      await producer.connect();
      const messages = [];
      for (let i = from; i < from + count; i++) messages.push({ key: `k${i}`, value: `v${i}` });
      await producer.send({ topic: 'fdur', messages });
      await producer.disconnect();
    };
    const admin1 = client().admin();
    await admin1.connect();
    await admin1.createTopics({ topics: [{ topic: 'fdur', numPartitions: 6 }] });
    await admin1.disconnect();
    await produce(0, 600);
    const ms = [
      member(b1, 'fdur', 'fdur', 'range', 'consumer'),
      member(b1, 'fdur', 'fdur', 'range', 'consumer'),
    ];
    const diag = () => ms.map((m, i) => `member ${i}: ${m.lines.slice(-10).join(' | ')}`).join('\n');
    const seen = () => new Set(ms.flatMap((m) => m.deliveries.map(([v]) => v)));
    try {
      await until('two members with 3 partitions each', () => ms.every((m) => m.assigned.length === 3));
      await until('600 consumed', () => seen().size === 600);
      // Settled: the last poll's commit is acknowledged.
      await new Promise((r) => setTimeout(r, 1000));
      const before = ms.map((m) => m.assigned);
      const lines = ms.map((m) => m.lines.length);
      const delivered = ms.map((m) => m.deliveries.length);
      await b1.kill();
      const b2 = await startBroker({ ...o, port });
      cleanups.push(() => b2.kill());
      await produce(600, 600);
      await until('1200 consumed', () => seen().size === 1200, 40_000);
      await new Promise((r) => setTimeout(r, 1000));
      // Same partitions, no revocation or loss: the group was replayed from __consumer_offsets.
      expect(ms.map((m) => m.assigned)).toEqual(before);
      for (const [i, m] of ms.entries())
        expect(m.lines.slice(lines[i]).filter((l) => /^(assigned|revoked|lost)/.test(l))).toEqual([]);
      // Nothing from before the restart is delivered again; the new records exactly once.
      const after = ms.flatMap((m, i) => m.deliveries.slice(delivered[i]).map(([v]) => v));
      expect(after.filter((v) => Number(v.slice(1)) < 600)).toEqual([]);
      expect(after.length).toBe(600);
      // A member that dies while the broker is down never heartbeats to the restarted broker:
      // its replayed session must still expire, and the other member take its partitions.
      await b2.kill();
      const killedAt = Date.now();
      ms[1]!.child.kill('SIGKILL');
      const b3 = await startBroker({ ...o, port });
      cleanups.push(() => b3.close());
      await until('one member with 6 partitions', () => ms[0]!.assigned.length === 6, 30_000);
      console.log(
        `franz-go KIP-848 across a restart: 1200 records once, no rebalance; the killed member's partitions moved ${Date.now() - killedAt} ms after the kill`,
      );
    } catch (err) {
      throw new Error(`${String(err)}\n${diag()}`);
    }
  }, 120_000);
});

const CHURN_CASES: [Mode, string][] = [
  ['classic', 'range'],
  ['classic', 'cooperative-sticky'],
  ['consumer', 'range'],
  ['consumer', 'cooperative-sticky'],
];

for (const [mode, balancer] of CHURN_CASES) {
  const name = mode === 'classic' ? 'franz-go classic churn' : 'franz-go KIP-848 churn';
  describe(`${name}, ${balancer}`, () => {
    it('members join and leave one by one while records flow: every record delivered exactly once', async () => {
      const { b, admin } = await groupBroker();
      const topic = `fchurn-${mode}-${balancer}`;
      const group = topic;
      await admin.createTopics({ topics: [{ topic, numPartitions: 12 }] });
      const k = new Kafka({
        clientId: 'groups-franz',
        brokers: [`127.0.0.1:${b.address.port}`],
        logLevel: logLevel.NOTHING,
      });
      const producer = k.producer();
      await producer.connect();
      cleanups.push(() => producer.disconnect());
      let produced = 0;
      let producing = true;
      const flowing = (async () => {
        while (producing) {
          const messages = [];
          for (let j = produced; j < produced + 50; j++) messages.push({ key: `k${j}`, value: `v${j}` });
          await producer.send({ topic, messages });
          produced += 50;
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const ms: Member[] = [];
      const diag = () => ms.map((m, i) => `member ${i}: ${m.lines.slice(-8).join(' | ')}`).join('\n');
      const live = () => ms.filter((m) => !m.closed);
      const balanced = () => {
        const l = live();
        const owned = l.flatMap((m) => m.assigned);
        return (
          owned.length === 12 &&
          new Set(owned).size === 12 &&
          l.every((m) => m.assigned.length >= Math.floor(12 / l.length))
        );
      };
      try {
        for (let n = 0; n < 4; n++) {
          ms.push(member(b, group, topic, balancer, mode));
          await until(`${n + 1} members balanced`, balanced, 30_000);
          await new Promise((r) => setTimeout(r, 1000));
        }
        for (let n = 0; n < 3; n++) {
          const m = ms[n]!;
          m.child.stdin!.write('stop\n');
          await until(`member ${n} closed`, () => m.closed);
          await until(`${3 - n} members balanced`, balanced, 30_000);
          await new Promise((r) => setTimeout(r, 1000));
        }
        producing = false;
        await flowing;
        const count = () => {
          const c = new Map<string, number>();
          for (const m of ms) for (const [v] of m.deliveries) c.set(v, (c.get(v) ?? 0) + 1);
          return c;
        };
        await until(`all ${produced} records consumed`, () => count().size === produced, 30_000);
        await new Promise((r) => setTimeout(r, 500));
        const twice = [...count()].filter(([, n]) => n > 1);
        expect(twice.length, `delivered more than once: ${twice.slice(0, 10).join(' ')}`).toBe(0);
        const last = ms[3]!;
        last.child.stdin!.write('stop\n');
        await until('the last member closed', () => last.closed);
        const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] });
        const ends = new Map((await admin.fetchTopicOffsets(topic)).map((e) => [e.partition, e.offset]));
        for (const p of committed[0]!.partitions) expect(p.offset).toBe(ends.get(p.partition));
        console.log(`${name} ${balancer}: ${produced} records through 7 rebalances, each delivered once`);
      } catch (err) {
        throw new Error(`${String(err)}\n${diag()}`);
      } finally {
        producing = false;
        await flowing.catch(() => {});
      }
    }, 120_000);
  });
}

// KIP-848 online migration (Kafka 4.x, group.consumer.migration.policy BIDIRECTIONAL by default):
// classic members in a consumer group, and a consumer-protocol member upgrading a classic group.
// Checked against Apache Kafka 4.3.1 with the same member.
describe('franz-go KIP-848 mixed groups', () => {
  for (const first of ['consumer', 'classic'] as Mode[]) {
    const second: Mode = first === 'consumer' ? 'classic' : 'consumer';
    it(`franz-go KIP-848 mixed: a ${second} member joins a group of two ${first} members; the three split the partitions, every record once`, async () => {
      const { b, admin } = await groupBroker();
      const topic = `fmixed-${first}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: 12 }] });
      const k = new Kafka({
        clientId: 'groups-franz',
        brokers: [`127.0.0.1:${b.address.port}`],
        logLevel: logLevel.NOTHING,
      });
      const producer = k.producer();
      await producer.connect();
      cleanups.push(() => producer.disconnect());
      const produce = async (from: number, count: number) => {
        const messages = [];
        for (let i = from; i < from + count; i++) messages.push({ key: `k${i}`, value: `v${i}` });
        await producer.send({ topic, messages });
      };
      await produce(0, 600);
      const ms = [member(b, topic, topic, 'range', first), member(b, topic, topic, 'range', first)];
      const diag = () => ms.map((m, i) => `member ${i}: ${m.lines.slice(-8).join(' | ')}`).join('\n');
      const count = () => {
        const c = new Map<string, number>();
        for (const m of ms) for (const [v] of m.deliveries) c.set(v, (c.get(v) ?? 0) + 1);
        return c;
      };
      try {
        await until(`two ${first} members with 6 partitions each`, () =>
          ms.every((m) => m.assigned.length === 6),
        );
        await until('600 consumed', () => count().size === 600);
        ms.push(member(b, topic, topic, 'range', second));
        await until(
          'three members with 4 partitions each',
          () => ms.every((m) => m.assigned.length === 4),
          30_000,
        );
        expect(new Set(ms.flatMap((m) => m.assigned)).size).toBe(12);
        expect(ms[2]!.lines).toContain(`protocol ${second}`);
        await produce(600, 600);
        await until('1200 consumed', () => count().size === 1200, 30_000);
        // The newcomer leaves cleanly: the first two take its partitions back.
        ms[2]!.child.stdin!.write('stop\n');
        await until('the newcomer closed', () => ms[2]!.closed);
        await until(
          'two members with 6 partitions each again',
          () => ms[0]!.assigned.length === 6 && ms[1]!.assigned.length === 6,
          30_000,
        );
        await produce(1200, 600);
        await until('1800 consumed', () => count().size === 1800, 30_000);
        await new Promise((r) => setTimeout(r, 500));
        const twice = [...count()].filter(([, n]) => n > 1);
        expect(twice.length, `delivered more than once: ${twice.slice(0, 10).join(' ')}`).toBe(0);
      } catch (err) {
        throw new Error(`${String(err)}\n${diag()}`);
      }
    }, 90_000);
  }
});
