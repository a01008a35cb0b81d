/** Shared builders for the object-format tests: a model of an object and a full reader. */
import fc from 'fast-check';
import {
  blocksRange,
  joinIndex,
  type ObjectIndex,
  type ObjectWriteResult,
  ObjectWriter,
  parseFooter,
  parseIndex,
  type ReadBatch,
  readBlock,
  selectBatches,
  tailRange,
} from '../src/index.ts';

/** One batch of the model. */
export interface ModelBatch {
  baseOffset: number;
  count: number;
  data: Buffer;
}

/** One stream of the model, batches contiguous. */
export interface ModelStream {
  streamId: number;
  batches: ModelBatch[];
}

/** Deterministic bytes for a batch, so a wrong batch never compares equal. */
export function batchBytes(streamId: number, baseOffset: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let x = (streamId * 2654435761 + baseOffset * 40503 + 1) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}

/** fast-check arbitrary for a multi-stream object model. */
export function modelArb(maxStreams = 12, maxBatches = 12, maxBatchBytes = 3000) {
  const stream = fc.record({
    gap: fc.integer({ min: 1, max: 1000 }),
    start: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constant(2 ** 53 - 100_000)),
    batches: fc.array(
      fc.record({
        count: fc.integer({ min: 1, max: 50 }),
        bytes: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: maxBatchBytes })),
      }),
      { minLength: 1, maxLength: maxBatches },
    ),
  });
  return fc.array(stream, { minLength: 0, maxLength: maxStreams }).map((specs) => {
    const streams: ModelStream[] = [];
    let id = -1;
    for (const s of specs) {
      id += s.gap;
      let offset = s.start;
      const batches = s.batches.map((b) => {
        const batch = { baseOffset: offset, count: b.count, data: batchBytes(id, offset, b.bytes) };
        offset += b.count;
        return batch;
      });
      streams.push({ streamId: id, batches });
    }
    return streams;
  });
}

/** Writes the model into an object. */
export function writeModel(
  streams: readonly ModelStream[],
  blockBytesTarget: number,
): { result: ObjectWriteResult; object: Buffer } {
  const writer = new ObjectWriter({ blockBytesTarget });
  for (const s of streams) {
    for (const b of s.batches) writer.add(s.streamId, b.baseOffset, b.count, b.data);
  }
  const result = writer.finish();
  return { result, object: Buffer.concat(result.buffers) };
}

/** Reads footer and index like a client: one tail GET, and a second one when needed. */
export function openObject(object: Buffer, tailBytesHint: number): { index: ObjectIndex; gets: number } {
  const range = tailRange(object.length, tailBytesHint);
  const footer = parseFooter(object.subarray(range.start, range.end), object.length);
  if (footer.complete) return { index: parseIndex(footer.index, footer.footer), gets: 1 };
  const extra = object.subarray(footer.missing.start, footer.missing.end);
  return { index: parseIndex(joinIndex(footer, extra), footer.footer), gets: 2 };
}

/** One read like a client: find blocks, GET their single range, read and select batches. */
export function readFrom(
  object: Buffer,
  index: ObjectIndex,
  streamId: number,
  offset: number,
  maxBytes: number,
): { batches: ReadBatch[]; blockBytes: number[] } {
  const blocks = index.findBlocks(streamId, offset, maxBytes);
  if (blocks.length === 0) return { batches: [], blockBytes: [] };
  const range = blocksRange(blocks);
  const buf = object.subarray(range.start, range.end);
  const all: ReadBatch[] = [];
  for (const b of blocks) all.push(...readBlock(buf, b, range.start).batches);
  return { batches: selectBatches(all, offset), blockBytes: blocks.map((b) => b.size) };
}
