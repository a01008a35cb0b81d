/**
 * Acknowledged offset commits survive a SIGKILL of the broker process (`tributary start`,
 * file WAL): a client pipelines OffsetCommits with increasing offsets; the broker is killed
 * mid-stream; after a restart on the same data dir, every partition's committed offset is at
 * least the last one acknowledged (and one that was sent).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKey } from '@tributary/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerProcess, freePort } from '../../../test/broker/helpers.ts';
import { RawClient } from './raw-client.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
});

const PARTITIONS = 4;

function commit(c: RawClient, offset: bigint) {
  return c.request(ApiKey.OffsetCommit, 8, {
    groupId: 'sk',
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1n,
    topics: [
      {
        name: 'sk',
        partitions: Array.from({ length: PARTITIONS }, (_, partitionIndex) => ({
          partitionIndex,
          committedOffset: offset,
          committedLeaderEpoch: -1,
          commitTimestamp: -1n,
          committedMetadata: `m${offset}`,
        })),
      },
    ],
  });
}

describe('offset commits across a broker SIGKILL', () => {
  it('every acknowledged commit is there after the restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trib-groups-kill-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    const b1 = await BrokerProcess.start(port, dir);
    cleanups.push(() => b1.crash());
    const c1 = await RawClient.connect(port);
    cleanups.push(() => c1.close());
    await c1.request(ApiKey.CreateTopics, 7, {
      topics: [{ name: 'sk', numPartitions: PARTITIONS, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    let acked = -1n;
    let sent = 0n;
    let killed = false;
    const inFlight: Promise<unknown>[] = [];
    // Pipelined commits, 8 in flight; SIGKILL once 200 were acknowledged.
    const pump = async () => {
      while (!killed) {
        const offset = ++sent;
        const p = commit(c1, offset).then(
          (r: { topics: { partitions: { errorCode: number }[] }[] }) => {
            if (r.topics[0]!.partitions.every((x) => x.errorCode === 0) && offset > acked) acked = offset;
          },
          () => {},
        );
        inFlight.push(p);
        if (inFlight.length >= 8) await inFlight.shift();
        if (acked >= 200n && !killed) {
          killed = true;
          await b1.crash();
        }
      }
    };
    await pump();
    await Promise.allSettled(inFlight);
    const lastAcked = acked;
    expect(lastAcked).toBeGreaterThanOrEqual(200n);

    const b2 = await BrokerProcess.start(port, dir);
    cleanups.push(() => b2.stop());
    const c2 = await RawClient.connect(port);
    cleanups.push(() => c2.close());
    const got = await c2.request(ApiKey.OffsetFetch, 8, {
      groupId: '',
      topics: [],
      groups: [{ groupId: 'sk', memberId: null, memberEpoch: -1, topics: null }],
      requireStable: true,
    });
    const parts = got.groups[0].topics[0].partitions as {
      committedOffset: bigint;
      metadata: string;
      errorCode: number;
    }[];
    expect(parts.length).toBe(PARTITIONS);
    for (const p of parts) {
      expect(p.errorCode).toBe(0);
      expect(p.committedOffset).toBeGreaterThanOrEqual(lastAcked);
      expect(p.committedOffset).toBeLessThanOrEqual(sent);
      expect(p.metadata).toBe(`m${p.committedOffset}`);
    }
    console.log(
      `groups sigkill: last acknowledged ${lastAcked}, sent ${sent}, after restart ${parts[0]!.committedOffset}`,
    );
  }, 120_000);
});
