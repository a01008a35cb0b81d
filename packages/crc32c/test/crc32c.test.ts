import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  crc32c,
  crc32cImplementation,
  crc32cPure,
  crc32cv,
  crc32cvPure,
  loadNativeAddon,
  loadNodeRs,
} from '../src/index.ts';

const ascii = (s: string) => Buffer.from(s, 'latin1');
const addon = loadNativeAddon();
const nodeRs = loadNodeRs();

/** Every way of computing CRC-32C available here, each returning an unsigned result. */
const impls: [string, (b: Uint8Array, init?: number) => number][] = [
  ['crc32c', crc32c],
  ['pure', crc32cPure],
  ['crc32cv', (b, init) => crc32cv([b], init)],
];
if (nodeRs !== null) impls.push(['node-rs', nodeRs]);
if (addon !== null) {
  impls.push(['addon', (b, init) => addon.crc32c(b, init)]);
  for (const e of addon.engines) impls.push([`engine ${e}`, (b, init) => addon.withEngine(e, b, init)]);
}

describe('crc32c known answers', () => {
  const rfc3720Pdu = Buffer.from(
    '01c000000000000000000000000000001400000000000400000000140000001828000000000000000200000000000000',
    'hex',
  );
  const vectors: [string, Uint8Array, number][] = [
    ['123456789', ascii('123456789'), 0xe3069283],
    ['empty', new Uint8Array(0), 0],
    ['a', ascii('a'), 0xc1d04330],
    // RFC 3720 (iSCSI) appendix B.4.
    ['32 zeros', new Uint8Array(32), 0x8a9136aa],
    ['32 x 0xff', new Uint8Array(32).fill(0xff), 0x62a8ab43],
    ['0..31', Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
    ['31..0', Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0x113fdb5c],
    ['iSCSI read PDU', rfc3720Pdu, 0xd9963a56],
  ];
  for (const [name, input] of impls) {
    it(`${name} reproduces the vectors`, () => {
      for (const [what, bytes, want] of vectors) expect(input(bytes), what).toBe(want);
    });
  }
});

describe('crc32c implementations agree', () => {
  it('on every length 0..1024 with random contents and initial values', () => {
    const src = randomBytes(1024 + 16);
    for (let len = 0; len <= 1024; len++) {
      const off = len % 16;
      const view = src.subarray(off, off + len);
      const init = (len * 0x9e3779b1) >>> 0;
      const want = crc32cPure(view, init);
      for (const [name, fn] of impls) expect(fn(view, init), `${name} len ${len}`).toBe(want);
    }
  });

  it('on large random inputs at random alignments', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1025, max: 300_000 }),
        fc.integer({ min: 0, max: 63 }),
        fc.nat({ max: 0xffffffff }),
        (len, off, init) => {
          const view = randomBytes(len + off).subarray(off);
          const want = crc32cPure(view, init);
          for (const [name, fn] of impls) expect(fn(view, init), name).toBe(want);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('accepts plain Uint8Array views into a larger ArrayBuffer', () => {
    const backing = new ArrayBuffer(5000);
    new Uint8Array(backing).set(randomBytes(5000));
    const view = new Uint8Array(backing, 7, 4321);
    const want = crc32cPure(Uint8Array.from(view));
    for (const [name, fn] of impls) expect(fn(view), name).toBe(want);
  });
});

describe('crc32c chaining', () => {
  it('crc32c(b, crc32c(a)) === crc32c(a ‖ b)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(), (bytes, cut) => {
        const at = bytes.length === 0 ? 0 : cut % (bytes.length + 1);
        const whole = crc32cPure(bytes);
        for (const [name, fn] of impls)
          expect(fn(bytes.subarray(at), fn(bytes.subarray(0, at))), name).toBe(whole);
      }),
      { numRuns: 200 },
    );
  });

  it('crc32cv equals crc32c of the concatenation', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 2000 }), { maxLength: 12 }),
        fc.nat({ max: 0xffffffff }),
        (parts, init) => {
          const want = crc32c(Buffer.concat(parts), init);
          expect(crc32cv(parts, init)).toBe(want);
          expect(crc32cvPure(parts, init)).toBe(want);
          if (addon !== null) expect(addon.crc32cv(parts, init)).toBe(want);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('rejects non-byte inputs in the addon with a TypeError', () => {
    if (addon === null) return;
    expect(() => addon.crc32c('abc' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => addon.crc32cv([Buffer.alloc(1), 5 as unknown as Uint8Array])).toThrow(TypeError);
  });

  it('reports an implementation', () => {
    expect(['tributary-native', 'node-rs', 'pure']).toContain(crc32cImplementation());
  });
});
