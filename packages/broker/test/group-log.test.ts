import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { javaStringHash, OFFSETS_TOPIC, TopicGroupLog } from '../src/groups/log.ts';
import { startBroker } from '../src/index.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
});

describe('group log on __consumer_offsets', () => {
  it('maps groups like Kafka (abs(String.hashCode) % partitions)', () => {
    expect(javaStringHash('')).toBe(0);
    expect(javaStringHash('hello')).toBe(99162322);
    expect(javaStringHash('my-group-with-a-long-name-1234567890')).toBe(
      javaStringHash('my-group-with-a-long-name-1234567890'),
    );
    const log = new TopicGroupLog({} as never, 50);
    expect(log.partitionFor('hello')).toBe(99162322 % 50);
    for (const g of ['a', 'group-1', 'éé', 'x'.repeat(100)]) {
      const p = log.partitionFor(g);
      expect(p >= 0 && p < 50).toBe(true);
    }
  });

  it('appends durably and replays in order after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trib-glog-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const o = { port: 0, dataDir: dir, walBytes: 16 << 20 };
    const b1 = await startBroker(o);
    const log1 = new TopicGroupLog(b1, 4);
    const p = log1.partitionFor('g1');
    expect(await log1.append(p, [{ key: Buffer.from('k1'), value: Buffer.from('v1') }])).toBe(0);
    expect(
      await log1.append(p, [
        { key: Buffer.from('k2'), value: null },
        { key: Buffer.from('k1'), value: Buffer.from('v1b') },
      ]),
    ).toBe(1);
    expect(b1.topics.get(OFFSETS_TOPIC)?.partitions.length).toBe(4);
    await b1.kill();
    const b2 = await startBroker(o);
    cleanups.push(() => b2.close());
    const log2 = new TopicGroupLog(b2, 4);
    const got = [];
    for await (const r of log2.replay(p)) got.push([r.offset, r.key.toString(), r.value?.toString() ?? null]);
    expect(got).toEqual([
      [0, 'k1', 'v1'],
      [1, 'k2', null],
      [2, 'k1', 'v1b'],
    ]);
  });
});
