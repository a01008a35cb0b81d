import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BLOCK_HEADER_BYTES,
  DEFAULT_TAIL_BYTES_HINT,
  FLAG_MULTI_STREAM,
  ObjectWriter,
  parseFooter,
  parseIndex,
  tailRange,
} from '../src/index.ts';
import {
  batchBytes,
  type ModelBatch,
  modelArb,
  openObject,
  readFrom,
  writeModel,
} from './object-format-helpers.ts';

describe('stream object round trip', () => {
  it('reads back exactly the right batches for random queries (fast-check)', () => {
    fc.assert(
      fc.property(
        modelArb(),
        fc.integer({ min: 64, max: 4096 }),
        fc.integer({ min: 48, max: 8192 }),
        fc.array(
          fc.record({
            pick: fc.nat(),
            delta: fc.integer({ min: -60, max: 700 }),
            maxBytes: fc.integer({ min: 0, max: 10_000 }),
          }),
          { maxLength: 25 },
        ),
        (streams, blockBytesTarget, tailHint, queries) => {
          const { result, object } = writeModel(streams, blockBytesTarget);
          expect(result.size).toBe(object.length);
          const { index } = openObject(object, tailHint);
          expect(index.entries).toEqual(result.blocks);
          expect(index.footer.flags).toBe(streams.length > 1 ? FLAG_MULTI_STREAM : 0);
          // Per-stream ranges for metadata.
          expect(result.streams.map((s) => [s.streamId, s.startOffset, s.endOffset])).toEqual(
            streams.map((s) => {
              const last = s.batches[s.batches.length - 1] as ModelBatch;
              return [s.streamId, s.batches[0]?.baseOffset, last.baseOffset + last.count];
            }),
          );
          expect(result.streams.reduce((n, s) => n + s.size, 0)).toBe(index.footer.indexPosition);
          for (const b of result.blocks) {
            // A block exceeds the target only when it holds a single batch.
            if (b.size > blockBytesTarget) expect(b.batchCount).toBe(1);
          }
          for (const q of queries) {
            const s = streams[q.pick % Math.max(1, streams.length)];
            const streamId = s === undefined ? 7 : q.pick % 3 === 0 ? s.streamId + 1 : s.streamId;
            const model = streams.find((m) => m.streamId === streamId)?.batches ?? [];
            const start = model[0]?.baseOffset ?? 0;
            const offset = Math.max(0, start + q.delta);
            const expected = model.filter((b) => b.baseOffset + b.count > offset);
            const got = readFrom(object, index, streamId, offset, q.maxBytes);
            if (expected.length === 0) {
              expect(got.batches).toEqual([]);
              continue;
            }
            expect(got.batches.length).toBeGreaterThan(0);
            expect(got.batches.length).toBeLessThanOrEqual(expected.length);
            got.batches.forEach((b, i) => {
              const e = expected[i] as ModelBatch;
              expect([b.baseOffset, b.count]).toEqual([e.baseOffset, e.count]);
              expect(b.data.equals(e.data)).toBe(true);
              expect(b.data.buffer).toBe(object.buffer); // a view of the fetched bytes
            });
            const sizes = got.blockBytes;
            const beforeLast = sizes.slice(0, -1).reduce((n, x) => n + x, 0);
            expect(beforeLast).toBeLessThan(Math.max(1, q.maxBytes));
          }
          // Paging through each stream returns all of it, in order, once.
          for (const s of streams) {
            const seen: ModelBatch[] = [];
            let offset = s.batches[0]?.baseOffset ?? 0;
            for (;;) {
              const got = readFrom(object, index, s.streamId, offset, 1000);
              if (got.batches.length === 0) break;
              seen.push(...got.batches);
              const last = got.batches[got.batches.length - 1] as ModelBatch;
              offset = last.baseOffset + last.count;
            }
            expect(seen.map((b) => [b.baseOffset, b.count])).toEqual(
              s.batches.map((b) => [b.baseOffset, b.count]),
            );
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('fetches an index larger than the tail hint with a second GET of the missing head', () => {
    const writer = new ObjectWriter({ blockBytesTarget: 64 });
    for (let s = 0; s < 40; s++) {
      for (let o = 0; o < 100; o++) writer.add(s, o * 2, 2, batchBytes(s, o * 2, 30));
    }
    const result = writer.finish();
    const object = Buffer.concat(result.buffers);
    expect(result.blocks.length).toBe(4000);
    const range = tailRange(object.length, DEFAULT_TAIL_BYTES_HINT);
    const footer = parseFooter(object.subarray(range.start), object.length);
    expect(footer.complete).toBe(false);
    if (footer.complete) return;
    expect(footer.missing).toEqual({ start: footer.footer.indexPosition, end: range.start });
    const { index, gets } = openObject(object, DEFAULT_TAIL_BYTES_HINT);
    expect(gets).toBe(2);
    expect(index.entries).toEqual(result.blocks);
    const got = readFrom(object, index, 17, 101, 1);
    expect(got.batches.map((b) => b.baseOffset)).toEqual([100]);
    expect(got.batches[0]?.data.equals(batchBytes(17, 100, 30))).toBe(true);
    expect(index.streamRange(17)).toEqual({ startOffset: 0, endOffset: 200 });
    expect(index.streamRange(40)).toBeUndefined();
  });

  it('an empty object has an empty index; a huge batch gets a block of its own', () => {
    const empty = new ObjectWriter().finish();
    const { index } = openObject(Buffer.concat(empty.buffers), 1024);
    expect(index.entries).toEqual([]);
    expect(index.findBlocks(0, 0, 100)).toEqual([]);

    const writer = new ObjectWriter({ blockBytesTarget: 1024 });
    writer.add(3, 10, 1, batchBytes(3, 10, 100));
    const big = batchBytes(3, 11, 5000);
    writer.add(3, 11, 5, big);
    writer.add(3, 16, 1, batchBytes(3, 16, 100));
    const dataBytes = 3 * (BLOCK_HEADER_BYTES + 16) + 5200;
    expect(writer.bytes).toBe(dataBytes);
    const r = writer.finish();
    expect(r.size).toBe(dataBytes + 8 + 3 * 40 + 48);
    expect(r.buffers.some((b) => b === big)).toBe(true); // referenced, not copied
    expect(r.blocks.map((b) => [b.startOffset, b.endOffset, b.batchCount])).toEqual([
      [10, 11, 1],
      [11, 16, 1],
      [16, 17, 1],
    ]);
    expect(r.blocks[1]?.size).toBe(BLOCK_HEADER_BYTES + 16 + 5000);
  });

  it('rejects out-of-order, gapped and overlapping adds and bad arguments', () => {
    const w = new ObjectWriter();
    w.add(5, 10, 2, Buffer.alloc(1));
    expect(() => w.add(5, 11, 1, Buffer.alloc(1))).toThrow(/overlap/);
    expect(() => w.add(4, 0, 1, Buffer.alloc(1))).toThrow(/after stream 5/);
    expect(() => w.add(6, 0, 0, Buffer.alloc(1))).toThrow(RangeError);
    expect(() => w.add(-1, 0, 1, Buffer.alloc(1))).toThrow(RangeError);
    expect(() => w.add(6, 2 ** 53, 1, Buffer.alloc(1))).toThrow(RangeError);
    w.add(5, 12, 1, Buffer.alloc(1));
    w.add(6, 0, 1, Buffer.alloc(1));
    expect(w.finish().streams.map((s) => s.streamId)).toEqual([5, 6]);
    expect(() => w.add(7, 0, 1, Buffer.alloc(1))).toThrow(/after finish/);
  });

  it('starts a new range of a stream after a gap', () => {
    const w = new ObjectWriter();
    w.add(5, 10, 2, Buffer.alloc(3));
    w.add(5, 20, 1, Buffer.alloc(3));
    w.add(5, 21, 4, Buffer.alloc(3));
    w.add(6, 0, 1, Buffer.alloc(3));
    const r = w.finish();
    expect(r.streams.map((s) => [s.streamId, s.startOffset, s.endOffset])).toEqual([
      [5, 10, 12],
      [5, 20, 25],
      [6, 0, 1],
    ]);
    expect(r.blocks.map((b) => [b.streamId, b.startOffset, b.endOffset])).toEqual([
      [5, 10, 12],
      [5, 20, 25],
      [6, 0, 1],
    ]);
    const obj = Buffer.concat(r.buffers);
    const tail = parseFooter(obj.subarray(obj.length - Math.min(obj.length, 65536)), obj.length);
    if (!tail.complete) throw new Error('index not in tail');
    const index = parseIndex(tail.index, tail.footer);
    expect(index.findBlocks(5, 12, 1 << 20).map((b) => b.startOffset)).toEqual([20]);
    expect(index.findBlocks(5, 0, 1).map((b) => b.startOffset)).toEqual([10]);
  });

  it('rejects adds after finish', () => {
    const w = new ObjectWriter();
    w.add(6, 0, 1, Buffer.alloc(1));
    w.finish();
    expect(() => w.add(7, 0, 1, Buffer.alloc(1))).toThrow(/after finish/);
    expect(() => w.finish()).toThrow(/twice/);
    expect(() => new ObjectWriter({ blockBytesTarget: 0 })).toThrow(RangeError);
  });
});
