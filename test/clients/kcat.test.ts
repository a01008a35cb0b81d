/**
 * kcat (librdkafka) against the broker: idempotent produce with every codec from stdin
 * (printable keys and values, nulls via -Z, the same headers on every record, timestamps set
 * by librdkafka: kcat cannot set them), consume back with -C -J (no group), offsets by
 * time / earliest / latest with -Q, metadata with -L. kcat has no admin commands.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConsumedRecord,
  expectSameRecords,
  makeRecords,
  RECORD_COUNT,
  scratchDir,
  startTestBroker,
  type TestBroker,
  type TestRecord,
  timestampBase,
} from './common.ts';
import { KCAT_CODECS, kcatConsume, kcatMetadata, kcatProduce, kcatQuery, kcatVersion } from './kcat.ts';

const HEADERS: [string, string][] = [
  ['trace', 'kcat-1'],
  ['h1', 'value with spaces'],
];

describe.sequential('kcat (librdkafka)', () => {
  let b: TestBroker;
  let files: ReturnType<typeof scratchDir>;
  let records: TestRecord[];
  let consumed: ConsumedRecord[] = [];
  beforeAll(async () => {
    await kcatVersion();
    b = await startTestBroker('kcat');
    files = scratchDir('kcat');
    // Printable keys and values without TAB or newline; kcat sends an empty field as null
    // (-Z), so empty values become one byte; headers are the -H ones on every record.
    records = makeRecords(RECORD_COUNT, 4, timestampBase(), { binary: false }).map((r) => ({
      ...r,
      value: r.value !== null && r.value.length === 0 ? Buffer.from('x') : r.value,
      headers: HEADERS.map(([k, v]): [string, Buffer] => [k, Buffer.from(v)]),
    }));
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    files?.remove();
  });

  for (const codec of KCAT_CODECS) {
    it(`idempotent produce + consume (-C -J, no group), 10,000 records, ${codec}`, async () => {
      const topic = `kcat-${codec}`;
      const before = Date.now();
      await kcatProduce(b.bootstrap, topic, codec, records, HEADERS);
      const after = Date.now();
      const got = await kcatConsume(
        b.bootstrap,
        topic,
        RECORD_COUNT,
        path.join(files.dir, `out-${codec}.json`),
      );
      expectSameRecords(got, records, 0, false);
      // Timestamps: librdkafka's CreateTime at send, non-decreasing in one partition here.
      for (let i = 0; i < got.length; i++) {
        const g = got[i] as (typeof got)[number];
        expect(g.tstype).toBe('create');
        expect(g.timestampMs).toBeGreaterThanOrEqual(before - 1000);
        expect(g.timestampMs).toBeLessThanOrEqual(after + 1000);
      }
      if (codec === 'none') consumed = got;
    }, 120_000);
  }

  it('metadata (-L): every produced topic with one partition', async () => {
    const md = await kcatMetadata(b.bootstrap);
    for (const codec of KCAT_CODECS) expect(md.get(`kcat-${codec}`)).toBe(1);
  }, 60_000);

  it('query offsets (-Q): earliest, latest and by the timestamps read back', async () => {
    expect(consumed.length).toBe(RECORD_COUNT);
    expect(await kcatQuery(b.bootstrap, 'kcat-none', -2)).toBe(0);
    expect(await kcatQuery(b.bootstrap, 'kcat-none', -1)).toBe(RECORD_COUNT);
    const ts = consumed.map((r) => r.timestampMs);
    const first = ts[0] as number;
    const last = ts[ts.length - 1] as number;
    const targets = [first - 10_000, first, ts[2500] as number, (ts[7777] as number) + 1, last, last + 1];
    for (const t of targets) {
      const i = ts.findIndex((x) => x >= t);
      expect(await kcatQuery(b.bootstrap, 'kcat-none', t), `target ${t}`).toBe(i < 0 ? -1 : i);
    }
  }, 120_000);

  it('long poll: a consumer waiting at the end of the partition receives records produced in 4 later bursts', async () => {
    const topic = 'kcat-follow';
    await kcatProduce(b.bootstrap, topic, 'none', records.slice(0, 1), HEADERS); // creates the topic
    const part = records.slice(1, 2001);
    const consuming = kcatConsume(
      b.bootstrap,
      topic,
      1 + part.length,
      path.join(files.dir, 'out-follow.json'),
      {
        follow: true,
        extra: ['-X', 'fetch.wait.max.ms=2000', '-X', 'fetch.min.bytes=1'],
      },
    );
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 400));
      await kcatProduce(
        b.bootstrap,
        topic,
        i % 2 === 0 ? 'lz4' : 'none',
        part.slice(i * 500, (i + 1) * 500),
        HEADERS,
      );
    }
    const got = await consuming;
    expectSameRecords(got, records.slice(0, 2001), 0, false);
  }, 120_000);

  it('3 idempotent producers at once on one partition: every record once, each producer in order', async () => {
    const topic = 'kcat-concurrent';
    const per = 3000;
    const sets = [0, 1, 2].map((p) =>
      Array.from(
        { length: per },
        (_, i): TestRecord => ({
          key: Buffer.from(`p${p}`),
          value: Buffer.from(`p${p}-${String(i).padStart(5, '0')}`),
          timestampMs: 0,
          headers: HEADERS.map(([k, v]): [string, Buffer] => [k, Buffer.from(v)]),
        }),
      ),
    );
    await kcatProduce(
      b.bootstrap,
      topic,
      'none',
      [{ key: null, value: Buffer.from('first'), timestampMs: 0, headers: [] }],
      HEADERS,
    );
    await Promise.all(
      sets.map((set, p) => kcatProduce(b.bootstrap, topic, KCAT_CODECS[p + 1] as string, set, HEADERS)),
    );
    const got = await kcatConsume(
      b.bootstrap,
      topic,
      1 + 3 * per,
      path.join(files.dir, 'out-concurrent.json'),
    );
    expect(got.length).toBe(1 + 3 * per);
    expect(got.map((r) => r.offset)).toEqual(got.map((_, i) => i));
    for (const [p, set] of sets.entries()) {
      const mine = got.filter((r) => r.key?.toString() === `p${p}`).map((r) => r.value?.toString());
      expect(mine).toEqual(set.map((r) => r.value?.toString()));
    }
  }, 120_000);
});
