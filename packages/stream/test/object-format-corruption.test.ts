import { crc32c } from '@tributary/crc32c';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FOOTER_BYTES,
  FOOTER_CRC_AT,
  INDEX_MAGIC,
  joinIndex,
  ObjectFormatError,
  type ObjectFormatErrorKind,
  type ObjectFormatPart,
  type ObjectIndexEntry,
  parseFooter,
  parseIndex,
  readBlock,
} from '../src/index.ts';
import { batchBytes, modelArb, openObject, writeModel } from './object-format-helpers.ts';

function formatError(fn: () => unknown): ObjectFormatError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ObjectFormatError) return err;
    throw err;
  }
  throw new Error('expected an ObjectFormatError, nothing was thrown');
}

function expectFormatError(fn: () => unknown, kind: ObjectFormatErrorKind, part: ObjectFormatPart): void {
  const err = formatError(fn);
  expect([err.kind, err.part, err.message]).toEqual([kind, part, expect.any(String)]);
}

function sample(blockBytesTarget = 256) {
  const streams = [0, 3, 9].map((streamId) => ({
    streamId,
    batches: Array.from({ length: 8 }, (_, i) => ({
      baseOffset: 100 + i * 3,
      count: 3,
      data: batchBytes(streamId, 100 + i * 3, 20 + i * 40),
    })),
  }));
  return writeModel(streams, blockBytesTarget);
}

/** Reads everything the object holds (full tail), as a reader would. */
function readAll(object: Buffer, blocks: readonly ObjectIndexEntry[]): void {
  const { index } = openObject(object, object.length);
  for (const b of index.entries) readBlock(object.subarray(b.position, b.position + b.size), b);
  expect(index.entries).toEqual(blocks);
}

