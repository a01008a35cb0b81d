/**
 * CRC-32C (Castagnoli) as used by Kafka RecordBatch v2: a thin re-export of
 * `@tributary/crc32c` (own N-API addon, else `@node-rs/crc32`, else pure TypeScript), kept so
 * the protocol package's callers and public names do not change.
 */
import { crc32cImplementation as detailed, loadNativeAddon, loadNodeRs } from '@tributary/crc32c';

export { crc32c, crc32cPure, crc32cv } from '@tributary/crc32c';

/** Which implementation `crc32c` uses: a native module or the pure-TypeScript fallback. */
export type Crc32cImplementation = 'native' | 'pure';

/** Whether `crc32c` runs natively; `@tributary/crc32c`'s `crc32cImplementation` says which. */
export function crc32cImplementation(): Crc32cImplementation {
  return detailed() === 'pure' ? 'pure' : 'native';
}

/** The fastest native CRC-32C (own addon, else `@node-rs/crc32`), or null (benchmarks, tests). */
export function crc32cNative(): ((buf: Uint8Array, initial?: number) => number) | null {
  if (crc32cImplementation() === 'pure') return null;
  const addon = detailed() === 'tributary-native' ? loadNativeAddon() : null;
  if (addon !== null) return (buf, initial = 0) => addon.crc32c(buf, initial);
  return loadNodeRs();
}
