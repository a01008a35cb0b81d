import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError, Reader, Writer } from '../../src/primitives/index.ts';

function roundTrip<T>(write: (w: Writer, v: T) => void, read: (r: Reader) => T, v: T): T {
  const w = new Writer(16);
  write(w, v);
  const buf = w.toBuffer();
  expect(buf.length).toBe(w.length);
  const r = new Reader(buf);
  const out = read(r);
  expect(r.remaining()).toBe(0);
  return out;
}

describe('fixed-width integers', () => {
  it('round-trip at their limits', () => {
    const cases: [keyof Writer & string, keyof Reader & string, number[]][] = [
      ['writeInt8', 'readInt8', [-128, -1, 0, 127]],
      ['writeInt16', 'readInt16', [-32768, 0, 32767]],
      ['writeUint16', 'readUint16', [0, 65535]],
      ['writeInt32', 'readInt32', [-2147483648, 0, 2147483647]],
      ['writeUint32', 'readUint32', [0, 4294967295]],
    ];
    for (const [wm, rm, values] of cases) {
      for (const v of values) {
        const out = roundTrip(
          (w, x: number) => (w[wm] as (n: number) => void)(x),
          (r) => (r[rm] as () => number)(),
          v,
        );
        expect(out).toBe(v);
      }
    }
  });

  it('int64 as bigint and as number', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), (v) => {
        expect(
          roundTrip(
            (w, x) => w.writeInt64(x),
            (r) => r.readInt64(),
            v,
          ),
        ).toBe(v);
      }),
    );
    fc.assert(
      fc.property(fc.maxSafeInteger(), (v) => {
        expect(
          roundTrip(
            (w, x) => w.writeInt64Number(x),
            (r) => r.readInt64Number(),
            v,
          ),
        ).toBe(v);
        expect(
          roundTrip(
            (w, x) => w.writeInt64(BigInt(x)),
            (r) => r.readInt64Number(),
            v,
          ),
        ).toBe(v);
      }),
    );
  });
});

describe('varints', () => {
  it('match the Kafka zigzag encoding on known values', () => {
    const enc = (v: number) => {
      const w = new Writer();
      w.writeVarint(v);
      return w.toBuffer().toString('hex');
    };
    expect(enc(0)).toBe('00');
    expect(enc(-1)).toBe('01');
    expect(enc(1)).toBe('02');
    expect(enc(-64)).toBe('7f');
    expect(enc(64)).toBe('8001');
    expect(enc(2147483647)).toBe('feffffff0f');
    expect(enc(-2147483648)).toBe('ffffffff0f');
  });

  it('round-trip', () => {
    fc.assert(
      fc.property(fc.integer(), (v) => {
        expect(
          roundTrip(
            (w, x) => w.writeVarint(x),
            (r) => r.readVarint(),
            v,
          ),
        ).toBe(v);
      }),
    );
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 32 - 1 }), (v) => {
        expect(
          roundTrip(
            (w, x) => w.writeUnsignedVarint(x),
            (r) => r.readUnsignedVarint(),
            v,
          ),
        ).toBe(v);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), (v) => {
        expect(
          roundTrip(
            (w, x) => w.writeVarlong(x),
            (r) => r.readVarlong(),
            v,
          ),
        ).toBe(v);
      }),
    );
  });

  it('reject over-long and truncated encodings with ProtocolError', () => {
    expect(() => new Reader(Buffer.from('ffffffffff01', 'hex')).readUnsignedVarint()).toThrow(ProtocolError);
    expect(() => new Reader(Buffer.from('ffffffff1f', 'hex')).readUnsignedVarint()).toThrow(ProtocolError);
    expect(() => new Reader(Buffer.from('ff', 'hex')).readVarint()).toThrow(ProtocolError);
    expect(() => new Reader(Buffer.from('ffffffffffffffffffff01', 'hex')).readVarlong()).toThrow(
      ProtocolError,
    );
    expect(() => new Reader(Buffer.from('ffffffffffffffffff', 'hex')).readVarlong()).toThrow(ProtocolError);
  });
});

