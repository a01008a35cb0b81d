/**
 * The KIP-848 consumer group protocol on the wire (raw client): ConsumerGroupHeartbeat 0–1 and
 * ConsumerGroupDescribe 0, with OffsetCommit/OffsetFetch v9 member epochs and ListGroups v5.
 * Members are driven by hand, step by step, so each rule is checked: server-side assignment,
 * revocation before reassignment (no partition owned twice), leave, session expiry, static
 * members, the errors of bad requests, and the group surviving a broker restart.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiKey,
  decodeConsumerProtocolAssignment,
  ErrorCode,
  encodeConsumerProtocolSubscription,
  Reader,
  Writer,
} from '@tributary/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { groupCoordinator } from '../src/groups/index.ts';
import { type Broker, type BrokerOptions, startBroker } from '../src/index.ts';
import { RawClient } from './raw-client.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
});

const OPTS: BrokerOptions = {
  port: 0,
  wal: 'memory://',
  objectStore: 'memory://',
  metadata: 'memory',
  offsetsTopicPartitions: 4,
  groupConsumerSessionTimeoutMs: 1500,
  groupConsumerHeartbeatIntervalMs: 200,
};

async function broker(o: Partial<BrokerOptions> = {}): Promise<{ b: Broker; c: RawClient; topicId: string }> {
  const b = await startBroker({ ...OPTS, ...o });
  cleanups.push(() => b.close());
  const c = await RawClient.connect(b.address.port);
  cleanups.push(() => c.close());
  const r = await c.request(ApiKey.CreateTopics, 7, {
    topics: [{ name: 't', numPartitions: 6, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  expect([0, ErrorCode.TOPIC_ALREADY_EXISTS]).toContain(r.topics[0].errorCode);
  return { b, c, topicId: b.topics.get('t')!.id };
}

interface Hb {
  groupId?: string;
  memberId: string;
  memberEpoch: number;
  instanceId?: string | null;
  rebalanceTimeoutMs?: number;
  subscribedTopicNames?: string[] | null;
  subscribedTopicRegex?: string | null;
  serverAssignor?: string | null;
  topicPartitions?: { topicId: string; partitions: number[] }[] | null;
}

function hb(c: RawClient, h: Hb, version = 1): Promise<any> {
  return c.request(ApiKey.ConsumerGroupHeartbeat, version, {
    groupId: h.groupId ?? 'g',
    memberId: h.memberId,
    memberEpoch: h.memberEpoch,
    instanceId: h.instanceId ?? null,
    rackId: null,
    rebalanceTimeoutMs: h.rebalanceTimeoutMs ?? (h.memberEpoch === 0 ? 5000 : -1),
    subscribedTopicNames:
      h.subscribedTopicNames === undefined ? (h.memberEpoch === 0 ? ['t'] : null) : h.subscribedTopicNames,
    subscribedTopicRegex: h.subscribedTopicRegex ?? null,
    serverAssignor: h.serverAssignor ?? null,
    topicPartitions: h.topicPartitions === undefined ? (h.memberEpoch === 0 ? [] : null) : h.topicPartitions,
  });
}

/** A member as a client would keep it: its id, epoch and owned partitions. */
class Member {
  epoch = 0;
  owned: number[] = [];
  constructor(
    readonly c: RawClient,
    readonly id: string,
    readonly topicId: string,
    readonly extra: Partial<Hb> = {},
  ) {}

  async beat(full = false): Promise<any> {
    const r = await hb(this.c, {
      ...this.extra,
      memberId: this.id,
      memberEpoch: this.epoch,
      ...(this.epoch === 0 || full
        ? { topicPartitions: this.epoch === 0 ? [] : [{ topicId: this.topicId, partitions: this.owned }] }
        : { topicPartitions: [{ topicId: this.topicId, partitions: this.owned }] }),
    });
    if (r.errorCode !== 0) return r;
    this.epoch = r.memberEpoch;
    if (r.assignment) {
      const mine = r.assignment.topicPartitions.find(
        (tp: { topicId: string }) => tp.topicId === this.topicId,
      );
      this.owned = mine ? [...mine.partitions].sort((a: number, b: number) => a - b) : [];
    }
    return r;
  }
}

