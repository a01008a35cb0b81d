/**
 * CRC-32C (Castagnoli) as used by Kafka RecordBatch v2.
 *
 * The SIMD native module `@node-rs/crc32` (an optional dependency) is loaded lazily on first
 * use; when it is missing or fails to load, the pure-TypeScript slice-by-8 implementation in
 * `crc32c-pure.ts` is used. Both give identical results (tested with random inputs).
 */
import { createRequire } from 'node:module';
import { crc32cPure } from './crc32c-pure.ts';

export { crc32cPure } from './crc32c-pure.ts';

/** Which implementation `crc32c` uses: the native module or the pure-TypeScript fallback. */
export type Crc32cImplementation = 'native' | 'pure';

type NativeCrc = (input: Buffer, initialState?: number) => number;

let native: NativeCrc | null | undefined;

function loadNative(): NativeCrc | null {
  if (native !== undefined) return native;
  native = null;
  if (process.env.TRIBUTARY_CRC32C === 'pure') return native;
  try {
    const req = createRequire(import.meta.url);
    const mod = req('@node-rs/crc32') as { crc32c?: NativeCrc };
    if (typeof mod.crc32c === 'function' && mod.crc32c(Buffer.from('123456789')) >>> 0 === 0xe3069283) {
      native = mod.crc32c;
    }
  } catch {
    native = null;
  }
  return native;
}

/** Below this size the call overhead of the native module outweighs its speed. */
const NATIVE_MIN_BYTES = 64;

/**
 * CRC-32C of `buf`, continuing from `initial` (a previous unsigned result, or 0 to start).
 * Returns an unsigned 32-bit integer.
 */
export function crc32c(buf: Uint8Array, initial = 0): number {
  const fn = buf.length >= NATIVE_MIN_BYTES ? loadNative() : null;
  if (fn === null) return crc32cPure(buf, initial);
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return fn(b, initial) >>> 0;
}

/** The implementation `crc32c` uses for inputs large enough to go native. */
export function crc32cImplementation(): Crc32cImplementation {
  return loadNative() === null ? 'pure' : 'native';
}

/** Native CRC-32C, or null when the module is unavailable (for benchmarks and tests). */
export function crc32cNative(): ((buf: Uint8Array, initial?: number) => number) | null {
  const fn = loadNative();
  if (fn === null) return null;
  return (buf, initial = 0) =>
    fn(Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength), initial) >>> 0;
}
