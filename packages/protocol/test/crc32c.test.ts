import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c, crc32cImplementation, crc32cNative, crc32cPure } from '../src/crc32c.ts';

const ascii = (s: string) => Buffer.from(s, 'latin1');

describe('crc32c', () => {
  it('matches known vectors', () => {
    expect(crc32cPure(ascii('123456789'))).toBe(0xe3069283);
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
    expect(crc32cPure(new Uint8Array(0))).toBe(0);
    // RFC 3720 (iSCSI) B.4 vectors: 32 bytes of zeros, 32 bytes of 0xff, 0..31 ascending.
    expect(crc32cPure(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32cPure(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32cPure(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Buffer.alloc(1024))).toBe(crc32cPure(Buffer.alloc(1024)));
  });

  it('reports its implementation', () => {
    expect(['native', 'pure']).toContain(crc32cImplementation());
  });

  it('native equals pure on random inputs', () => {
    const native = crc32cNative();
    if (native === null) return;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.nat({ max: 0xffffffff }), (bytes, init) => {
        expect(native(bytes, init)).toBe(crc32cPure(bytes, init));
        expect(crc32c(bytes, init)).toBe(crc32cPure(bytes, init));
      }),
      { numRuns: 300 },
    );
  });

  it('chains incrementally', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(), (bytes, cut) => {
        const at = bytes.length === 0 ? 0 : cut % bytes.length;
        const whole = crc32cPure(bytes);
        expect(crc32cPure(bytes.subarray(at), crc32cPure(bytes.subarray(0, at)))).toBe(whole);
        expect(crc32c(bytes.subarray(at), crc32c(bytes.subarray(0, at)))).toBe(whole);
      }),
    );
  });

  it('accepts subarrays of larger buffers', () => {
    const big = Buffer.alloc(300);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    const view = new Uint8Array(big.buffer, big.byteOffset + 13, 250);
    expect(crc32c(view)).toBe(crc32cPure(Uint8Array.from(view)));
  });
});
