import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameReader, FrameSizeError } from '../src/index.ts';
import { framed } from './helpers.ts';

function drain(r: FrameReader): Buffer[] {
  const out: Buffer[] = [];
  for (let f = r.next(); f !== null; f = r.next()) out.push(f);
  return out;
}

describe('FrameReader', () => {
  it('returns frames inside one chunk as slices of it (no copy)', () => {
    const chunk = Buffer.concat([
      framed(Buffer.from('abc')),
      framed(Buffer.from('defgh')),
      framed(Buffer.alloc(0)),
    ]);
    const r = new FrameReader(100);
    r.push(chunk);
    const frames = drain(r);
    expect(frames.map((f) => f.toString())).toEqual(['abc', 'defgh', '']);
    expect(frames[0].buffer).toBe(chunk.buffer);
    expect(frames[1].byteOffset).toBe(chunk.byteOffset + 11);
    expect(r.bufferedBytes).toBe(0);
  });

  it('reassembles a frame and a size prefix split over chunks', () => {
    const all = Buffer.concat([framed(Buffer.from('hello world')), framed(Buffer.from('x'))]);
    const r = new FrameReader(100);
    for (let i = 0; i < all.length; i++) {
      r.push(all.subarray(i, i + 1));
    }
    expect(drain(r).map((f) => f.toString())).toEqual(['hello world', 'x']);
  });

  it('reports the size as soon as the prefix is in, before the frame', () => {
    const r = new FrameReader(1000);
    r.push(Buffer.from([0, 0]));
    expect(r.nextSize()).toBe(-1);
    expect(r.knownSize()).toBe(-1);
    r.push(Buffer.from([1, 0, 7]));
    expect(r.nextSize()).toBe(256);
    expect(r.knownSize()).toBe(256);
    expect(r.next()).toBeNull();
    r.push(Buffer.alloc(255));
    expect(r.next()?.length).toBe(256);
    expect(r.knownSize()).toBe(-1);
  });

  it('rejects negative and oversized prefixes', () => {
    const r = new FrameReader(10);
    r.push(Buffer.from([0, 0, 0, 11]));
    expect(() => r.next()).toThrow(FrameSizeError);
    const n = new FrameReader(10);
    n.push(Buffer.from([0x80, 0, 0, 0]));
    expect(() => n.nextSize()).toThrow(/invalid frame size/);
  });

  it('does not copy while a large frame arrives in many chunks', () => {
    const payload = Buffer.alloc(1 << 20, 7);
    const all = framed(payload);
    const r = new FrameReader(2 << 20);
    const chunk = 16 * 1024;
    let completions = 0;
    for (let i = 0; i < all.length; i += chunk) {
      r.push(all.subarray(i, i + chunk));
      const f = r.next();
      if (f !== null) {
        completions++;
        expect(f.equals(payload)).toBe(true);
      }
    }
    expect(completions).toBe(1);
  });

  it('any split of any frame sequence yields the same frames (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 30 }),
        (payloads, cuts) => {
          const all = Buffer.concat(payloads.map((p) => framed(Buffer.from(p))));
          const r = new FrameReader(100);
          const got: Buffer[] = [];
          let pos = 0;
          let i = 0;
          while (pos < all.length) {
            const n = cuts[i++ % cuts.length];
            r.push(all.subarray(pos, pos + n));
            pos += n;
            got.push(...drain(r));
          }
          expect(got.map((b) => [...b])).toEqual(payloads.map((p) => [...p]));
          expect(r.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
