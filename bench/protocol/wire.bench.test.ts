import { describe, expect, it } from 'vitest';
import { decodeRequest, type ProduceRequest } from '../../packages/protocol/src/index.ts';
import {
  decodeAndValidateFetch,
  decodeAndValidateProduce,
  makeFetchResponse,
  makeProduceFrame,
  produceRoundTrip,
  ratiosToCrc,
  runWireBench,
} from './wire.bench.ts';

const TINY = { records: { batches: 4, recordsPerBatch: 4, valueBytes: 600 }, partitions: 2 };

describe('protocol wire bench (smoke and zero-copy)', () => {
  it('decoded records are slices of the request frame, not copies', () => {
    const { frame } = makeProduceFrame(TINY);
    const body = decodeAndValidateProduce(frame);
    for (const p of body.topicData[0].partitionData) {
      expect(p.records!.buffer).toBe(frame.buffer);
      expect(p.records!.byteOffset).toBeGreaterThanOrEqual(frame.byteOffset);
    }
  });

  it('re-encoding references the record bytes and assigns offsets in place', () => {
    const { frame } = makeProduceFrame(TINY);
    const next = { value: 1000n };
    const out = produceRoundTrip(frame, next);
    const records = decodeRequest<ProduceRequest>(frame).body.topicData[0].partitionData.map(
      (p) => p.records!,
    );
    for (const r of records) expect(out.some((chunk) => chunk.buffer === r.buffer)).toBe(true);
    expect(records[0].readBigInt64BE(0)).toBe(1000n);
    expect(next.value).toBe(1000n + 16n);
    // the re-encoded frame decodes to the same (rewritten) request
    const again = decodeRequest<ProduceRequest>(Buffer.concat(out).subarray(4)).body;
    expect(again.topicData[0].partitionData[1].records!.equals(records[1])).toBe(true);
  });

  it('a fetch response round-trips and validates', async () => {
    const { frame } = makeProduceFrame(TINY);
    const sets = decodeAndValidateProduce(frame).topicData[0].partitionData.map((p) => p.records!);
    const { encodeResponse } = await import('../../packages/protocol/src/index.ts');
    const fetchFrame = Buffer.concat(encodeResponse(1, 12, 1, makeFetchResponse(sets))).subarray(4);
    const decoded = decodeAndValidateFetch(fetchFrame);
    expect(decoded.responses[0].partitions.map((p) => p.records!.length)).toEqual(sets.map((s) => s.length));
  });

  it('the suite runs and reports ratios to the CRC baseline', async () => {
    const results = await runWireBench(TINY, { timeMs: 5, warmupMs: 0, iterations: 2 });
    const ratios = ratiosToCrc(results);
    expect(ratios['crc32c (baseline)']).toBe(1);
    expect(Object.keys(ratios)).toHaveLength(5);
  });
});
