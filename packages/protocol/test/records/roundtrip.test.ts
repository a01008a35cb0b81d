import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CompressionCodec } from '../../src/compression/index.ts';
import {
  buildRecordBatch,
  iterateBatches,
  type RecordInput,
  readBatchHeader,
  readRecords,
  splitBatches,
  validateBatch,
  validateRecords,
} from '../../src/records/index.ts';

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((u) => Buffer.from(u));
const nullableBytes = (max: number) => fc.option(bytes(max), { nil: null });

const recordArb: fc.Arbitrary<RecordInput> = fc.record({
  key: nullableBytes(40),
  value: nullableBytes(300),
  headers: fc.array(fc.record({ key: fc.string({ maxLength: 12 }), value: nullableBytes(20) }), {
    maxLength: 4,
  }),
  timestamp: fc.integer({ min: 1_600_000_000_000 - 100_000, max: 1_600_000_000_000 + 100_000 }),
});

const CODECS: CompressionCodec[] = [0, 1, 2, 3, 4];

describe('RecordBatch v2 round trips', () => {
  for (const codec of CODECS) {
    it(`build → validate → read with codec ${codec}`, () => {
      fc.assert(
        fc.property(
          fc.array(recordArb, { minLength: 1, maxLength: 20 }),
          fc.bigInt({ min: 0n, max: 2n ** 62n }),
          fc.record({
            producerId: fc.bigInt({ min: -1n, max: 2n ** 40n }),
            producerEpoch: fc.integer({ min: -1, max: 32767 }),
            baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
            transactional: fc.boolean(),
            partitionLeaderEpoch: fc.integer({ min: -1, max: 1000 }),
          }),
          (records, baseOffset, opts) => {
            const batch = buildRecordBatch(records, { ...opts, baseOffset, compression: codec });
            const h = validateBatch(batch);
            expect(h.compression).toBe(codec);
            expect(h.baseOffset).toBe(baseOffset);
            expect(h.recordCount).toBe(records.length);
            expect(h.lastOffsetDelta).toBe(records.length - 1);
            expect(h.producerId).toBe(opts.producerId);
            expect(h.producerEpoch).toBe(opts.producerEpoch);
            expect(h.baseSequence).toBe(opts.baseSequence);
            expect(h.isTransactional).toBe(opts.transactional);
            expect(h.partitionLeaderEpoch).toBe(opts.partitionLeaderEpoch);
            expect(h.baseTimestamp).toBe(records[0].timestamp);
            expect(h.maxTimestamp).toBe(Math.max(...records.map((r) => r.timestamp!)));
            const out = readRecords(batch);
            expect(out.length).toBe(records.length);
            out.forEach((r, i) => {
              const want = records[i];
              expect(r.offset).toBe(baseOffset + BigInt(i));
              expect(r.offsetDelta).toBe(i);
              expect(r.timestamp).toBe(want.timestamp);
              expect(r.key).toEqual(want.key);
              expect(r.value).toEqual(want.value);
              expect(r.headers).toEqual(want.headers);
            });
          },
        ),
        { numRuns: codec === 0 ? 200 : 60 },
      );
    });
  }

  it('keeps keys and values as views into the batch (zero copy)', () => {
    const batch = buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('value') }], {
      timestamp: 1,
    });
    const [r] = readRecords(batch);
    expect(r.value!.buffer).toBe(batch.buffer);
    batch[batch.length - 2] ^= 0xff; // the last value byte, before the header count
    expect(r.value!.toString()).not.toBe('value');
  });

  it('handles negative timestamp deltas and NO_TIMESTAMP', () => {
    const batch = buildRecordBatch([{ timestamp: 1000 }, { timestamp: 10 }, { timestamp: 5000 }], {
      timestamp: 0,
    });
    const h = readBatchHeader(batch);
    expect(h.baseTimestamp).toBe(1000);
    expect(h.maxTimestamp).toBe(5000);
    expect(readRecords(batch).map((r) => r.timestampDelta)).toEqual([0, -990, 4000]);
    const none = buildRecordBatch([{ value: null, timestamp: -1 }]);
    expect(readBatchHeader(none).maxTimestamp).toBe(-1);
    expect(readRecords(none)[0].timestamp).toBe(-1);
  });

  it('iterates several batches without copying', () => {
    const batches = [1, 2, 3].map((n) =>
      buildRecordBatch(
        Array.from({ length: n }, (_, i) => ({ value: Buffer.alloc(i * 10) })),
        {
          baseOffset: BigInt(n * 100),
        },
      ),
    );
    const records = Buffer.concat(batches);
    const split = splitBatches(records);
    expect(split.length).toBe(3);
    split.forEach((b, i) => {
      expect(b.equals(batches[i])).toBe(true);
      expect(b.buffer).toBe(records.buffer);
    });
    const summary = validateRecords(records);
    expect(summary.batchCount).toBe(3);
    expect(summary.recordCount).toBe(6);
    // a partial tail is tolerated only when asked for
    const cut = records.subarray(0, records.length - 5);
    expect([...iterateBatches(cut, { allowPartialTail: true })].length).toBe(2);
    expect(() => splitBatches(cut)).toThrow(/truncated/);
  });

  it('builds an empty batch', () => {
    const batch = buildRecordBatch([], { timestamp: 5 });
    const h = validateBatch(batch, { strictCount: false });
    expect(h.recordCount).toBe(0);
    expect(h.lastOffsetDelta).toBe(-1);
    expect(readRecords(batch)).toEqual([]);
    expect(() => validateBatch(batch)).toThrow(/no records/);
  });
});
