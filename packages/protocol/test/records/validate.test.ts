import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/primitives/errors.ts';
import {
  buildControlBatch,
  buildRecordBatch,
  isBatchCrcValid,
  parseControlRecord,
  RecordBatchError,
  readBatchHeader,
  readRecords,
  recordErrorCode,
  setBaseOffset,
  setLogAppendTime,
  setMaxTimestamp,
  setPartitionLeaderEpoch,
  splitBatches,
  updateBatchCrc,
  validateBatch,
  validateRecords,
} from '../../src/records/index.ts';

const sample = (compression: 0 | 1 | 2 | 3 | 4 = 0) =>
  buildRecordBatch(
    Array.from({ length: 5 }, (_, i) => ({
      key: Buffer.from(`key-${i}`),
      value: Buffer.alloc(50 + i, i),
      headers: [{ key: 'h', value: Buffer.from([i]) }],
    })),
    { timestamp: 1_700_000_000_000, compression, producerId: 7n, producerEpoch: 1, baseSequence: 0 },
  );

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return recordErrorCode(e);
  }
  return 'no error';
}

describe('RecordBatch validation', () => {
  it('detects a corrupted CRC and corrupted content', () => {
    const b = sample();
    const crcBroken = Buffer.from(b);
    crcBroken[18] ^= 1;
    expect(codeOf(() => validateBatch(crcBroken))).toBe('CORRUPT_MESSAGE');
    for (let at = 21; at < b.length; at += 7) {
      const c = Buffer.from(b);
      c[at] ^= 0x40;
      expect(codeOf(() => validateBatch(c))).toBe('CORRUPT_MESSAGE');
    }
  });

  it('rejects magic 0 and 1 as unsupported, other magics as corrupt', () => {
    for (const magic of [0, 1]) {
      const b = sample();
      b[16] = magic;
      expect(codeOf(() => validateBatch(b))).toBe('UNSUPPORTED_FOR_MESSAGE_FORMAT');
      expect(codeOf(() => splitBatches(b))).toBe('UNSUPPORTED_FOR_MESSAGE_FORMAT');
      try {
        validateBatch(b);
      } catch (e) {
        expect((e as ProtocolError).kind).toBe('unsupported');
        expect((e as Error).message).toMatch(/v[01]/);
      }
    }
    const b = sample();
    b[16] = 3;
    expect(codeOf(() => validateBatch(b))).toBe('CORRUPT_MESSAGE');
  });

  it('checks lengths and record counts', () => {
    const b = sample();
    const short = Buffer.from(b);
    short.writeInt32BE(10, 8);
    expect(codeOf(() => validateBatch(short))).toBe('CORRUPT_MESSAGE');
    expect(codeOf(() => validateBatch(b.subarray(0, b.length - 1)))).toBe('CORRUPT_MESSAGE');

    const count = Buffer.from(b);
    count.writeInt32BE(4, 57);
    updateBatchCrc(count);
    expect(codeOf(() => validateBatch(count))).toBe('INVALID_RECORD');
    expect(validateBatch(count, { strictCount: false }).recordCount).toBe(4);
    // ...but the records section then holds an extra record
    expect(codeOf(() => readRecords(count))).toBe('INVALID_RECORD');

    const huge = Buffer.from(b);
    huge.writeInt32BE(1_000_000, 57);
    updateBatchCrc(huge);
    expect(codeOf(() => validateBatch(huge, { strictCount: false }))).toBe('CORRUPT_MESSAGE');

    const codec = Buffer.from(b);
    codec.writeInt16BE(6, 21);
    updateBatchCrc(codec);
    expect(codeOf(() => validateBatch(codec))).toBe('UNSUPPORTED_COMPRESSION_TYPE');

    expect(codeOf(() => validateBatch(b, { maxBatchBytes: 100 }))).toBe('INVALID_RECORD');
    expect(codeOf(() => validateRecords(Buffer.alloc(0)))).toBe('INVALID_RECORD');
  });

  it('rejects control batches from clients when asked', () => {
    const ctl = buildControlBatch({ type: 'commit', producerId: 1n, producerEpoch: 0, coordinatorEpoch: 3 });
    expect(validateBatch(ctl).isControl).toBe(true);
    expect(codeOf(() => validateBatch(ctl, { allowControl: false }))).toBe('INVALID_RECORD');
  });

  it('rewrites baseOffset and partitionLeaderEpoch without touching the CRC', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
        fc.integer({ min: -1, max: 2 ** 31 - 1 }),
        (o, e) => {
          const b = sample(3);
          const crc = b.readUInt32BE(17);
          setBaseOffset(b, o);
          setPartitionLeaderEpoch(b, e);
          expect(b.readUInt32BE(17)).toBe(crc);
          const h = validateBatch(b);
          expect(h.baseOffset).toBe(o);
          expect(h.partitionLeaderEpoch).toBe(e);
          expect(readRecords(b)[4].offset).toBe(o + 4n);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('stamps LogAppendTime with a CRC recompute', () => {
    const b = sample(4);
    setLogAppendTime(b, 1_800_000_000_123);
    expect(isBatchCrcValid(b)).toBe(true);
    const h = validateBatch(b);
    expect(h.timestampType).toBe('log-append');
    expect(h.maxTimestamp).toBe(1_800_000_000_123);
    expect(readRecords(b).every((r) => r.timestamp === 1_800_000_000_123)).toBe(true);
    setMaxTimestamp(b, -1);
    expect(validateBatch(b).maxTimestamp).toBe(-1);
  });
});

describe('control batches', () => {
  it('have the exact layout of a transaction marker', () => {
    const b = buildControlBatch({
      type: 'abort',
      producerId: 42n,
      producerEpoch: 5,
      coordinatorEpoch: 9,
      timestamp: 1234,
      baseOffset: 100n,
    });
    const h = validateBatch(b);
    expect(h.attributes).toBe(0x30); // transactional | control, no compression, CreateTime
    expect([h.producerId, h.producerEpoch, h.baseSequence, h.recordCount]).toEqual([42n, 5, -1, 1]);
    const [r] = readRecords(b);
    expect(r.key!.toString('hex')).toBe('00000000');
    expect(r.value!.toString('hex')).toBe('000000000009');
    expect(r.headers).toEqual([]);
    expect(r.offset).toBe(100n);
    expect(parseControlRecord(r)).toEqual({ type: 'abort', typeId: 0, version: 0, coordinatorEpoch: 9 });
    const commit = readRecords(
      buildControlBatch({ type: 'commit', producerId: 1n, producerEpoch: 0, coordinatorEpoch: 0 }),
    );
    expect(parseControlRecord(commit[0]).type).toBe('commit');
    expect(() => parseControlRecord({ key: Buffer.alloc(2), value: null })).toThrow(RecordBatchError);
  });
});

describe('fuzzing: hostile input raises only ProtocolError', () => {
  const valid = [0, 1, 2, 3, 4].map((c) => sample(c as 0));
  const tryAll = (buf: Buffer) => {
    for (const fn of [
      () => validateRecords(buf, { strictCount: false }),
      () => {
        for (const b of splitBatches(buf)) readBatchHeader(b);
      },
      () => {
        for (const b of splitBatches(buf, { allowPartialTail: true }))
          readRecords(b, { maxDecompressedBytes: 1 << 16 });
      },
    ]) {
      try {
        fn();
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
      }
    }
  };

  it('garbage', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (u) => tryAll(Buffer.from(u))),
      { numRuns: 500 },
    );
  });

  it('truncated and bit-flipped valid batches (CRC fixed up so records get decoded)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.boolean(),
        (which, flips, cut, fixCrc) => {
          const b = Buffer.from(valid[which]);
          for (const [at, x] of flips) b[21 + (at % (b.length - 21))] ^= x;
          if (fixCrc) updateBatchCrc(b);
          tryAll(b);
          tryAll(b.subarray(0, cut % (b.length + 1)));
        },
      ),
      { numRuns: 500 },
    );
  });
});