function noOverlap(ms: Member[]): void {
  const seen = new Map<number, string>();
  for (const m of ms)
    for (const p of m.owned) {
      expect(seen.get(p), `partition ${p} owned by ${seen.get(p)} and ${m.id}`).toBeUndefined();
      seen.set(p, m.id);
    }
}

/** Heartbeats every member until the group is stable with every partition owned once. */
async function settle(ms: Member[], partitions = 6): Promise<void> {
  for (let round = 0; round < 20; round++) {
    for (const m of ms) {
      const r = await m.beat();
      expect(r.errorCode).toBe(0);
      noOverlap(ms);
    }
    const owned = ms.reduce((n, m) => n + m.owned.length, 0);
    const epochs = new Set(ms.map((m) => m.epoch));
    if (owned === partitions && epochs.size === 1) return;
  }
  throw new Error(`group did not settle: ${ms.map((m) => `${m.id}@${m.epoch}:${m.owned}`).join(' ')}`);
}

describe('ConsumerGroupHeartbeat', () => {
  it('is advertised (0–1) with ConsumerGroupDescribe (0) and ListGroups 5', async () => {
    const { c } = await broker();
    const r = await c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' });
    const key = (k: number) => r.apiKeys.find((a: { apiKey: number }) => a.apiKey === k);
    expect(key(ApiKey.ConsumerGroupHeartbeat)).toMatchObject({ minVersion: 0, maxVersion: 1 });
    expect(key(ApiKey.ConsumerGroupDescribe)).toMatchObject({ minVersion: 0, maxVersion: 0 });
    expect(key(ApiKey.ListGroups)).toMatchObject({ maxVersion: 5 });
  });

  it('assigns server-side, revokes before reassigning, and rebalances on leave', async () => {
    const { c, topicId } = await broker();
    const a = new Member(c, 'member-a', topicId);
    const r1 = await a.beat();
    expect(r1).toMatchObject({
      errorCode: 0,
      memberId: 'member-a',
      memberEpoch: 1,
      heartbeatIntervalMs: 200,
    });
    expect(a.owned).toEqual([0, 1, 2, 3, 4, 5]);
    // b joins: a must give up three partitions before b gets them.
    const b = new Member(c, 'member-b', topicId);
    const r2 = await b.beat();
    expect(r2.memberEpoch).toBe(2);
    expect(b.owned).toEqual([]); // every target partition is still a's
    const r3 = await a.beat();
    expect(r3.memberEpoch).toBe(1); // revocation first, same epoch
    expect(a.owned.length).toBe(3);
    noOverlap([a, b]);
    const r4 = await a.beat(); // acknowledges (owned no longer lists the revoked ones)
    expect(r4.memberEpoch).toBe(2);
    await b.beat();
    expect(b.owned.length).toBe(3);
    noOverlap([a, b]);
    // a third member, then a leaves: b and c share everything.
    const m3 = new Member(c, 'member-c', topicId);
    await settle([a, b, m3]);
    expect([a, b, m3].map((m) => m.owned.length)).toEqual([2, 2, 2]);
    const left = await hb(c, { memberId: 'member-a', memberEpoch: -1 });
    expect(left).toMatchObject({ errorCode: 0, memberEpoch: -1 });
    a.owned = [];
    await settle([b, m3]);
    expect(b.owned.length + m3.owned.length).toBe(6);
    const d = await c.request(ApiKey.ConsumerGroupDescribe, 0, {
      groupIds: ['g'],
      includeAuthorizedOperations: false,
    });
    const g = d.groups[0];
    expect(g).toMatchObject({ errorCode: 0, groupId: 'g', groupState: 'Stable', assignorName: 'uniform' });
    expect(g.groupEpoch).toBe(g.assignmentEpoch);
    expect(g.members.map((m: { memberId: string }) => m.memberId).sort()).toEqual(['member-b', 'member-c']);
    const mb = g.members.find((m: { memberId: string }) => m.memberId === 'member-b');
    expect(mb.assignment.topicPartitions[0]).toMatchObject({ topicId, topicName: 't' });
    expect(mb.subscribedTopicNames).toEqual(['t']);
  });

  it('expires a silent member after the session timeout', async () => {
    const { c, topicId } = await broker();
    const a = new Member(c, 'a', topicId);
    const b = new Member(c, 'b', topicId);
    await settle([a, b]);
    // only b heartbeats: after 1.5 s a is gone and b takes everything.
    const deadline = Date.now() + 10_000;
    while (b.owned.length < 6) {
      if (Date.now() > deadline) throw new Error('a never expired');
      expect((await b.beat()).errorCode).toBe(0);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await a.beat()).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('gives a static member its partitions back without a rebalance', async () => {
    const { c, topicId } = await broker();
    const a = new Member(c, 'a1', topicId, { instanceId: 'ia' });
    const b = new Member(c, 'b1', topicId, { instanceId: 'ib' });
    await settle([a, b]);
    const before = [...a.owned];
    const epochBefore = (
      await c.request(ApiKey.ConsumerGroupDescribe, 0, {
        groupIds: ['g'],
        includeAuthorizedOperations: false,
      })
    ).groups[0].groupEpoch;
    // a leaves for a while (-2): its partitions stay reserved.
    expect(await hb(c, { memberId: 'a1', memberEpoch: -2, instanceId: 'ia' })).toMatchObject({
      errorCode: 0,
      memberEpoch: -2,
    });
    await b.beat();
    expect(b.owned.length).toBe(3);
    // another process with the same instance id while a1 is active would be refused; a2 replaces a1.
    const a2 = new Member(c, 'a2', topicId, { instanceId: 'ia' });
    await a2.beat();
    expect(a2.owned).toEqual(before);
    const after = await c.request(ApiKey.ConsumerGroupDescribe, 0, {
      groupIds: ['g'],
      includeAuthorizedOperations: false,
    });
    expect(after.groups[0].groupEpoch).toBe(epochBefore);
    const dup = await hb(c, { memberId: 'a3', memberEpoch: 0, instanceId: 'ia' });
    expect(dup.errorCode).toBe(ErrorCode.UNRELEASED_INSTANCE_ID);
    expect((await hb(c, { memberId: 'a1', memberEpoch: a.epoch, instanceId: 'ia' })).errorCode).toBe(
      ErrorCode.FENCED_INSTANCE_ID,
    );
  });

  it('answers bad requests with Kafka error codes', async () => {
    const { c, topicId } = await broker();
    const e = async (h: Hb, v = 1) => (await hb(c, h, v)).errorCode;
    expect(await e({ memberId: '', memberEpoch: 0 })).toBe(ErrorCode.INVALID_REQUEST); // v1 needs a member id
    expect(await e({ memberId: 'x', memberEpoch: 0, rebalanceTimeoutMs: -1 })).toBe(
      ErrorCode.INVALID_REQUEST,
    );
    expect(await e({ memberId: 'x', memberEpoch: 0, subscribedTopicNames: null })).toBe(
      ErrorCode.INVALID_REQUEST,
    );
    // Subscribed to nothing yet (a Java consumer with a pattern no topic matches): a member without partitions.
    const none = await hb(c, {
      groupId: 'empty-sub',
      memberId: 'y',
      memberEpoch: 0,
      subscribedTopicNames: [],
    });
    expect(none).toMatchObject({ errorCode: 0, memberEpoch: 1, assignment: { topicPartitions: [] } });
    expect(await e({ memberId: 'x', memberEpoch: 0, topicPartitions: [{ topicId, partitions: [1] }] })).toBe(
      ErrorCode.INVALID_REQUEST,
    );
    expect(await e({ memberId: 'x', memberEpoch: -3 })).toBe(ErrorCode.INVALID_REQUEST);
    expect(await e({ memberId: 'x', memberEpoch: 0, serverAssignor: 'sticky' })).toBe(
      ErrorCode.UNSUPPORTED_ASSIGNOR,
    );
    expect(
      await e({ memberId: 'x', memberEpoch: 0, subscribedTopicNames: null, subscribedTopicRegex: '(' }),
    ).toBe(ErrorCode.INVALID_REGULAR_EXPRESSION);
    expect(await e({ groupId: '', memberId: 'x', memberEpoch: 0 })).toBe(ErrorCode.INVALID_GROUP_ID);
    expect(await e({ groupId: 'nope', memberId: 'x', memberEpoch: 3 })).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    // v0: the coordinator names the member.
    const v0 = await hb(c, { groupId: 'g0', memberId: '', memberEpoch: 0 }, 0);
    expect(v0.errorCode).toBe(0);
    expect(v0.memberId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await e({ groupId: 'g0', memberId: 'other', memberEpoch: 1 })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(await e({ groupId: 'g0', memberId: v0.memberId, memberEpoch: 7 })).toBe(
      ErrorCode.FENCED_MEMBER_EPOCH,
    );
    // A classic member whose metadata is no consumer-protocol subscription cannot join a consumer
    // group, nor can a group of such members be upgraded (online migration needs subscriptions).
    const join2 = await c.request(ApiKey.JoinGroup, 9, {
      groupId: 'g0',
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
      reason: null,
    });
    expect(join2.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const join = await c.request(ApiKey.JoinGroup, 9, {
      groupId: 'classic',
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: '',
      groupInstanceId: 'i',
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
      reason: null,
    });
    expect(join.errorCode).toBe(0);
    expect(await e({ groupId: 'classic', memberId: 'x', memberEpoch: 0 })).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    const cd = await c.request(ApiKey.ConsumerGroupDescribe, 0, {
      groupIds: ['classic', 'missing'],
      includeAuthorizedOperations: false,
    });
    expect(cd.groups.map((g: { errorCode: number }) => g.errorCode)).toEqual([
      ErrorCode.GROUP_ID_NOT_FOUND,
      ErrorCode.GROUP_ID_NOT_FOUND,
    ]);
  });

  it('subscribes by regex (v1) and follows new topics', async () => {
    const { c, topicId } = await broker();
    const a = new Member(c, 'r', topicId, { subscribedTopicNames: null, subscribedTopicRegex: 't|u.*' });
    await a.beat();
    expect(a.owned.length).toBe(6);
    await c.request(ApiKey.CreateTopics, 7, {
      topics: [{ name: 'u1', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    await new Promise((r) => setTimeout(r, 1100)); // the group's metadata refresh
    const r = await hb(c, {
      memberId: 'r',
      memberEpoch: a.epoch,
      topicPartitions: [{ topicId, partitions: a.owned }],
    });
    expect(r.errorCode).toBe(0);
    expect(r.memberEpoch).toBe(a.epoch + 1);
    const total = r.assignment.topicPartitions.reduce(
      (n: number, tp: { partitions: number[] }) => n + tp.partitions.length,
      0,
    );
    expect(total).toBe(8);
  });

  it('checks member epochs on OffsetCommit/OffsetFetch v9 and lists the group as consumer', async () => {
    const { c, topicId } = await broker();
    const a = new Member(c, 'a', topicId);
    await a.beat();
    const commit = (version: number, epoch: number, memberId = 'a') =>
      c.request(ApiKey.OffsetCommit, version, {
        groupId: 'g',
        generationIdOrMemberEpoch: epoch,
        memberId,
        groupInstanceId: null,
        retentionTimeMs: -1n,
        topics: [
          {
            name: 't',
            partitions: [
              {
                partitionIndex: 0,
                committedOffset: 5n,
                committedLeaderEpoch: -1,
                commitTimestamp: -1n,
                committedMetadata: '',
              },
            ],
          },
        ],
      });
    const code = (r: any) => r.topics[0].partitions[0].errorCode;
    expect(code(await commit(9, 1))).toBe(0);
    expect(code(await commit(9, 0))).toBe(ErrorCode.STALE_MEMBER_EPOCH);
    expect(code(await commit(9, 2))).toBe(ErrorCode.FENCED_MEMBER_EPOCH);
    expect(code(await commit(9, 1, 'z'))).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(code(await commit(8, 1))).toBe(ErrorCode.UNSUPPORTED_VERSION);
    const fetch = (memberId: string | null, memberEpoch: number) =>
      c.request(ApiKey.OffsetFetch, 9, {
        groupId: '',
        topics: [],
        groups: [{ groupId: 'g', memberId, memberEpoch, topics: [{ name: 't', partitionIndexes: [0] }] }],
        requireStable: false,
      });
    const f1 = await fetch('a', 1);
    expect(f1.groups[0].errorCode).toBe(0);
    expect(f1.groups[0].topics[0].partitions[0].committedOffset).toBe(5n);
    expect((await fetch('a', 0)).groups[0].errorCode).toBe(ErrorCode.STALE_MEMBER_EPOCH);
    expect((await fetch(null, -1)).groups[0].errorCode).toBe(0); // admin
    // A classic group's member sends its generation: not checked (as in Kafka).
    const classic = await c.request(ApiKey.OffsetFetch, 9, {
      groupId: '',
      topics: [],
      groups: [{ groupId: 'some-classic', memberId: 'c-1', memberEpoch: 3, topics: null }],
      requireStable: false,
    });
    expect(classic.groups[0].errorCode).toBe(0);
    const lg = await c.request(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: ['consumer'] });
    expect(lg.groups).toEqual([
      { groupId: 'g', protocolType: 'consumer', groupState: 'Stable', groupType: 'consumer' },
    ]);
    const lc = await c.request(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: ['classic'] });
    expect(lc.groups).toEqual([]);
    // classic DescribeGroups sees nothing; DeleteGroups refuses a group with members.
    const dg = await c.request(ApiKey.DescribeGroups, 5, {
      groups: ['g'],
      includeAuthorizedOperations: false,
    });
    expect(dg.groups[0].groupState).toBe('Dead');
    const del = await c.request(ApiKey.DeleteGroups, 2, { groupsNames: ['g'] });
    expect(del.results[0].errorCode).toBe(ErrorCode.NON_EMPTY_GROUP);
    await hb(c, { memberId: 'a', memberEpoch: -1 });
    const del2 = await c.request(ApiKey.DeleteGroups, 2, { groupsNames: ['g'] });
    expect(del2.results[0].errorCode).toBe(0);
  });

  it('keeps the group across a broker restart (replayed from __consumer_offsets)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trib-kip848-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const o = {
      port: 0,
      dataDir: dir,
      walBytes: 16 << 20,
      wal: undefined,
      objectStore: undefined,
      metadata: undefined,
    };
    const first = await broker(o);
    const a = new Member(first.c, 'a', first.topicId);
    const b = new Member(first.c, 'b', first.topicId);
    await settle([a, b]);
    const epochs = [a.epoch, b.epoch];
    const owned = [[...a.owned], [...b.owned]];
    first.c.close();
    await first.b.close();
    const second = await broker(o);
    const a2 = new Member(second.c, 'a', second.topicId);
    const b2 = new Member(second.c, 'b', second.topicId);
    a2.epoch = epochs[0]!;
    a2.owned = owned[0]!;
    b2.epoch = epochs[1]!;
    b2.owned = owned[1]!;
    // the members carry on at their epochs with their partitions.
    expect((await a2.beat(true)).errorCode).toBe(0);
    expect((await b2.beat(true)).errorCode).toBe(0);
    expect([a2.epoch, b2.epoch]).toEqual(epochs);
    expect([a2.owned, b2.owned]).toEqual(owned);
  });
});

describe('classic members in a consumer group (online migration)', () => {
  /** ConsumerProtocolSubscription v1 of `topics` owning `owned` partitions of topic t. */
  function subscription(topics: string[], owned: number[]): Buffer {
    const w = new Writer(64);
    w.writeInt16(1);
    encodeConsumerProtocolSubscription(
      w,
      {
        topics,
        userData: null,
        ownedPartitions: owned.length ? [{ topic: 't', partitions: owned }] : [],
        generationId: -1,
        rackId: null,
      },
      1,
    );
    return w.toBuffer();
  }

  function assignmentOf(bytes: Buffer): number[] {
    const r = new Reader(bytes);
    const v = r.readInt16();
    const a = decodeConsumerProtocolAssignment(r, v);
    return a.assignedPartitions.flatMap((tp) => tp.partitions).sort((x, y) => x - y);
  }

  async function classicJoin(
    c: RawClient,
    memberId: string,
    owned: number[],
    instanceId: string | null = null,
  ): Promise<any> {
    return c.request(ApiKey.JoinGroup, 9, {
      groupId: 'mixed',
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 5000,
      memberId,
      groupInstanceId: instanceId,
      protocolType: 'consumer',
      protocols: [{ name: 'cooperative-sticky', metadata: subscription(['t'], owned) }],
      reason: null,
    });
  }

  async function classicSync(
    c: RawClient,
    memberId: string,
    generationId: number,
    instanceId: string | null = null,
  ): Promise<any> {
    return c.request(ApiKey.SyncGroup, 5, {
      groupId: 'mixed',
      generationId,
      memberId,
      groupInstanceId: instanceId,
      protocolType: 'consumer',
      protocolName: 'cooperative-sticky',
      assignments: [],
    });
  }

  it('joins, syncs its assignment, is told to rejoin, hands partitions over, and survives a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trib-mixed-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const o = {
      port: 0,
      dataDir: dir,
      walBytes: 16 << 20,
      wal: undefined,
      objectStore: undefined,
      metadata: undefined,
    };
    const { b, c, topicId } = await broker(o);
    const a = new Member(c, 'kip-a', topicId, { groupId: 'mixed' });
    await a.beat();
    expect(a.owned.length).toBe(6);
    // A classic member: MEMBER_ID_REQUIRED, then joined at once (no leader duties) at its epoch.
    const first = await classicJoin(c, '', []);
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    const j = await classicJoin(c, first.memberId, []);
    expect(j).toMatchObject({
      errorCode: 0,
      protocolType: 'consumer',
      protocolName: 'cooperative-sticky',
      leader: '',
    });
    expect(j.members).toEqual([]);
    let s = await classicSync(c, j.memberId, j.generationId);
    expect(s.errorCode).toBe(0);
    expect(assignmentOf(s.assignment)).toEqual([]); // its target partitions are still a's
    // a revokes three and acknowledges; the classic member is told to rejoin and gets them.
    await a.beat();
    expect(a.owned.length).toBe(3);
    await a.beat();
    const hb = await c.request(ApiKey.Heartbeat, 4, {
      groupId: 'mixed',
      generationId: j.generationId,
      memberId: j.memberId,
      groupInstanceId: null,
    });
    expect(hb.errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const j2 = await classicJoin(c, j.memberId, []);
    expect(j2.errorCode).toBe(0);
    s = await classicSync(c, j.memberId, j2.generationId);
    const mine = assignmentOf(s.assignment);
    expect(mine.length).toBe(3);
    expect(mine.filter((p) => a.owned.includes(p))).toEqual([]);
    const ok = await c.request(ApiKey.Heartbeat, 4, {
      groupId: 'mixed',
      generationId: j2.generationId,
      memberId: j.memberId,
      groupInstanceId: null,
    });
    expect(ok.errorCode).toBe(0);
    // Offsets: the classic member commits with its generation.
    const commit = await c.request(ApiKey.OffsetCommit, 8, {
      groupId: 'mixed',
      generationIdOrMemberEpoch: j2.generationId,
      memberId: j.memberId,
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [
        {
          name: 't',
          partitions: [
            {
              partitionIndex: mine[0]!,
              committedOffset: 3n,
              committedLeaderEpoch: -1,
              commitTimestamp: -1n,
              committedMetadata: '',
            },
          ],
        },
      ],
    });
    expect(commit.topics[0].partitions[0].errorCode).toBe(0);
    // Restart: both members carry on where they were (the classic one as classic).
    c.close();
    await b.close();
    const second = await broker(o);
    const hb2 = await second.c.request(ApiKey.Heartbeat, 4, {
      groupId: 'mixed',
      generationId: j2.generationId,
      memberId: j.memberId,
      groupInstanceId: null,
    });
    expect(hb2.errorCode).toBe(0);
    const a2 = new Member(second.c, 'kip-a', second.topicId, { groupId: 'mixed' });
    a2.epoch = a.epoch;
    a2.owned = a.owned;
    expect((await a2.beat(true)).errorCode).toBe(0);
    expect(a2.owned).toEqual(a.owned);
    // LeaveGroup of the classic member: a gets everything back.
    const left = await second.c.request(ApiKey.LeaveGroup, 5, {
      groupId: 'mixed',
      memberId: '',
      members: [{ memberId: j.memberId, groupInstanceId: null, reason: null }],
    });
    expect(left.members[0].errorCode).toBe(0);
    await a2.beat();
    expect(a2.owned.length).toBe(6);
  });

  it('replaces a static classic member by its new incarnation, durably', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trib-mixed-static-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const o = {
      port: 0,
      dataDir: dir,
      walBytes: 16 << 20,
      wal: undefined,
      objectStore: undefined,
      metadata: undefined,
    };
    const { b, c, topicId } = await broker(o);
    const a = new Member(c, 'kip-a', topicId, { groupId: 'mixed' });
    await a.beat();
    const j = await classicJoin(c, '', [], 'ci');
    expect(j.errorCode).toBe(0);
    await a.beat();
    await a.beat(); // revoked and acknowledged
    const j1 = await classicJoin(c, j.memberId, [], 'ci');
    const s1 = await classicSync(c, j.memberId, j1.generationId, 'ci');
    const mine = assignmentOf(s1.assignment);
    expect(mine.length).toBe(3);
    // The process restarts: a new member id for the same instance, the same partitions at once.
    const j2 = await classicJoin(c, '', [], 'ci');
    expect(j2.errorCode).toBe(0);
    expect(j2.memberId).not.toBe(j.memberId);
    const s2 = await classicSync(c, j2.memberId, j2.generationId, 'ci');
    expect(assignmentOf(s2.assignment)).toEqual(mine);
    const old = await c.request(ApiKey.Heartbeat, 4, {
      groupId: 'mixed',
      generationId: j1.generationId,
      memberId: j.memberId,
      groupInstanceId: 'ci',
    });
    expect(old.errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
    c.close();
    await b.close();
    const second = await broker(o);
    const hb = await second.c.request(ApiKey.Heartbeat, 4, {
      groupId: 'mixed',
      generationId: j2.generationId,
      memberId: j2.memberId,
      groupInstanceId: 'ci',
    });
    expect(hb.errorCode).toBe(0);
    const d = await groupCoordinator(second.b).consumer.describe('mixed');
    expect(d.members.map((m) => m.memberId).sort()).toEqual([j2.memberId, 'kip-a'].sort());
  });

  it('upgrades a static classic member in place: its KIP-848 incarnation keeps the partitions', async () => {
    const { b, c, topicId } = await broker();
    const a = new Member(c, 'kip-a', topicId, { groupId: 'mixed' });
    await a.beat();
    const j = await classicJoin(c, '', [], 'cs');
    await a.beat();
    await a.beat();
    const j1 = await classicJoin(c, j.memberId, [], 'cs');
    const mine = assignmentOf((await classicSync(c, j.memberId, j1.generationId, 'cs')).assignment);
    expect(mine.length).toBe(3);
    const epoch = (await groupCoordinator(b).consumer.describe('mixed')).groupEpoch;
    // The same instance restarted with group.protocol=consumer (no leave: a classic static member sends none).
    const up = new Member(c, 'kip-cs', topicId, { groupId: 'mixed', instanceId: 'cs' });
    const r = await up.beat();
    expect(r.errorCode).toBe(0);
    expect(up.owned).toEqual(mine);
    const d = await groupCoordinator(b).consumer.describe('mixed');
    expect(d.groupEpoch).toBe(epoch);
    expect(d.members.map((m) => m.memberId).sort()).toEqual(['kip-a', 'kip-cs']);
  });

  it('a KIP-848 member joins a classic group that only handed out a member id', async () => {
    const { c, topicId } = await broker();
    const first = await classicJoin(c, '', []);
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    const a = new Member(c, 'kip-a', topicId, { groupId: 'mixed' });
    expect((await a.beat()).errorCode).toBe(0);
    expect(a.owned.length).toBe(6);
    // The classic client's second join lands in the consumer group.
    const j = await classicJoin(c, first.memberId, []);
    expect(j.errorCode).toBe(0);
    expect(j.memberId).toBe(first.memberId);
  });

  it('a consumer group left with classic members only still sees new partitions', async () => {
    const { c, topicId } = await broker();
    const a = new Member(c, 'kip-a', topicId, { groupId: 'mixed' });
    await a.beat();
    const j = await classicJoin(c, 'classic-1', []);
    expect(j.errorCode).toBe(0);
    await hb(c, { groupId: 'mixed', memberId: 'kip-a', memberEpoch: -1 });
    const j2 = await classicJoin(c, 'classic-1', []);
    const s2 = await classicSync(c, 'classic-1', j2.generationId);
    expect(assignmentOf(s2.assignment)).toEqual([0, 1, 2, 3, 4, 5]);
    const cp = await c.request(ApiKey.CreatePartitions, 3, {
      topics: [{ name: 't', count: 8, assignments: null }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    expect(cp.results[0].errorCode).toBe(0);
    await new Promise((r) => setTimeout(r, 1100)); // the group's metadata refresh
    const beat = await c.request(ApiKey.Heartbeat, 4, {
      groupId: 'mixed',
      generationId: j2.generationId,
      memberId: 'classic-1',
      groupInstanceId: null,
    });
    expect(beat.errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const j3 = await classicJoin(c, 'classic-1', [0, 1, 2, 3, 4, 5]);
    const s3 = await classicSync(c, 'classic-1', j3.generationId);
    expect(assignmentOf(s3.assignment)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});
