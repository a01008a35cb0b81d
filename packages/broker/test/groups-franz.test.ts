/**
 * franz-go group members (github.com/twmb/franz-go v1.22.2, test/groups-clients/franz, built
 * with `go build` into tools/.cache/franz-member) in their own processes against startBroker,
 * with the range and the cooperative-sticky balancers, in the classic protocol and in the
 * KIP-848 "consumer" protocol (ConsumerGroupHeartbeat; the broker's coordinator assigns).
 * The scenario is shared with groups-members.test.ts (groups-clients/scenario.ts): 3 members
 * on a 12-partition topic get 4 partitions each; one leaves cleanly, the other two take its
 * partitions; one is SIGKILLed and the last takes everything after the session timeout.
 * Members commit synchronously after each poll and on revocation, so: every record is consumed;
 * a record is delivered twice only on a partition the killed member owned; records produced
 * once the group settled are delivered exactly once; the committed offsets end at the
 * partitions' ends. Each member prints which protocol it really spoke ("protocol consumer" on
 * its first ConsumerGroupHeartbeat, "protocol classic" on its first JoinGroup): a KIP-848 case
 * fails if a member fell back.
 * Also: static members (classic SIGKILL + restart; franz-go's KIP-848 static leave, which lacks
 * the instance id and is refused as Kafka 4.3 does), partitions added to a KIP-848 group's topic,
 * a KIP-848 regex subscription, KIP-848 members across a broker kill and restart on a data dir,
 * churn (join to 4, leave to 1 while records flow) with every record delivered exactly once, and
 * mixed groups (classic and KIP-848 members in one group, both ways). Behaviours that differ
 * between clients and brokers were checked against Apache Kafka 4.3.1 with the same member.
 */
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectSuccess, runProcess } from '../../../test/golden/clients/process.ts';
import { type Broker, startBroker } from '../src/index.ts';
import {
  connectedProducer,
  deliveryCounts,
  expectCommittedAtEnds,
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

const MODULE = path.join(ROOT, 'packages/broker/test/groups-clients/franz');
const BIN_DIR = path.join(ROOT, 'tools/.cache/franz-member');
const BIN = path.join(BIN_DIR, 'franz-member');

const cleanups = useCleanups();

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
  return spawnMember(cleanups, BIN, args);
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
      await joinLeaveKill({
        cleanups,
        clientId: 'groups-franz',
        topic: `franz12-${mode}-${balancer}`,
        group: `franz-${mode}-${balancer}`,
        start: (b, group, topic) => member(b, group, topic, balancer, mode),
        checkAssigned: (_b, ms) => {
          // The protocol each member really spoke.
          const other = mode === 'classic' ? 'protocol consumer' : 'protocol classic';
          for (const m of ms) {
            expect(m.lines).toContain(`protocol ${mode}`);
            expect(m.lines).not.toContain(other);
          }
        },
        diagLines: 8,
        label: `franz-go ${mode} ${balancer}`,
      });
    }, 180_000);
  });
}

const groupBroker = () => startGroupBroker(cleanups, 'groups-franz');

describe('franz-go static membership', () => {
  it('classic: a SIGKILLed static member restarted within its session timeout gets its partitions back without a rebalance', async () => {
    const { b, admin } = await groupBroker();
    await admin.createTopics({ topics: [{ topic: 'fstatic12', numPartitions: 12 }] });
    const a = member(b, 'fstatic', 'fstatic12', 'range', 'classic', 'fa');
    const c = member(b, 'fstatic', 'fstatic12', 'range', 'classic', 'fc');
    await withDiagnostics([a, c], 8, async () => {
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
      await sleep(7000);
      expect(c.lines.slice(cLines)).toEqual([]);
      expect(a2.lines.filter((l) => /^(assigned|revoked|lost)/.test(l))).toEqual([
        `assigned ${before.join(',')}`,
      ]);
      const d = await admin.describeGroups(['fstatic']);
      expect(d.groups[0]!.state).toBe('Stable');
      expect(d.groups[0]!.members.length).toBe(2);
    });
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
    await withDiagnostics(ms, 8, async () => {
      await until(
        'two static members with 6 partitions each',
        () => a.assigned.length === 6 && c.assigned.length === 6,
      );
      for (const m of ms) expect(m.lines).toContain('protocol consumer');
      await stopMember(a, 'the static member closed');
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
    });
  }, 90_000);
});

describe('franz-go KIP-848 topic changes', () => {
  it('franz-go KIP-848: partitions added to the subscribed topic are assigned by the broker and consumed', async () => {
    const { b, k, admin } = await groupBroker();
    await admin.createTopics({ topics: [{ topic: 'fgrow', numPartitions: 6 }] });
    const ms = [
      member(b, 'fgrow', 'fgrow', 'range', 'consumer'),
      member(b, 'fgrow', 'fgrow', 'range', 'consumer'),
    ];
    await withDiagnostics(ms, 8, async () => {
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
      const producer = await connectedProducer(cleanups, k);
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
    });
  }, 90_000);
});