describe('strings, bytes, uuids, arrays', () => {
  it('round-trip strings in both encodings', () => {
    fc.assert(
      fc.property(fc.option(fc.string({ unit: 'grapheme', maxLength: 40 })), (s) => {
        expect(
          roundTrip(
            (w, x) => w.writeNullableString(x),
            (r) => r.readNullableString(),
            s,
          ),
        ).toBe(s);
        expect(
          roundTrip(
            (w, x) => w.writeCompactNullableString(x),
            (r) => r.readCompactNullableString(),
            s,
          ),
        ).toBe(s);
      }),
    );
  });

  it('bytes are zero-copy on read and by reference on write when large', () => {
    const big = Buffer.alloc(4096, 7);
    const w = new Writer();
    w.writeInt16(1);
    w.writeBytes(big);
    w.writeInt16(2);
    const chunks = w.toBuffers();
    expect(chunks).toContain(big);
    const buf = Buffer.concat(chunks);
    const r = new Reader(buf);
    expect(r.readInt16()).toBe(1);
    const out = r.readBytes();
    expect(out.buffer).toBe(buf.buffer);
    expect(out.equals(big)).toBe(true);
    expect(r.readInt16()).toBe(2);
  });

  it('uuids use base64url text', () => {
    const zero = 'AAAAAAAAAAAAAAAAAAAAAA';
    expect(
      roundTrip(
        (w, x) => w.writeUuid(x),
        (r) => r.readUuid(),
        zero,
      ),
    ).toBe(zero);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const s = Buffer.from(bytes).toString('base64url');
        expect(
          roundTrip(
            (w, x) => w.writeUuid(x),
            (r) => r.readUuid(),
            s,
          ),
        ).toBe(s);
      }),
    );
    expect(() => new Writer().writeUuid('short')).toThrow(ProtocolError);
  });

  it('array lengths are bounded by the bytes left', () => {
    const w = new Writer();
    w.writeArrayLength(1_000_000);
    expect(() => new Reader(w.toBuffer()).readArrayLength()).toThrow(ProtocolError);
    const c = new Writer();
    c.writeCompactArrayLength(-1);
    expect(new Reader(c.toBuffer()).readCompactArrayLength()).toBe(-1);
    expect(() => new Reader(Buffer.from('fffffffe', 'hex')).readArrayLength()).toThrow(ProtocolError);
  });

  it('rejects nulls in non-nullable fields and hostile lengths', () => {
    expect(() => new Reader(Buffer.from('ffff', 'hex')).readString()).toThrow(ProtocolError);
    expect(() => new Reader(Buffer.from('00', 'hex')).readCompactBytes()).toThrow(ProtocolError);
    expect(() => new Reader(Buffer.from('7fffffff00', 'hex')).readBytes()).toThrow(ProtocolError);
    expect(() => new Reader(Buffer.from('0005616263', 'hex')).readString()).toThrow(ProtocolError);
  });
});

describe('tagged fields and patching', () => {
  it('skips unknown tags, hands known ones to the callback, enforces order', () => {
    const w = new Writer();
    w.writeUnsignedVarint(2);
    w.writeUnsignedVarint(0);
    w.writeUnsignedVarint(4);
    w.writeInt32(99);
    w.writeUnsignedVarint(7);
    w.writeUnsignedVarint(2);
    w.writeInt16(5);
    const seen: number[] = [];
    const r = new Reader(w.toBuffer());
    r.readTaggedFields((tag, _size, rd) => {
      if (tag !== 0) return false;
      seen.push(rd.readInt32());
      return true;
    });
    expect(seen).toEqual([99]);
    expect(r.remaining()).toBe(0);
    expect(() => new Reader(Buffer.from('020500050000', 'hex')).readTaggedFields()).toThrow(ProtocolError);
  });

  it('patches a reserved int32 across chunk boundaries', () => {
    const w = new Writer(64);
    const at = w.reserveInt32();
    w.writeRaw(Buffer.alloc(1000, 1));
    for (let i = 0; i < 100; i++) w.writeInt32(i);
    w.patchInt32(at, w.length - 4);
    const buf = w.toBuffer();
    expect(buf.readInt32BE(0)).toBe(buf.length - 4);
    expect(buf.readInt32BE(buf.length - 4)).toBe(99);
  });
});
