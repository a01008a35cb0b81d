import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Lz4OutputFull, lz4DecodeBlock } from '../../src/compression/lz4-block.ts';
import { ProtocolError } from '../../src/primitives/errors.ts';

const lz4 = createRequire(import.meta.url)('lz4-napi') as { compressSync(b: Buffer): Buffer };

/** Repetitive-ish input so blocks contain long and overlapping matches. */
const compressible = fc
  .array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 300 })), {
    maxLength: 40,
  })
  .map((parts) =>
    Buffer.concat(parts.flatMap(([p, n]) => Array.from({ length: n % 7 }, () => Buffer.from(p)))),
  );

describe('pure-TypeScript LZ4 block decoder', () => {
  it('decodes what the native compressor writes', () => {
    fc.assert(
      fc.property(fc.oneof(compressible, fc.uint8Array({ maxLength: 5000 }).map(Buffer.from)), (data) => {
        if (data.length === 0) return;
        const block = lz4.compressSync(data).subarray(4);
        const out = Buffer.alloc(data.length);
        expect(lz4DecodeBlock(block, 0, block.length, out, 0, out.length, 0)).toBe(data.length);
        expect(out.equals(data)).toBe(true);
        if (data.length > 1) {
          expect(() => lz4DecodeBlock(block, 0, block.length, out, 0, data.length - 1, 0)).toThrow(
            Lz4OutputFull,
          );
        }
      }),
      { numRuns: 300 },
    );
  });

  it('raises only ProtocolError or Lz4OutputFull on garbage', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), (garbage) => {
        const out = Buffer.alloc(1000);
        try {
          lz4DecodeBlock(garbage, 0, garbage.length, out, 0, out.length, 0);
        } catch (e) {
          if (!(e instanceof ProtocolError) && !(e instanceof Lz4OutputFull)) throw e;
        }
      }),
      { numRuns: 1000 },
    );
  });
});