describe('franz-go KIP-848 regex subscription', () => {
  it('franz-go KIP-848: a regex subscription (resolved by the broker) picks up matching topics created later, not others', async () => {
    const { b, k, admin } = await groupBroker();
    await admin.createTopics({ topics: [{ topic: 'fre-a', numPartitions: 6 }] });
    const ms = [
      member(b, 'fre', 're:^fre-', 'range', 'consumer'),
      member(b, 'fre', 're:^fre-', 'range', 'consumer'),
    ];
    const owned = () => ms.flatMap((m) => m.assignedNames);
    await withDiagnostics(ms, 8, async () => {
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
      const producer = await connectedProducer(cleanups, k);
      for (const topic of ['fre-a', 'fre-b', 'other'])
        await producer.send({
          topic,
          messages: Array.from({ length: 60 }, (_, i) => ({ partition: i % 6, value: `${topic}-${i}` })),
        });
      const values = () => ms.flatMap((m) => m.deliveries.map(([v]) => v));
      await until('120 records of fre-a and fre-b consumed', () => new Set(values()).size === 120, 30_000);
      await sleep(1000);
      expect(values().length).toBe(120);
      expect(values().filter((v) => v.startsWith('other'))).toEqual([]);
    });
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
    const seen = () => new Set(ms.flatMap((m) => m.deliveries.map(([v]) => v)));
    await withDiagnostics(ms, 10, async () => {
      await until('two members with 3 partitions each', () => ms.every((m) => m.assigned.length === 3));
      await until('600 consumed', () => seen().size === 600);
      // Settled: the last poll's commit is acknowledged.
      await sleep(1000);
      const before = ms.map((m) => m.assigned);
      const lines = ms.map((m) => m.lines.length);
      const delivered = ms.map((m) => m.deliveries.length);
      await b1.kill();
      const b2 = await startBroker({ ...o, port });
      cleanups.push(() => b2.kill());
      await produce(600, 600);
      await until('1200 consumed', () => seen().size === 1200, 40_000);
      await sleep(1000);
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
    });
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
      const { b, k, admin } = await groupBroker();
      const topic = `fchurn-${mode}-${balancer}`;
      const group = topic;
      await admin.createTopics({ topics: [{ topic, numPartitions: 12 }] });
      const producer = await connectedProducer(cleanups, k);
      let produced = 0;
      let producing = true;
      const flowing = (async () => {
        while (producing) {
          const messages = [];
          for (let j = produced; j < produced + 50; j++) messages.push({ key: `k${j}`, value: `v${j}` });
          await producer.send({ topic, messages });
          produced += 50;
          await sleep(50);
        }
      })();
      const ms: Member[] = [];
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
        await withDiagnostics(ms, 8, async () => {
          for (let n = 0; n < 4; n++) {
            ms.push(member(b, group, topic, balancer, mode));
            await until(`${n + 1} members balanced`, balanced, 30_000);
            await sleep(1000);
          }
          for (let n = 0; n < 3; n++) {
            const m = ms[n]!;
            await stopMember(m, `member ${n} closed`);
            await until(`${3 - n} members balanced`, balanced, 30_000);
            await sleep(1000);
          }
          producing = false;
          await flowing;
          const count = () => deliveryCounts(ms);
          await until(`all ${produced} records consumed`, () => count().size === produced, 30_000);
          await sleep(500);
          const twice = [...count()].filter(([, n]) => n > 1);
          expect(twice.length, `delivered more than once: ${twice.slice(0, 10).join(' ')}`).toBe(0);
          const last = ms[3]!;
          await stopMember(last, 'the last member closed');
          await expectCommittedAtEnds(admin, group, topic);
          console.log(`${name} ${balancer}: ${produced} records through 7 rebalances, each delivered once`);
        });
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
      const { b, k, admin } = await groupBroker();
      const topic = `fmixed-${first}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: 12 }] });
      const producer = await connectedProducer(cleanups, k);
      const produce = async (from: number, count: number) => {
        const messages = [];
        for (let i = from; i < from + count; i++) messages.push({ key: `k${i}`, value: `v${i}` });
        await producer.send({ topic, messages });
      };
      await produce(0, 600);
      const ms = [member(b, topic, topic, 'range', first), member(b, topic, topic, 'range', first)];
      const count = () => deliveryCounts(ms);
      await withDiagnostics(ms, 8, async () => {
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
        await stopMember(ms[2]!, 'the newcomer closed');
        await until(
          'two members with 6 partitions each again',
          () => ms[0]!.assigned.length === 6 && ms[1]!.assigned.length === 6,
          30_000,
        );
        await produce(1200, 600);
        await until('1800 consumed', () => count().size === 1800, 30_000);
        await sleep(500);
        const twice = [...count()].filter(([, n]) => n > 1);
        expect(twice.length, `delivered more than once: ${twice.slice(0, 10).join(' ')}`).toBe(0);
      });
    }, 90_000);
  }
});
