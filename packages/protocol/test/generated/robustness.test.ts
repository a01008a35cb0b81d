/**
 * Malformed input only ever raises ProtocolError, and encoders refuse values a version
 * cannot carry (Kafka's non-ignorable field rule).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FieldSchema } from '../../src/generated/schema.ts';
import { messageSchemas } from '../../src/generated/schema.ts';
import { ProtocolError } from '../../src/primitives/errors.ts';
import { Reader } from '../../src/primitives/reader.ts';
import { Writer } from '../../src/primitives/writer.ts';
import {
  codecOf,
  defaultStruct,
  defaultValue,
  inRange,
  presentAt,
  structArb,
  versionsOf,
} from './arbitraries.ts';

function decodeOrProtocolError(decode: (r: Reader, v: number) => unknown, bytes: Buffer, v: number): boolean {
  try {
    decode(new Reader(bytes), v);
    return true;
  } catch (e) {
    if (e instanceof ProtocolError) return false;
    throw e;
  }
}

describe('decoders raise only ProtocolError on malformed input', () => {
  for (const m of messageSchemas) {
    it(`${m.name}: truncations and byte mutations`, () => {
      const codec = codecOf(m);
      for (const v of versionsOf(m)) {
        for (const msg of fc.sample(structArb(m.struct, v), 2)) {
          const w = new Writer(64);
          codec.encode(w, msg, v);
          const bytes = w.toBuffer();
          // Every proper prefix is truncated: decoding must fail, with a ProtocolError.
          const step = Math.max(1, Math.floor(bytes.length / 16));
          for (let n = 0; n < bytes.length; n += step) {
            expect(decodeOrProtocolError(codec.decode, bytes.subarray(0, n), v)).toBe(false);
          }
        }
      }
      const v = m.validVersions[1];
      fc.assert(
        fc.property(
          structArb(m.struct, v),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
          (msg, edits) => {
            const w = new Writer(64);
            codec.encode(w, msg, v);
            const bytes = Buffer.from(w.toBuffer());
            if (bytes.length === 0) return;
            for (const [at, b] of edits) bytes[at % bytes.length] = b;
            decodeOrProtocolError(codec.decode, bytes, v);
          },
        ),
        { numRuns: 15 },
      );
    });
  }

  it('random bytes', () => {
    fc.assert(
      fc.property(fc.constantFrom(...messageSchemas), fc.uint8Array({ maxLength: 64 }), (m, raw) => {
        decodeOrProtocolError(codecOf(m).decode, Buffer.from(raw), m.validVersions[1]);
      }),
      { numRuns: 300 },
    );
  });
});

/** A value different from the field's default, or undefined when none is simple to build. */
function nonDefault(f: FieldSchema): unknown {
  const d = defaultValue(f);
  switch (f.type) {
    case 'array':
      return f.element === 'struct' ? [defaultStruct(f.struct!)] : [f.element === 'int64' ? 0n : 0];
    case 'struct':
      return undefined;
    case 'int64':
      return d === 1n ? 2n : 1n;
    case 'bool':
      return !d;
    case 'string':
      return d === 'x' ? 'y' : 'x';
    case 'uuid':
      return 'AQEBAQEBAQEBAQEBAQEBAQ';
    case 'bytes':
    case 'records':
      return Buffer.from([1]);
    default:
      return d === 1 ? 2 : 1;
  }
}

describe('encoders enforce field presence', () => {
  it('a non-default value in a field absent from the version throws unless ignorable', () => {
    let checked = 0;
    for (const m of messageSchemas) {
      const codec = codecOf(m);
      for (const v of versionsOf(m)) {
        for (const f of m.struct.fields) {
          if (presentAt(f, v)) continue;
          const value = nonDefault(f);
          if (value === undefined) continue;
          const msg = { ...defaultStruct(m.struct), [f.key]: value };
          const run = () => codec.encode(new Writer(64), msg, v);
          if (f.ignorable === true) expect(run, `${m.name} v${v} ${f.key}`).not.toThrow();
          else expect(run, `${m.name} v${v} ${f.key}`).toThrow(ProtocolError);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(500);
  });

  it('null in a version where the field is not nullable throws ProtocolError', () => {
    let checked = 0;
    for (const m of messageSchemas) {
      const codec = codecOf(m);
      for (const v of versionsOf(m)) {
        for (const f of m.struct.fields) {
          if (!presentAt(f, v) || f.nullableVersions === undefined || inRange(f.nullableVersions, v))
            continue;
          const msg = { ...defaultStruct(m.struct), [f.key]: null };
          expect(() => codec.encode(new Writer(64), msg, v), `${m.name} v${v} ${f.key}`).toThrow(
            ProtocolError,
          );
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(5);
  });
});
