/**
 * Record batches written by the Java client and by librdkafka (kcat) with each compression
 * codec decode to the same records (and to the fixture).
 */
import { describe, expect, it } from 'vitest';
import type { ProduceRequest } from '../../packages/protocol/src/generated/index.ts';
import { decodeRequest } from './capture/protocol.ts';
import { fixtureRecords } from './fixture.ts';
import { decodeBatches, produceBlob, withoutTimestamps } from './records.ts';
import {
  type ClientName,
  CODEC_ID,
  CODECS,
  type CodecName,
  produceScenario,
  readFrame,
  readIndex,
} from './scenarios.ts';

const index = readIndex();

function producedBy(client: ClientName, codec: CodecName) {
  const frames = index.filter(
    (e) => e.client === client && e.apiName === 'Produce' && e.scenario === produceScenario(codec),
  );
  expect(frames.length).toBeGreaterThan(0);
  const records = [];
  for (const e of frames) {
    const { blob } = produceBlob(decodeRequest(readFrame(e)).body as ProduceRequest);
    const decoded = decodeBatches(blob);
    for (const b of decoded.batches) expect(b.compression).toBe(CODEC_ID[codec]);
    records.push(...decoded.records);
  }
  return records;
}

describe('codecs: Java and librdkafka batches decode to the same records', () => {
  const expected = fixtureRecords();
  it.each(CODECS.map((c) => [c]))('%s', (codec) => {
    const java = producedBy('java', codec);
    const kcat = producedBy('kcat', codec);
    expect(java).toEqual(expected);
    expect(withoutTimestamps(kcat)).toEqual(withoutTimestamps(java));
  });

  it('every codec yields the same records for each client', () => {
    const base = withoutTimestamps(producedBy('java', 'none'));
    for (const client of ['java', 'kcat'] as const) {
      for (const codec of CODECS) expect(withoutTimestamps(producedBy(client, codec))).toEqual(base);
    }
  });
});
