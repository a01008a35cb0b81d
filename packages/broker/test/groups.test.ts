/**
 * The classic group coordinator's state machine on an in-memory group log, with short
 * timeouts: join/sync/heartbeat, MEMBER_ID_REQUIRED, rebalances, session expiry, rebalance
 * timeout, static membership, offsets, retention, deletion, and rebuilding from the log.
 */
import { ErrorCode } from '@tributary/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import {
  GroupCoordinator,
  type GroupCoordinatorOptions,
  type JoinParams,
} from '../src/groups/coordinator.ts';
import type { JoinResult } from '../src/groups/group.ts';
import { type GroupLog, type GroupLogRecord, javaStringHash } from '../src/groups/log.ts';
import {
  decodeGroupValue,
  decodeKey,
  decodeOffsetValue,
  encodeGroupValue,
  encodeOffsetValue,
} from '../src/groups/records.ts';

class MemoryGroupLog implements GroupLog {
  readonly parts = new Map<number, { key: Buffer; value: Buffer | null; timestamp: number }[]>();
  failing = false;
  appendDelayMs = 0;
  constructor(readonly partitions = 4) {}
  partitionFor(groupId: string): number {
    return Math.abs(javaStringHash(groupId)) % this.partitions;
  }
  async append(p: number, records: readonly GroupLogRecord[]): Promise<number> {
    if (this.appendDelayMs > 0) await sleep(this.appendDelayMs);
    if (this.failing) throw new Error('storage down');
    const list = this.parts.get(p) ?? [];
    this.parts.set(p, list);
    const base = list.length;
    for (const r of records) list.push({ key: r.key, value: r.value, timestamp: Date.now() });
    return base;
  }
  async *replay(p: number) {
    const list = this.parts.get(p) ?? [];
    for (let i = 0; i < list.length; i++) yield { ...list[i]!, offset: i };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const coordinators: GroupCoordinator[] = [];
afterEach(() => {
  for (const c of coordinators.splice(0)) c.close();
});

function make(log: GroupLog, o: Partial<GroupCoordinatorOptions> = {}): GroupCoordinator {
  const c = new GroupCoordinator(log, {
    initialRebalanceDelayMs: 50,
    minSessionTimeoutMs: 10,
    offsetsRetentionCheckIntervalMs: 0,
    ...o,
  });
  coordinators.push(c);
  return c;
}

function params(groupId: string, memberId = '', o: Partial<JoinParams> = {}): JoinParams {
  return {
    groupId,
    memberId,
    groupInstanceId: null,
    clientId: 'c',
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: 300,
    rebalanceTimeoutMs: 300,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('m') }],
    requireKnownMemberId: true,
    ...o,
  };
}

/** The v4+ two-step join of a new dynamic member. */
async function joinNew(
  c: GroupCoordinator,
  groupId: string,
  o: Partial<JoinParams> = {},
): Promise<JoinResult> {
  const first = await c.join(params(groupId, '', o));
  expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
  expect(first.memberId).toMatch(/^c-/);
  return c.join(params(groupId, first.memberId, o));
}

describe('group records', () => {
  it('round-trip in Kafka schemas', () => {
    const v = {
      protocolType: 'consumer',
      generation: 7,
      protocol: 'range',
      leader: 'a',
      currentStateTimestamp: 1700000000000,
      members: [
        {
          memberId: 'a',
          groupInstanceId: 'i-1',
          clientId: 'cid',
          clientHost: '/1.2.3.4',
          rebalanceTimeoutMs: 1000,
          sessionTimeoutMs: 500,
          subscription: Buffer.from([1, 2]),
          assignment: Buffer.from([3]),
        },
      ],
    };
    expect(decodeGroupValue(encodeGroupValue(v))).toEqual(v);
    const o = { offset: 42n, leaderEpoch: 3, metadata: 'meta', commitTimestamp: 123, expireTimestamp: -1 };
    expect(decodeOffsetValue(encodeOffsetValue(o))).toEqual(o);
    const e = { offset: 42n, leaderEpoch: -1, metadata: '', commitTimestamp: 123, expireTimestamp: 456 };
    expect(decodeOffsetValue(encodeOffsetValue(e))).toEqual(e);
    expect(decodeKey(Buffer.from([0, 9]))).toBeUndefined();
  });
});

