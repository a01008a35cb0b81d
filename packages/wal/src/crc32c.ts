/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) for WAL headers and bodies.
 *
 * Uses the SIMD native module `@node-rs/crc32` (an optional dependency) when it loads and
 * passes a known-answer check; otherwise a pure-TypeScript slice-by-8 table implementation.
 * Both produce identical results. Set `TRIBUTARY_CRC32C=pure` to force the fallback.
 */
import { createRequire } from 'node:module';

type NativeCrc = (input: Buffer, initialState?: number) => number;

const POLY = 0x82f63b78;

/** 8 tables of 256 entries: table k advances a byte through k further zero bytes. */
const TABLES: Uint32Array = buildTables();

function buildTables(): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c >>> 0;
    }
  }
  return t;
}

/** Pure-TypeScript CRC-32C of `buf`, continuing from `initial` (0 to start). Unsigned result. */
export function crc32cPure(buf: Uint8Array, initial = 0): number {
  const t = TABLES;
  let crc = ~initial >>> 0;
  let i = 0;
  const n = buf.length;
  const end8 = n - (n % 8);
  while (i < end8) {
    const a = (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) ^ crc;
    crc =
      t[1792 + (a & 0xff)] ^
      t[1536 + ((a >>> 8) & 0xff)] ^
      t[1280 + ((a >>> 16) & 0xff)] ^
      t[1024 + (a >>> 24)] ^
      t[768 + buf[i + 4]] ^
      t[512 + buf[i + 5]] ^
      t[256 + buf[i + 6]] ^
      t[buf[i + 7]];
    i += 8;
  }
  while (i < n) crc = t[(crc ^ buf[i++]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

let native: NativeCrc | null | undefined;

function loadNative(): NativeCrc | null {
  if (native !== undefined) return native;
  native = null;
  if (process.env.TRIBUTARY_CRC32C === 'pure') return native;
  try {
    const mod = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c?: NativeCrc };
    const fn = mod.crc32c;
    if (typeof fn === 'function' && fn(Buffer.from('123456789')) >>> 0 === 0xe3069283) native = fn;
  } catch {
    native = null;
  }
  return native;
}

/** Below this many bytes the native call costs more than the table loop. */
const NATIVE_MIN_BYTES = 128;

/** CRC-32C of `buf`, continuing from `initial` (a previous result, or 0). Unsigned result. */
export function crc32c(buf: Uint8Array, initial = 0): number {
  if (buf.length < NATIVE_MIN_BYTES) return crc32cPure(buf, initial);
  const fn = loadNative();
  if (fn === null) return crc32cPure(buf, initial);
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return fn(b, initial) >>> 0;
}

/** Which implementation large inputs use. */
export function crc32cImplementation(): 'native' | 'pure' {
  return loadNative() === null ? 'pure' : 'native';
}
