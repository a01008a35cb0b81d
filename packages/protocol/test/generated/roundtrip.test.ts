import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { messageSchemas } from '../../src/generated/schema.ts';
import { Reader } from '../../src/primitives/reader.ts';
import { Writer } from '../../src/primitives/writer.ts';
import { codecOf, structArb, versionsOf } from './arbitraries.ts';

const RUNS = 20;

/** encode → decode → deep-equal, and re-encoding the decoded message gives the same bytes. */
function roundTrip(
  codec: ReturnType<typeof codecOf>,
  msg: unknown,
  v: number,
): { bytes: Buffer; decoded: unknown; again: Buffer } {
  const w = new Writer(64);
  codec.encode(w, msg, v);
  const bytes = w.toBuffer();
  const r = new Reader(bytes);
  const decoded = codec.decode(r, v);
  expect(r.offset).toBe(bytes.length);
  const w2 = new Writer(64);
  codec.encode(w2, decoded, v);
  return { bytes, decoded, again: w2.toBuffer() };
}

describe('generated codecs round-trip every message at every version', () => {
  for (const m of messageSchemas) {
    it(`${m.name} v${m.validVersions[0]}-${m.validVersions[1]}`, () => {
      const codec = codecOf(m);
      for (const v of versionsOf(m)) {
        fc.assert(
          fc.property(structArb(m.struct, v), (msg) => {
            const { bytes, decoded, again } = roundTrip(codec, msg, v);
            expect(decoded).toEqual(msg);
            expect(again.equals(bytes)).toBe(true);
          }),
          { numRuns: RUNS },
        );
      }
    });
  }
});

export { roundTrip };
