/**
 * Log compaction of `__consumer_offsets` on a real broker (file WAL and object store, restarted
 * on the same data dir): repeated commits to the same partitions stop growing the log, a
 * compaction racing a stream of commits loses none of them, and classic and KIP-848 groups
 * replay to the same state after a compaction. Producing to or deleting records of the topic
 * is refused (only the coordinator writes it).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { groupCoordinator } from '../src/groups/index.ts';
import { OFFSETS_TOPIC, type TopicGroupLog } from '../src/groups/log.ts';
import { type Broker, type BrokerOptions, startBroker } from '../src/index.ts';
import { RawClient } from './raw-client.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'trib-gcompact-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function open(dir: string, o: Partial<BrokerOptions> = {}): Promise<Broker> {
  const b = await startBroker({
    port: 0,
    dataDir: dir,
    walBytes: 32 << 20,
    offsetsTopicPartitions: 2,
    offsetsCompactMinBytes: 64 << 10,
    ...o,
  });
  cleanups.push(() => b.close());
  if (!b.topics.get('t')) await b.topics.create('t', 8, {});
  return b;
}

function commit(
  b: Broker,
  group: string,
  partition: number,
  offset: number,
  member: { generationId: number; memberId: string; groupInstanceId: string | null } = {
    generationId: -1,
    memberId: '',
    groupInstanceId: null,
  },
): Promise<number> {
  return groupCoordinator(b).commit({
    groupId: group,
    ...member,
    retentionTimeMs: -1,
    offsets: [{ topic: 't', partition, offset: BigInt(offset), leaderEpoch: -1, metadata: 'm'.repeat(100) }],
  });
}

async function offsets(b: Broker, group: string): Promise<Map<number, bigint>> {
  const got = await groupCoordinator(b).fetchOffsets(group, null);
  return new Map(got.flatMap((t) => t.partitions.map((p) => [p.partition, p.offset] as [number, bigint])));
}

function logSize(b: Broker, partition: number): Promise<{ start: number; end: number }> {
  return b
    .partition(OFFSETS_TOPIC, partition)
    .then((p) => ({ start: p!.logStartOffset, end: p!.highWatermark }));
}

describe('__consumer_offsets compaction', () => {
  it('keeps the log near its live size under repeated commits; offsets survive a restart', async () => {
    const dir = await dataDir();
    const b = await open(dir);
    const c = groupCoordinator(b);
    const groups = ['ga', 'gb', 'gc', 'gd'];
    for (let round = 0; round < 300; round++)
      await Promise.all(groups.flatMap((g) => [0, 1, 2, 3].map((p) => commit(b, g, p, round * 10 + p))));
    // 4800 commit records of ~150 bytes went in; compaction ran on its own (64 KiB threshold).
    await new Promise((r) => setTimeout(r, 200));
    let live = 0;
    for (let p = 0; p < 2; p++) {
      const { start, end } = await logSize(b, p);
      expect(start).toBeGreaterThan(0);
      live += end - start;
    }
    expect(live).toBeLessThan(1500);
    for (const g of groups)
      expect([...(await offsets(b, g))].sort((x, y) => x[0] - y[0])).toEqual([
        [0, 2990n],
        [1, 2991n],
        [2, 2992n],
        [3, 2993n],
      ]);
    // An explicit compaction leaves exactly one record per live key.
    for (let p = 0; p < 2; p++) await c.compactPartition(p);
    let records = 0;
    for (let p = 0; p < 2; p++) {
      const { start, end } = await logSize(b, p);
      records += end - start;
    }
    expect(records).toBe(16);
    await b.close();
    const b2 = await open(dir);
    for (const g of groups) expect((await offsets(b2, g)).get(3)).toBe(2993n);
  });

  it('loses no commit acknowledged while a compaction runs', async () => {
    const dir = await dataDir();
    const b = await open(dir, { offsetsCompactMinBytes: 1 << 30 });
    const c = groupCoordinator(b);
    const partition = groupCoordinator(b).log.partitionFor('race');
    for (let i = 0; i < 200; i++) await commit(b, 'race', i % 8, i);
    const acked = new Map<number, number>();
    let stop = false;
    const writers = [0, 1, 2, 3, 4, 5, 6, 7].map(async (p) => {
      for (let i = 1000; !stop; i++) {
        if ((await commit(b, 'race', p, i)) === 0) acked.set(p, i);
      }
    });
    for (let k = 0; k < 5; k++) {
      await new Promise((r) => setTimeout(r, 20));
      // The last round: the writers stop as it starts, so their last commits land while it
      // copies (a copy that kept those keys would end up after them and win on replay).
      if (k === 4) stop = true;
      const done = await c.compactPartition(partition);
      expect(done!.before).toBeGreaterThan(0);
    }
    await Promise.all(writers);
    const now = await offsets(b, 'race');
    for (const [p, v] of acked) expect(now.get(p)).toBe(BigInt(v));
    await b.close();
    const b2 = await open(dir, { offsetsCompactMinBytes: 1 << 30 });
    const after = await offsets(b2, 'race');
    for (const [p, v] of acked) expect(after.get(p)).toBe(BigInt(v));
  });

  it('leaves out of the copy a key committed while the copy is being made', async () => {
    const dir = await dataDir();
    const b = await open(dir, { offsetsCompactMinBytes: 1 << 30 });
    const c = groupCoordinator(b);
    for (let i = 0; i < 100; i++) await commit(b, 'inject', i % 4, i);
    // A commit lands in the middle of the compaction's read of the log (after its cut).
    const log = c.log as TopicGroupLog;
    const replay = log.replay.bind(log);
    let injected: Promise<number> | undefined;
    log.replay = async function* (p: number, end?: number) {
      for await (const r of replay(p, end)) {
        if (end !== undefined) injected ??= commit(b, 'inject', 0, 99_999);
        yield r;
      }
    };
    const done = await c.compactPartition(c.log.partitionFor('inject'));
    expect(done!.before).toBeGreaterThan(0);
    expect(await injected).toBe(0);
    await b.close();
    const b2 = await open(dir, { offsetsCompactMinBytes: 1 << 30 });
    const after = await offsets(b2, 'inject');
    expect(after.get(0)).toBe(99_999n);
    expect(after.get(3)).toBe(99n);
  });

  it('replays classic and KIP-848 groups after a compaction', async () => {
    const dir = await dataDir();
    const b = await open(dir, { groupInitialRebalanceDelayMs: 0 });
    const cl = await RawClient.connect(b.address.port);
    cleanups.push(() => cl.close());
    const topicId = b.topics.get('t')!.id;
    const hb = (memberId: string, memberEpoch: number, owned: number[] | null) =>
      cl.request(ApiKey.ConsumerGroupHeartbeat, 1, {
        groupId: 'kip',
        memberId,
        memberEpoch,
        instanceId: null,
        rackId: null,
        rebalanceTimeoutMs: memberEpoch === 0 ? 5000 : -1,
        subscribedTopicNames: memberEpoch === 0 ? ['t'] : null,
        subscribedTopicRegex: null,
        serverAssignor: null,
        topicPartitions: owned === null ? null : [{ topicId, partitions: owned }],
      });
    const r = await hb('m1', 0, []);
    expect(r.errorCode).toBe(0);
    // a classic group with a member (static, so it survives the restart without heartbeats)
    const j = await cl.request(ApiKey.JoinGroup, 9, {
      groupId: 'classic',
      sessionTimeoutMs: 30_000,
      rebalanceTimeoutMs: 30_000,
      memberId: '',
      groupInstanceId: 'inst',
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) }],
      reason: null,
    });
    expect(j.errorCode).toBe(0);
    const sync = await cl.request(ApiKey.SyncGroup, 5, {
      groupId: 'classic',
      generationId: j.generationId,
      memberId: j.memberId,
      groupInstanceId: 'inst',
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [{ memberId: j.memberId, assignment: Buffer.from('abc') }],
    });
    expect(sync.errorCode).toBe(0);
    const as = { generationId: j.generationId, memberId: j.memberId, groupInstanceId: 'inst' };
    for (let i = 0; i < 50; i++) expect(await commit(b, 'classic', 0, i, as)).toBe(0);
    for (let p = 0; p < 2; p++) await groupCoordinator(b).compactPartition(p);
    cl.close();
    await b.close();
    const b2 = await open(dir, { groupInitialRebalanceDelayMs: 0 });
    const c2 = await RawClient.connect(b2.address.port);
    cleanups.push(() => c2.close());
    const d = await groupCoordinator(b2).consumer.describe('kip');
    expect(d).toMatchObject({ errorCode: 0, groupEpoch: 1, assignmentEpoch: 1 });
    expect(d.members.map((m) => [m.memberId, m.memberEpoch, m.assignment[0]!.partitions.length])).toEqual([
      ['m1', 1, 8],
    ]);
    const classic = await groupCoordinator(b2).describe('classic');
    expect(classic.state).toBe('Stable');
    expect(classic.members.map((m) => [m.memberId, m.assignment.toString()])).toEqual([[j.memberId, 'abc']]);
    expect((await offsets(b2, 'classic')).get(0)).toBe(49n);
  });

  it('refuses Produce and DeleteRecords on the internal topic', async () => {
    const dir = await dataDir();
    const b = await open(dir);
    await commit(b, 'g', 0, 1);
    const cl = await RawClient.connect(b.address.port);
    cleanups.push(() => cl.close());
    const del = await cl.request(ApiKey.DeleteRecords, 2, {
      topics: [{ name: OFFSETS_TOPIC, partitions: [{ partitionIndex: 0, offset: -1n }] }],
      timeoutMs: 1000,
    });
    expect(del.topics[0].partitions[0].errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    const prod = await cl.request(ApiKey.Produce, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 1000,
      topicData: [{ name: OFFSETS_TOPIC, partitionData: [{ index: 0, records: null }] }],
    });
    expect(prod.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
  });
});