describe('stream object corruption', () => {
  it('a flipped byte anywhere is a typed error naming the damaged part (fast-check)', () => {
    fc.assert(
      fc.property(
        modelArb(5, 8, 600).filter((s) => s.length > 0),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (streams, where, mask) => {
          const { result, object } = writeModel(streams, 300);
          const bad = Buffer.from(object);
          const at = where % bad.length;
          bad[at] = (bad[at] as number) ^ mask;
          const indexPos = result.blocks.reduce((n, b) => n + b.size, 0);
          if (at >= bad.length - FOOTER_BYTES) {
            expectFormatError(() => openObject(bad, 64), 'corrupt', 'footer');
          } else if (at >= indexPos) {
            expectFormatError(() => openObject(bad, 64), 'corrupt', 'index');
            expectFormatError(() => openObject(bad, bad.length), 'corrupt', 'index');
          } else {
            const { index } = openObject(bad, 100);
            for (const b of index.entries) {
              const read = () => readBlock(bad.subarray(b.position, b.position + b.size), b);
              if (at >= b.position && at < b.position + b.size) {
                expectFormatError(read, 'corrupt', 'block');
              } else {
                const good = readBlock(object.subarray(b.position, b.position + b.size), b);
                expect(read()).toEqual(good);
              }
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('checks a block against its index entry even when the block CRC is fine', () => {
    const { result, object } = sample();
    const [first, second] = result.blocks as [ObjectIndexEntry, ObjectIndexEntry];
    const block = object.subarray(second.position, second.position + second.size);
    expectFormatError(() => readBlock(block, first), 'corrupt', 'block');
    expectFormatError(() => readBlock(block, { ...second, startOffset: 0 }), 'corrupt', 'block');
    expectFormatError(() => readBlock(block, { ...second, batchCount: 9 }), 'corrupt', 'block');
    expect(readBlock(object, second, 0).batches.length).toBe(second.batchCount);
    expectFormatError(() => readBlock(block, second, second.position + 1), 'corrupt', 'block');
  });

  it('reports truncation of the object, the tail, the index fetch and a block', () => {
    const { result, object } = sample();
    readAll(object, result.blocks);
    expectFormatError(() => parseFooter(object.subarray(-40), object.length), 'truncated', 'footer');
    expectFormatError(() => parseFooter(Buffer.alloc(50), 50), 'truncated', 'footer');
    // The object lost its head: the footer names a bigger size.
    expectFormatError(() => parseFooter(object.subarray(10), object.length - 10), 'truncated', 'footer');
    // The object lost its tail: no footer at the end.
    for (const cut of [1, 7, FOOTER_BYTES, FOOTER_BYTES + 13, object.length - 60]) {
      const short = object.subarray(0, object.length - cut);
      const err = formatError(() => openObject(short, 4096));
      expect(err.part).toBe('footer');
    }
    const tail = object.subarray(-100);
    const footer = parseFooter(tail, object.length);
    expect(footer.complete).toBe(false);
    if (footer.complete) return;
    const missing = object.subarray(footer.missing.start, footer.missing.end);
    expectFormatError(() => joinIndex(footer, missing.subarray(1)), 'truncated', 'index');
    const index = joinIndex(footer, missing);
    expectFormatError(() => parseIndex(index.subarray(0, -1), footer.footer), 'truncated', 'index');
    expectFormatError(
      () => parseIndex(Buffer.concat([index, Buffer.alloc(1)]), footer.footer),
      'corrupt',
      'index',
    );
    const b = result.blocks[2] as ObjectIndexEntry;
    const cutBlock = object.subarray(b.position, b.position + b.size - 1);
    expectFormatError(() => readBlock(cutBlock, b), 'truncated', 'block');
  });

  it('rejects an unknown format version or unknown flags with a valid CRC', () => {
    const { object } = sample();
    const rewrite = (at: number, value: number) => {
      const copy = Buffer.from(object);
      const f = copy.subarray(copy.length - FOOTER_BYTES);
      f.writeUInt32LE(value, at);
      f.writeUInt32LE(crc32c(f.subarray(0, FOOTER_CRC_AT)), FOOTER_CRC_AT);
      return copy;
    };
    for (const version of [0, 2, 0xffff_ffff]) {
      const v = rewrite(36, version);
      expectFormatError(() => parseFooter(v, v.length), 'unsupported-version', 'footer');
    }
    const flagged = rewrite(20, 0x80);
    expectFormatError(() => parseFooter(flagged, flagged.length), 'unsupported-version', 'footer');
    const sized = rewrite(16, 1); // entry count that does not match the index size
    expectFormatError(() => parseFooter(sized, sized.length), 'corrupt', 'footer');
  });

  it('random bytes only ever give an ObjectFormatError (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.record({
          streamId: fc.nat(),
          startOffset: fc.nat(),
          endOffset: fc.nat(),
          position: fc.nat({ max: 400 }),
          size: fc.nat({ max: 400 }),
          batchCount: fc.nat({ max: 20 }),
        }),
        (bytes, entry) => {
          const buf = Buffer.from(bytes);
          if (buf.length >= 8 && entry.batchCount % 2 === 0) {
            // Get past the magic and the size check so the entry checks run.
            buf.writeUInt32LE(INDEX_MAGIC, 0);
            buf.writeUInt32LE(Math.floor((buf.length - 8) / 40), 4);
          }
          for (const fn of [
            () => parseFooter(buf, buf.length),
            () => parseFooter(buf, buf.length + entry.position),
            () => readBlock(buf, entry, 0),
            // An index with a matching CRC still gets every structural check.
            () =>
              parseIndex(buf, {
                version: 1,
                flags: 0,
                indexPosition: entry.position,
                indexSize: buf.length,
                indexCrc: crc32c(buf),
                entryCount: buf.length >= 8 ? buf.readUInt32LE(4) : 0,
                objectSize: entry.position + buf.length + FOOTER_BYTES,
              }),
          ]) {
            try {
              fn();
            } catch (err) {
              expect(err).toBeInstanceOf(ObjectFormatError);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
