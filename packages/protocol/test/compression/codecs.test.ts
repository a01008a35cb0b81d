import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CompressionCodec,
  CompressionError,
  codecAvailable,
  compress,
  compressionName,
  decompress,
} from '../../src/compression/index.ts';
import { loadNativeModule } from '../../src/compression/native.ts';
import { ProtocolError } from '../../src/primitives/errors.ts';

const CODECS = [0, 1, 2, 3, 4] as const;

function sample(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i % 251) ^ ((i >> 9) & 7);
  return b;
}

describe('compression codecs', () => {
  it('native modules are present in this workspace', () => {
    for (const c of ['snappy', 'lz4', 'zstd'] as const) expect(codecAvailable(c)).toBe(true);
  });

  it('names codecs by attribute id', () => {
    expect(compressionName(CompressionCodec.zstd)).toBe('zstd');
    expect(compressionName(5)).toBeUndefined();
  });

  for (const codec of CODECS) {
    const name = compressionName(codec);
    describe(name!, () => {
      it('round-trips random inputs', () => {
        fc.assert(
          fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => {
            const z = compress(codec, bytes);
            expect(Buffer.compare(decompress(codec, z, bytes.length), Buffer.from(bytes))).toBe(0);
          }),
          { numRuns: 100 },
        );
      });

      it('round-trips inputs spanning several blocks', () => {
        for (const n of [0, 1, 65535, 65536, 65537, 200_000]) {
          const data = sample(n);
          if (n === 0 && codec !== 0) continue;
          expect(decompress(codec, compress(codec, data), n).equals(data)).toBe(true);
        }
      });

      it('bounds the output (decompression bomb)', () => {
        const bomb = compress(codec, Buffer.alloc(8 * 1024 * 1024));
        const err = (() => {
          try {
            decompress(codec, bomb, 64 * 1024);
          } catch (e) {
            return e;
          }
        })();
        expect(err).toBeInstanceOf(ProtocolError);
        expect((err as ProtocolError).kind).toBe('invalid');
      });

      it('raises only ProtocolError on garbage and truncation', () => {
        // Low-entropy random bytes: large compressed blocks (lz4 decodes those natively).
        let seed = 12345;
        const mixed = Buffer.from(
          Array.from({ length: 30000 }, () => {
            seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
            return (seed >>> 24) & 0x0f;
          }),
        );
        const goods = [compress(codec, sample(5000)), compress(codec, mixed)];
        fc.assert(
          fc.property(
            fc.uint8Array({ maxLength: 400 }),
            fc.nat(),
            fc.nat(),
            fc.integer({ min: 0, max: 255 }),
            (garbage, cut, flipAt, flip) => {
              const good = goods[cut % 2];
              const inputs = [
                Buffer.from(garbage),
                good.subarray(0, cut % (good.length + 1)),
                (() => {
                  const c = Buffer.from(good);
                  c[flipAt % c.length] ^= flip;
                  return c;
                })(),
              ];
              for (const input of inputs) {
                try {
                  const out = decompress(codec, input, 10_000);
                  expect(out.length).toBeLessThanOrEqual(10_000);
                } catch (e) {
                  if (!(e instanceof ProtocolError)) throw e;
                }
              }
            },
          ),
          { numRuns: 200 },
        );
      });
    });
  }

  it('rejects unknown codec ids as unsupported', () => {
    expect(() => decompress(6 as CompressionCodec, Buffer.alloc(3), 10)).toThrow(CompressionError);
    try {
      compress(7 as CompressionCodec, Buffer.alloc(3));
    } catch (e) {
      expect((e as ProtocolError).kind).toBe('unsupported');
    }
  });

  it('names the codec and package when a native module is missing', () => {
    for (let i = 0; i < 2; i++) {
      try {
        loadNativeModule('zstd', 'tributary-no-such-native-module');
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(CompressionError);
        expect((e as CompressionError).kind).toBe('unsupported');
        expect((e as Error).message).toMatch(/^zstd: .*tributary-no-such-native-module/);
      }
    }
  });
});
