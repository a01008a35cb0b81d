/**
 * The group APIs on the wire, at every advertised version (raw client): FindCoordinator 0–4,
 * JoinGroup 0–9, SyncGroup 0–5, Heartbeat 0–4, LeaveGroup 0–5, OffsetCommit 2–9,
 * OffsetFetch 1–9, DescribeGroups 0–5, ListGroups 0–4, DeleteGroups 0–2, OffsetDelete 0.
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { type Broker, startBroker } from '../src/index.ts';
import { RawClient } from './raw-client.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
});

async function broker(): Promise<{ b: Broker; c: RawClient }> {
  const b = await startBroker({
    port: 0,
    wal: 'memory://',
    objectStore: 'memory://',
    metadata: 'memory',
    groupInitialRebalanceDelayMs: 0,
    offsetsTopicPartitions: 4,
  });
  cleanups.push(() => b.close());
  const c = await RawClient.connect(b.address.port);
  cleanups.push(() => c.close());
  await c.request(ApiKey.CreateTopics, 7, {
    topics: [{ name: 't', numPartitions: 3, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  return { b, c };
}

const SUB = Buffer.from([0, 0, 0, 0, 0, 1, 0, 1, 116, 255, 255, 255, 255]); // ConsumerProtocolSubscription v0: ["t"], null

describe('group APIs on the wire', () => {
  it('FindCoordinator 0–4 names this broker', async () => {
    const { b, c } = await broker();
    for (let v = 0; v <= 3; v++) {
      const r = await c.request(ApiKey.FindCoordinator, v, { key: `g${v}`, keyType: 0, coordinatorKeys: [] });
      expect(r).toMatchObject({ errorCode: 0, nodeId: b.brokerId, port: b.address.port, host: '127.0.0.1' });
    }
    const r = await c.request(ApiKey.FindCoordinator, 4, {
      key: '',
      keyType: 0,
      coordinatorKeys: ['a', 'b'],
    });
    expect(
      r.coordinators.map((x: { key: string; errorCode: number; nodeId: number }) => [
        x.key,
        x.errorCode,
        x.nodeId,
      ]),
    ).toEqual([
      ['a', 0, b.brokerId],
      ['b', 0, b.brokerId],
    ]);
    const txn = await c.request(ApiKey.FindCoordinator, 4, { key: '', keyType: 1, coordinatorKeys: ['tx'] });
    expect(txn.coordinators[0].errorCode).toBe(0);
    const bad = await c.request(ApiKey.FindCoordinator, 3, { key: 'x', keyType: 7, coordinatorKeys: [] });
    expect(bad.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(b.topics.get('__consumer_offsets')?.partitions.length).toBe(4);
  });

  it('a whole group lifecycle at every version', async () => {
    const { c } = await broker();
    for (let v = 0; v <= 9; v++) {
      const groupId = `life-${v}`;
      const joinBody = (memberId: string) => ({
        groupId,
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        memberId,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: SUB }],
        reason: null,
      });
      let j = await c.request(ApiKey.JoinGroup, v, joinBody(''));
      if (v >= 4) {
        expect(j.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
        j = await c.request(ApiKey.JoinGroup, v, joinBody(j.memberId));
      }
      expect(j).toMatchObject({ errorCode: 0, generationId: 1, protocolName: 'range' });
      expect(j.leader).toBe(j.memberId);
      expect(j.members.length).toBe(1);
      const memberId: string = j.memberId;
      const sv = Math.min(v, 5);
      const s = await c.request(ApiKey.SyncGroup, sv, {
        groupId,
        generationId: 1,
        memberId,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments: [{ memberId, assignment: Buffer.from('assignment') }],
      });
      expect(s.errorCode).toBe(0);
      expect(Buffer.from(s.assignment).toString()).toBe('assignment');
      const hb = await c.request(ApiKey.Heartbeat, Math.min(v, 4), {
        groupId,
        generationId: 1,
        memberId,
        groupInstanceId: null,
      });
      expect(hb.errorCode).toBe(0);
      const cv = Math.min(Math.max(v, 2), 9);
      const commit = await c.request(ApiKey.OffsetCommit, cv, {
        groupId,
        generationIdOrMemberEpoch: 1,
        memberId,
        groupInstanceId: null,
        retentionTimeMs: -1n,
        topics: [
          {
            name: 't',
            partitions: [
              {
                partitionIndex: 0,
                committedOffset: 10n + BigInt(v),
                committedLeaderEpoch: 0,
                commitTimestamp: -1n,
                committedMetadata: 'md',
              },
              {
                partitionIndex: 9,
                committedOffset: 1n,
                committedLeaderEpoch: -1,
                commitTimestamp: -1n,
                committedMetadata: null,
              },
            ],
          },
          {
            name: 'nope',
            partitions: [
              {
                partitionIndex: 0,
                committedOffset: 1n,
                committedLeaderEpoch: -1,
                commitTimestamp: -1n,
                committedMetadata: null,
              },
            ],
          },
        ],
      });
      expect(
        commit.topics.map((t: { partitions: { errorCode: number }[] }) =>
          t.partitions.map((p) => p.errorCode),
        ),
      ).toEqual([[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION], [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]);
      const fv = Math.max(1, v);
      const fetched =
        fv >= 8
          ? (
              await c.request(ApiKey.OffsetFetch, fv, {
                groupId: '',
                topics: [],
                groups: [
                  {
                    groupId,
                    memberId: null,
                    memberEpoch: -1,
                    topics: [{ name: 't', partitionIndexes: [0, 1] }],
                  },
                ],
                requireStable: true,
              })
            ).groups[0].topics
          : (
              await c.request(ApiKey.OffsetFetch, fv, {
                groupId,
                topics: [{ name: 't', partitionIndexes: [0, 1] }],
                groups: [],
                requireStable: false,
              })
            ).topics;
      expect(
        fetched[0].partitions.map((p: { committedOffset: bigint; metadata: string }) => [
          p.committedOffset,
          p.metadata,
        ]),
      ).toEqual([
        [10n + BigInt(v), 'md'],
        [-1n, ''],
      ]);
      const dv = Math.min(v, 5);
      const d = await c.request(ApiKey.DescribeGroups, dv, {
        groups: [groupId],
        includeAuthorizedOperations: dv >= 3,
      });
      expect(d.groups[0]).toMatchObject({
        errorCode: 0,
        groupState: 'Stable',
        protocolType: 'consumer',
        protocolData: 'range',
      });
      expect(d.groups[0].members[0].memberId).toBe(memberId);
      expect(d.groups[0].members[0].clientHost).toBe('/127.0.0.1');
      expect(Buffer.from(d.groups[0].members[0].memberAssignment).toString()).toBe('assignment');
      const lv = Math.min(v, 5);
      const leave =
        lv >= 3
          ? await c.request(ApiKey.LeaveGroup, lv, {
              groupId,
              memberId: '',
              members: [{ memberId, groupInstanceId: null, reason: null }],
            })
          : await c.request(ApiKey.LeaveGroup, lv, { groupId, memberId, members: [] });
      expect(leave.errorCode).toBe(0);
      if (lv >= 3) expect(leave.members[0].errorCode).toBe(0);
      const d2 = await c.request(ApiKey.DescribeGroups, dv, {
        groups: [groupId],
        includeAuthorizedOperations: false,
      });
      expect(d2.groups[0].groupState).toBe('Empty');
      const lg = await c.request(ApiKey.ListGroups, Math.min(v, 4), {
        statesFilter: v >= 4 ? ['empty'] : [],
        typesFilter: [],
      });
      expect(lg.groups.map((g: { groupId: string }) => g.groupId)).toContain(groupId);
      const del = await c.request(ApiKey.DeleteGroups, Math.min(v, 2), { groupsNames: [groupId, 'never'] });
      expect(del.results.map((r: { errorCode: number }) => r.errorCode)).toEqual([
        0,
        ErrorCode.GROUP_ID_NOT_FOUND,
      ]);
    }
  });

  it('OffsetCommit limits, simple commits, OffsetFetch of all topics, OffsetDelete', async () => {
    const { c } = await broker();
    const commit = (metadata: string) =>
      c.request(ApiKey.OffsetCommit, 8, {
        groupId: 'simple',
        generationIdOrMemberEpoch: -1,
        memberId: '',
        groupInstanceId: null,
        retentionTimeMs: -1n,
        topics: [
          {
            name: 't',
            partitions: [
              {
                partitionIndex: 1,
                committedOffset: 5n,
                committedLeaderEpoch: -1,
                commitTimestamp: -1n,
                committedMetadata: metadata,
              },
            ],
          },
        ],
      });
    expect((await commit('x'.repeat(4097))).topics[0].partitions[0].errorCode).toBe(
      ErrorCode.OFFSET_METADATA_TOO_LARGE,
    );
    expect((await commit('x'.repeat(4096))).topics[0].partitions[0].errorCode).toBe(0);
    const all = await c.request(ApiKey.OffsetFetch, 7, {
      groupId: 'simple',
      topics: null,
      groups: [],
      requireStable: true,
    });
    expect(all.errorCode).toBe(0);
    expect(
      all.topics.map(
        (t: { name: string; partitions: { partitionIndex: number; committedOffset: bigint }[] }) => [
          t.name,
          t.partitions.map((p) => [p.partitionIndex, p.committedOffset]),
        ],
      ),
    ).toEqual([['t', [[1, 5n]]]]);
    const od = await c.request(ApiKey.OffsetDelete, 0, {
      groupId: 'simple',
      topics: [
        { name: 't', partitions: [{ partitionIndex: 1 }] },
        { name: 'nope', partitions: [{ partitionIndex: 0 }] },
      ],
    });
    expect(od.errorCode).toBe(0);
    expect(od.topics.map((t: { partitions: { errorCode: number }[] }) => t.partitions[0]!.errorCode)).toEqual(
      [0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    );
    const after = await c.request(ApiKey.OffsetFetch, 8, {
      groupId: '',
      topics: [],
      groups: [{ groupId: 'simple', memberId: null, memberEpoch: -1, topics: null }],
      requireStable: false,
    });
    expect(after.groups[0].topics).toEqual([]);
    const od2 = await c.request(ApiKey.OffsetDelete, 0, { groupId: 'none', topics: [] });
    expect(od2.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    const d = await c.request(ApiKey.DescribeGroups, 5, {
      groups: ['none'],
      includeAuthorizedOperations: false,
    });
    expect(d.groups[0]).toMatchObject({ errorCode: 0, groupState: 'Dead' });
  });

  it('deleting a topic removes its committed offsets', async () => {
    const { c } = await broker();
    const commit = await c.request(ApiKey.OffsetCommit, 8, {
      groupId: 'del',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [
        {
          name: 't',
          partitions: [0, 1, 2].map((partitionIndex) => ({
            partitionIndex,
            committedOffset: 3n,
            committedLeaderEpoch: -1,
            commitTimestamp: -1n,
            committedMetadata: null,
          })),
        },
      ],
    });
    expect(commit.topics[0].partitions.map((p: { errorCode: number }) => p.errorCode)).toEqual([0, 0, 0]);
    const del = await c.request(ApiKey.DeleteTopics, 5, { topics: [], topicNames: ['t'], timeoutMs: 5000 });
    expect(del.responses[0].errorCode).toBe(0);
    await c.request(ApiKey.CreateTopics, 7, {
      topics: [{ name: 't', numPartitions: 3, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    const got = await c.request(ApiKey.OffsetFetch, 7, {
      groupId: 'del',
      topics: null,
      groups: [],
      requireStable: false,
    });
    expect(got.topics).toEqual([]);
  });
});
