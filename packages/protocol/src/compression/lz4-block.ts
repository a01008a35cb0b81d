/**
 * Pure-TypeScript LZ4 block decoder, bounds-checked on every read and write so corrupt input
 * raises a CompressionError and never reads or writes outside its buffers.
 */
import { CompressionError } from './errors.ts';

/** Signals that the output would pass `dstLimit`; the caller decides whether to grow or fail. */
export class Lz4OutputFull extends Error {}

function corrupt(what: string): CompressionError {
  return new CompressionError('lz4', `corrupt block (${what})`);
}

/**
 * Decodes the LZ4 block `src[srcStart, srcEnd)` into `dst` at `dstStart`, never writing at or
 * past `dstLimit`. Matches may reach back to `windowStart` (0 for linked blocks, `dstStart` for
 * independent ones). Returns the new end of the output. Throws Lz4OutputFull when the output
 * would pass `dstLimit`.
 */
export function lz4DecodeBlock(
  src: Uint8Array,
  srcStart: number,
  srcEnd: number,
  dst: Uint8Array,
  dstStart: number,
  dstLimit: number,
  windowStart: number,
): number {
  let s = srcStart;
  let d = dstStart;
  if (s >= srcEnd) throw corrupt('empty');
  for (;;) {
    const token = src[s++];
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (s >= srcEnd) throw corrupt('truncated literal length');
        b = src[s++];
        lit += b;
      } while (b === 255);
    }
    if (lit > srcEnd - s) throw corrupt('literals past end of input');
    if (lit > dstLimit - d) throw new Lz4OutputFull();
    if (lit < 16) {
      for (let k = 0; k < lit; k++) dst[d + k] = src[s + k];
    } else {
      dst.set(src.subarray(s, s + lit), d);
    }
    s += lit;
    d += lit;
    if (s === srcEnd) return d; // the last sequence has literals only
    if (s + 2 > srcEnd) throw corrupt('truncated match offset');
    const offset = src[s] | (src[s + 1] << 8);
    s += 2;
    if (offset === 0 || offset > d - windowStart) throw corrupt(`match offset ${offset} out of range`);
    let mlen = (token & 15) + 4;
    if ((token & 15) === 15) {
      let b: number;
      do {
        if (s >= srcEnd) throw corrupt('truncated match length');
        b = src[s++];
        mlen += b;
      } while (b === 255);
    }
    if (mlen > dstLimit - d) throw new Lz4OutputFull();
    let from = d - offset;
    if (offset >= mlen && mlen >= 32) {
      dst.copyWithin(d, from, from + mlen);
      d += mlen;
    } else {
      const stop = d + mlen;
      while (d < stop) dst[d++] = dst[from++];
    }
  }
}