describe('group coordinator', () => {
  it('a single member joins after the initial delay, syncs, heartbeats', async () => {
    const c = make(new MemoryGroupLog());
    const t0 = Date.now();
    const j = await joinNew(c, 'g');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(j).toMatchObject({
      errorCode: 0,
      generationId: 1,
      protocolName: 'range',
      protocolType: 'consumer',
    });
    expect(j.leader).toBe(j.memberId);
    expect(j.members.map((m) => m.memberId)).toEqual([j.memberId]);
    const s = await c.sync({
      groupId: 'g',
      generationId: 1,
      memberId: j.memberId,
      groupInstanceId: null,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [{ memberId: j.memberId, assignment: Buffer.from('A') }],
    });
    expect(s.errorCode).toBe(0);
    expect(s.assignment.toString()).toBe('A');
    expect(await c.heartbeat('g', 1, j.memberId, null)).toBe(0);
    expect(await c.heartbeat('g', 0, j.memberId, null)).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(await c.heartbeat('g', 1, 'nobody', null)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(await c.heartbeat('other', 1, j.memberId, null)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const d = await c.describe('g');
    expect(d.state).toBe('Stable');
    expect(d.members[0]!.assignment.toString()).toBe('A');
  });

  it('rejects bad joins', async () => {
    const c = make(new MemoryGroupLog());
    expect((await c.join(params(''))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    expect((await c.join(params('g', '', { sessionTimeoutMs: 1 }))).errorCode).toBe(
      ErrorCode.INVALID_SESSION_TIMEOUT,
    );
    expect((await c.join(params('g', 'ghost'))).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await c.join(params('g', '', { protocols: [] }))).errorCode).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    const j = joinNew(c, 'g');
    await sleep(5);
    const other = await c.join(params('g', '', { protocolType: 'connect' }));
    expect(other.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const noCommon = await c.join(params('g', '', { protocols: [{ name: 'x', metadata: Buffer.alloc(0) }] }));
    expect(noCommon.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect((await j).errorCode).toBe(0);
  });

  it('forgets a group whose only member id was never used', async () => {
    const c = make(new MemoryGroupLog());
    const first = await c.join(params('g', '', { sessionTimeoutMs: 50 }));
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    expect((await c.list()).map((g) => g.groupId)).toEqual(['g']);
    await sleep(100);
    expect(await c.list()).toEqual([]);
    expect((await c.join(params('g', first.memberId))).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('caps the group size', async () => {
    const c = make(new MemoryGroupLog(), { maxGroupSize: 2 });
    const a = joinNew(c, 'g');
    const b = joinNew(c, 'g');
    await sleep(5);
    expect((await c.join(params('g'))).errorCode).toBe(ErrorCode.GROUP_MAX_SIZE_REACHED);
    expect((await a).errorCode).toBe(0);
    expect((await b).errorCode).toBe(0);
  });

  it('rebalances when a member joins a stable group; the leader gets every member', async () => {
    const c = make(new MemoryGroupLog());
    const a = await joinNew(c, 'g');
    await c.sync({
      groupId: 'g',
      generationId: 1,
      memberId: a.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    });
    const bJoin = joinNew(c, 'g');
    await sleep(10);
    expect(await c.heartbeat('g', 1, a.memberId, null)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect((await c.describe('g')).state).toBe('PreparingRebalance');
    const a2 = await c.join(params('g', a.memberId));
    const b = await bJoin;
    expect(a2.generationId).toBe(2);
    expect(b.generationId).toBe(2);
    expect(a2.leader).toBe(a.memberId);
    expect(a2.members.map((m) => m.memberId).sort()).toEqual([a.memberId, b.memberId].sort());
    expect(b.members).toEqual([]);
    // A follower's sync waits for the leader's.
    const bSync = c.sync({
      groupId: 'g',
      generationId: 2,
      memberId: b.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    });
    const aSync = await c.sync({
      groupId: 'g',
      generationId: 2,
      memberId: a.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [
        { memberId: a.memberId, assignment: Buffer.from('1') },
        { memberId: b.memberId, assignment: Buffer.from('2') },
      ],
    });
    expect(aSync.assignment.toString()).toBe('1');
    expect((await bSync).assignment.toString()).toBe('2');
    expect((await c.describe('g')).state).toBe('Stable');
  });

  it('removes a member whose session expires and rebalances the rest', async () => {
    const c = make(new MemoryGroupLog());
    const [a, b] = await Promise.all([
      joinNew(c, 'g', { sessionTimeoutMs: 150 }),
      joinNew(c, 'g', { sessionTimeoutMs: 150 }),
    ]);
    const sync = (id: string) =>
      c.sync({
        groupId: 'g',
        generationId: 1,
        memberId: id,
        groupInstanceId: null,
        protocolType: null,
        protocolName: null,
        assignments: [],
      });
    await Promise.all([sync(a!.memberId), sync(b!.memberId)]);
    // Only a heartbeats; b expires after 150 ms.
    let code = 0;
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline) {
      code = await c.heartbeat('g', 1, a!.memberId, null);
      if (code !== 0) break;
      await sleep(30);
    }
    expect(code).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const a2 = await c.join(params('g', a!.memberId, { sessionTimeoutMs: 150 }));
    expect(a2.generationId).toBe(2);
    expect(a2.members.map((m) => m.memberId)).toEqual([a!.memberId]);
    expect(await c.heartbeat('g', 2, b!.memberId, null)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('drops members that do not rejoin within the rebalance timeout', async () => {
    const c = make(new MemoryGroupLog(), { initialRebalanceDelayMs: 0 });
    const a = await joinNew(c, 'g', { rebalanceTimeoutMs: 200, sessionTimeoutMs: 5000 });
    await c.sync({
      groupId: 'g',
      generationId: 1,
      memberId: a.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    });
    const t0 = Date.now();
    const b = await joinNew(c, 'g', { rebalanceTimeoutMs: 200, sessionTimeoutMs: 5000 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(180);
    expect(b.generationId).toBe(2);
    expect(b.leader).toBe(b.memberId);
    expect(b.members.map((m) => m.memberId)).toEqual([b.memberId]);
    expect(await c.heartbeat('g', 1, a.memberId, null)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('drops a new member still waiting in its first join after the new-member timeout', async () => {
    const c = make(new MemoryGroupLog(), { initialRebalanceDelayMs: 0, newMemberJoinTimeoutMs: 150 });
    const a = await joinNew(c, 'g', { rebalanceTimeoutMs: 5000, sessionTimeoutMs: 5000 });
    await c.sync({
      groupId: 'g',
      generationId: 1,
      memberId: a.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    });
    // b joins; a never rejoins, so the join phase would last a's 5 s rebalance timeout.
    const t0 = Date.now();
    const b = await joinNew(c, 'g', { rebalanceTimeoutMs: 5000, sessionTimeoutMs: 5000 });
    expect(b.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(140);
    expect(waited).toBeLessThan(3000);
    // a rejoins: the rebalance completes with a alone.
    const a2 = await c.join(params('g', a.memberId, { rebalanceTimeoutMs: 5000, sessionTimeoutMs: 5000 }));
    expect(a2.errorCode).toBe(0);
    expect(a2.members.map((m) => m.memberId)).toEqual([a.memberId]);
  });

  it('a member that never syncs is removed after the rebalance timeout', async () => {
    const c = make(new MemoryGroupLog(), { initialRebalanceDelayMs: 0 });
    const a = await joinNew(c, 'g', { rebalanceTimeoutMs: 150, sessionTimeoutMs: 5000 });
    expect(a.generationId).toBe(1);
    await sleep(300);
    const d = await c.describe('g');
    expect(d.state).toBe('Empty');
    expect(d.members).toEqual([]);
  });

  it('leaving empties the group; the generation is stored', async () => {
    const log = new MemoryGroupLog();
    const c = make(log);
    const a = await joinNew(c, 'g');
    expect(
      await c.leave('g', [
        { memberId: a.memberId, groupInstanceId: null },
        { memberId: 'x', groupInstanceId: null },
      ]),
    ).toEqual([0, ErrorCode.UNKNOWN_MEMBER_ID]);
    await sleep(10);
    const d = await c.describe('g');
    expect(d.state).toBe('Empty');
    const c2 = make(log);
    const d2 = await c2.describe('g');
    expect(d2.state).toBe('Empty');
    expect(d2.protocolType).toBe('consumer');
    expect(await c2.list()).toEqual([
      { groupId: 'g', protocolType: 'consumer', state: 'Empty', type: 'classic' },
    ]);
  });

  it('commits offsets with validation, fetches them, and rebuilds them from the log', async () => {
    const log = new MemoryGroupLog();
    const c = make(log);
    const base = { groupInstanceId: null, retentionTimeMs: -1 };
    const off = (offset: bigint, metadata = '') => [
      { topic: 't', partition: 0, offset, leaderEpoch: 2, metadata },
    ];
    // Simple (group-less) commits create an empty group.
    expect(
      await c.commit({ ...base, groupId: 's', generationId: -1, memberId: '', offsets: off(5n, 'x') }),
    ).toBe(0);
    expect(
      await c.commit({ ...base, groupId: 'none', generationId: 3, memberId: 'm', offsets: off(5n) }),
    ).toBe(ErrorCode.ILLEGAL_GENERATION);
    const a = await joinNew(c, 'g');
    expect(
      await c.commit({ ...base, groupId: 'g', generationId: 1, memberId: a.memberId, offsets: off(7n) }),
    ).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    await c.sync({
      groupId: 'g',
      generationId: 1,
      memberId: a.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    });
    expect(
      await c.commit({ ...base, groupId: 'g', generationId: 1, memberId: a.memberId, offsets: off(7n, 'm') }),
    ).toBe(0);
    expect(
      await c.commit({ ...base, groupId: 'g', generationId: 0, memberId: a.memberId, offsets: off(8n) }),
    ).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(await c.commit({ ...base, groupId: 'g', generationId: 1, memberId: 'zz', offsets: off(8n) })).toBe(
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    expect(await c.commit({ ...base, groupId: 'g', generationId: -1, memberId: '', offsets: off(8n) })).toBe(
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    log.failing = true;
    expect(
      await c.commit({ ...base, groupId: 'g', generationId: 1, memberId: a.memberId, offsets: off(9n) }),
    ).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    log.failing = false;
    const got = await c.fetchOffsets('g', [{ name: 't', partitions: [0, 1] }]);
    expect(got[0]!.partitions).toEqual([
      { topic: 't', partition: 0, offset: 7n, leaderEpoch: 2, metadata: 'm' },
      { topic: 't', partition: 1, offset: -1n, leaderEpoch: -1, metadata: '' },
    ]);
    expect(await c.fetchOffsets('s', null)).toEqual([
      { name: 't', partitions: [{ topic: 't', partition: 0, offset: 5n, leaderEpoch: 2, metadata: 'x' }] },
    ]);
    expect(await c.fetchOffsets('unknown', null)).toEqual([]);
    // A second coordinator on the same log sees the same state; the member is still there
    // until its session expires.
    const c2 = make(log);
    expect((await c2.fetchOffsets('g', null))[0]!.partitions[0]!.offset).toBe(7n);
    expect((await c2.fetchOffsets('s', null))[0]!.partitions[0]!.offset).toBe(5n);
    const d = await c2.describe('g');
    expect(d.state).toBe('Stable');
    expect(d.members.map((m) => m.memberId)).toEqual([a.memberId]);
    await sleep(450);
    expect((await c2.describe('g')).state).toBe('Empty');
  });

  it('deletes groups and offsets', async () => {
    const log = new MemoryGroupLog();
    const c = make(log);
    const base = { groupInstanceId: null, retentionTimeMs: -1 };
    await c.commit({
      ...base,
      groupId: 's',
      generationId: -1,
      memberId: '',
      offsets: [
        { topic: 't', partition: 0, offset: 1n, leaderEpoch: -1, metadata: '' },
        { topic: 'u', partition: 0, offset: 1n, leaderEpoch: -1, metadata: '' },
      ],
    });
    const r = await c.deleteOffsets('s', [{ name: 't', partitions: [0, 3] }]);
    expect(r.errorCode).toBe(0);
    expect((await c.fetchOffsets('s', null)).map((t) => t.name)).toEqual(['u']);
    expect((await c.deleteOffsets('nope', [])).errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    const a = joinNew(c, 'busy');
    await sleep(5);
    expect(await c.deleteGroup('busy')).toBe(ErrorCode.NON_EMPTY_GROUP);
    expect(await c.deleteGroup('nope')).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    expect(await c.deleteGroup('s')).toBe(0);
    expect(await c.deleteGroup('s')).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    expect((await c.describe('s')).state).toBe('Dead');
    await a;
    const c2 = make(log);
    expect(await c2.fetchOffsets('s', null)).toEqual([]);
    // 'busy' never synced: nothing of it was stored yet.
    expect(await c2.list()).toEqual([]);
  });

  it('a deletion racing a commit leaves memory and the log agreeing', async () => {
    const log = new MemoryGroupLog();
    const c = make(log);
    const off = (partition: number) => [{ topic: 't', partition, offset: 5n, leaderEpoch: -1, metadata: '' }];
    const base = { groupId: 's', generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1 };
    expect(await c.commit({ ...base, offsets: off(0) })).toBe(0);
    log.appendDelayMs = 30;
    const inFlight = c.commit({ ...base, offsets: off(1) });
    await sleep(1);
    expect(await c.deleteGroup('s')).toBe(0);
    expect(await inFlight).toBe(0);
    expect(await c.list()).toEqual([]);
    const c2 = make(log);
    expect(await c2.list()).toEqual([]);
    expect(await c2.fetchOffsets('s', null)).toEqual([]);
  });

  it('expires offsets of groups empty for longer than the retention', async () => {
    const log = new MemoryGroupLog();
    const c = make(log, { offsetsRetentionMs: 1000 });
    const base = { groupInstanceId: null, retentionTimeMs: -1 };
    await c.commit({
      ...base,
      groupId: 's',
      generationId: -1,
      memberId: '',
      offsets: [{ topic: 't', partition: 0, offset: 1n, leaderEpoch: -1, metadata: '' }],
    });
    await c.commit({
      ...base,
      groupId: 'e',
      generationId: -1,
      memberId: '',
      retentionTimeMs: 10,
      offsets: [{ topic: 't', partition: 0, offset: 1n, leaderEpoch: -1, metadata: '' }],
    });
    expect(await c.expireOffsets(Date.now())).toBe(0);
    expect(await c.expireOffsets(Date.now() + 100)).toBe(1);
    expect(await c.expireOffsets(Date.now() + 2000)).toBe(1);
    expect(await c.list()).toEqual([]);
    expect(await make(log).list()).toEqual([]);
  });

  it('expires offsets of topics a stable consumer group no longer subscribes to', async () => {
    const c = make(new MemoryGroupLog(), { offsetsRetentionMs: 1000 });
    // ConsumerProtocolSubscription v0: topics ["t"], no user data.
    const sub = Buffer.from([0, 0, 0, 0, 0, 1, 0, 1, 116, 255, 255, 255, 255]);
    const a = await joinNew(c, 'g', { protocols: [{ name: 'range', metadata: sub }] });
    await c.sync({
      groupId: 'g',
      generationId: 1,
      memberId: a.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    });
    const off = (topic: string) => ({ topic, partition: 0, offset: 1n, leaderEpoch: -1, metadata: '' });
    expect(
      await c.commit({
        groupId: 'g',
        generationId: 1,
        memberId: a.memberId,
        groupInstanceId: null,
        retentionTimeMs: -1,
        offsets: [off('t'), off('old')],
      }),
    ).toBe(0);
    expect(await c.expireOffsets(Date.now() + 2000)).toBe(1);
    expect((await c.fetchOffsets('g', null)).map((t) => t.name)).toEqual(['t']);
  });

  it('static members rejoin without a rebalance and fence their old id', async () => {
    const log = new MemoryGroupLog();
    const c = make(log);
    const st = (id: string) => ({ groupInstanceId: id, sessionTimeoutMs: 2000 });
    const [a, b] = await Promise.all([c.join(params('g', '', st('ia'))), c.join(params('g', '', st('ib')))]);
    expect(a!.memberId).toMatch(/^ia-/);
    const leader = a!.leader === a!.memberId ? a! : b!;
    const assignments = [
      { memberId: a!.memberId, assignment: Buffer.from('A') },
      { memberId: b!.memberId, assignment: Buffer.from('B') },
    ];
    const syncOf = (m: JoinResult, inst: string) =>
      c.sync({
        groupId: 'g',
        generationId: 1,
        memberId: m.memberId,
        groupInstanceId: inst,
        protocolType: null,
        protocolName: null,
        assignments: m === leader ? assignments : [],
      });
    await Promise.all([syncOf(a!, 'ia'), syncOf(b!, 'ib')]);
    // b restarts: joins with no member id and its instance id.
    const b2 = await c.join(params('g', '', st('ib')));
    expect(b2.errorCode).toBe(0);
    expect(b2.generationId).toBe(1);
    expect(b2.memberId).not.toBe(b!.memberId);
    const s = await c.sync({
      groupId: 'g',
      generationId: 1,
      memberId: b2.memberId,
      groupInstanceId: 'ib',
      protocolType: null,
      protocolName: null,
      assignments: [],
    });
    expect(s.assignment.toString()).toBe('B');
    expect((await c.describe('g')).state).toBe('Stable');
    expect(await c.heartbeat('g', 1, b!.memberId, 'ib')).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect(await c.heartbeat('g', 1, b2.memberId, 'ib')).toBe(0);
    // The leader restarts. Before v9 it is told the old leader id (so it does not assign)...
    const leaderInst = leader === a ? 'ia' : 'ib';
    const l2 = await c.join(params('g', '', st(leaderInst)));
    expect(l2.errorCode).toBe(0);
    expect(l2.skipAssignment).toBe(false);
    expect(l2.leader).not.toBe(l2.memberId);
    expect(l2.members).toEqual([]);
    // ...from v9 (KIP-814) it is told it leads, gets the members, and skips the assignment.
    const l3 = await c.join({ ...params('g', '', st(leaderInst)), supportsSkipAssignment: true });
    expect(l3.errorCode).toBe(0);
    expect(l3.generationId).toBe(1);
    expect(l3.skipAssignment).toBe(true);
    expect(l3.leader).toBe(l3.memberId);
    expect(l3.members.map((m) => m.groupInstanceId).sort()).toEqual(['ia', 'ib']);
    const nonLeader = await c.join({
      ...params('g', '', st(leaderInst === 'ia' ? 'ib' : 'ia')),
      supportsSkipAssignment: true,
    });
    expect(nonLeader.skipAssignment).toBe(false);
    expect(nonLeader.members).toEqual([]);
    expect(nonLeader.leader).toBe(l3.memberId);
    expect((await c.describe('g')).state).toBe('Stable');
    const current = (await c.describe('g')).members.map((m) => m.memberId);
    const b3 = leaderInst === 'ib' ? l3 : nonLeader;
    const a3 = leaderInst === 'ia' ? l3 : nonLeader;
    expect(current.sort()).toEqual([a3.memberId, b3.memberId].sort());
    // The replacement is durable.
    const c2 = make(log);
    expect((await c2.describe('g')).members.map((m) => m.memberId).sort()).toEqual(
      [a3.memberId, b3.memberId].sort(),
    );
    // Leaving by instance id.
    expect(await c.leave('g', [{ memberId: '', groupInstanceId: 'ib' }])).toEqual([0]);
    expect(await c.leave('g', [{ memberId: 'wrong', groupInstanceId: 'ia' }])).toEqual([
      ErrorCode.FENCED_INSTANCE_ID,
    ]);
  });

  it('a sync failing to store sends every member back to rejoin', async () => {
    const log = new MemoryGroupLog();
    const c = make(log);
    const a = await joinNew(c, 'g');
    log.failing = true;
    const s = await c.sync({
      groupId: 'g',
      generationId: 1,
      memberId: a.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    });
    expect(s.errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect((await c.describe('g')).state).toBe('PreparingRebalance');
    log.failing = false;
    const a2 = await c.join(params('g', a.memberId));
    expect(a2.generationId).toBe(2);
  });
});
