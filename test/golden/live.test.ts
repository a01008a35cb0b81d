/**
 * Runs the real kcat (librdkafka) against the capture listener during the test run, so a
 * real client is exercised in CI and not only through committed fixtures. kcat is a
 * required tool (scripts/install-tools.sh): when it is missing this test FAILS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProduceRequest } from '../../packages/protocol/src/generated/index.ts';
import { FakeBroker } from './capture/broker.ts';
import { CaptureListener } from './capture/listener.ts';
import { decodeRequest, encodeRequest } from './capture/protocol.ts';
import { kcatConsume, kcatProduce, kcatVersion } from './clients/kcat.ts';
import { fixtureRecords } from './fixture.ts';
import { decodeBatches, produceBlob, withoutTimestamps } from './records.ts';
import { CODEC_ID, type CodecName } from './scenarios.ts';

describe('live: kcat against the capture listener', () => {
  let listener: CaptureListener;

  beforeAll(async () => {
    const broker = new FakeBroker();
    listener = await CaptureListener.start((f) => broker.handle(f));
    broker.setPort(listener.port);
  });

  afterAll(async () => {
    await listener?.close();
  });

  it('kcat is installed', async () => {
    let version: Awaited<ReturnType<typeof kcatVersion>>;
    try {
      version = await kcatVersion();
    } catch (err) {
      throw new Error(`kcat is required: run scripts/install-tools.sh (${String(err)})`);
    }
    expect(version.librdkafka).not.toBe('unknown');
  });

  it.each([['zstd'], ['gzip']] as [CodecName][])(
    'produces with %s and the Produce frame decodes',
    async (codec) => {
      const topic = `live-kcat-${codec}`;
      listener.scenario = `live-${codec}`;
      await kcatProduce(listener.address, topic, codec, fixtureRecords(), true);
      expect(listener.errors).toEqual([]);
      const produced = listener.frames.filter((f) => f.scenario === `live-${codec}` && f.apiKey === 0);
      expect(produced.length).toBeGreaterThan(0);
      const records = [];
      for (const f of produced) {
        const { header, body } = decodeRequest(f.bytes);
        expect(encodeRequest(header, body).equals(f.bytes)).toBe(true);
        const req = body as ProduceRequest;
        expect(req.acks).toBe(-1);
        const { topic: t, blob } = produceBlob(req);
        expect(t).toBe(topic);
        const decoded = decodeBatches(blob);
        for (const b of decoded.batches) expect(b.compression).toBe(CODEC_ID[codec]);
        records.push(...decoded.records);
      }
      expect(withoutTimestamps(records)).toEqual(withoutTimestamps(fixtureRecords()));
    },
  );

  it('consumes the records back', async () => {
    listener.scenario = 'live-consume';
    const lines = await kcatConsume(listener.address, 'live-kcat-zstd', fixtureRecords().length);
    const expected = fixtureRecords().map((r) =>
      [r.key ?? 'NULL', r.value ?? 'NULL', r.headers.map((h) => `${h.key}=${h.value}`).join(',')].join('\t'),
    );
    expect(lines).toEqual(expected);
    expect(listener.errors).toEqual([]);
  });
});
