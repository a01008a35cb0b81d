/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) for WAL headers and bodies: a thin
 * re-export of `@tributary/crc32c` (own N-API addon, else `@node-rs/crc32`, else pure
 * TypeScript; `TRIBUTARY_CRC32C=native|node-rs|pure` forces one).
 */
import { crc32cImplementation as detailed } from '@tributary/crc32c';

export { crc32c, crc32cPure, crc32cv } from '@tributary/crc32c';

/** Whether large inputs run natively; `@tributary/crc32c`'s `crc32cImplementation` says which. */
export function crc32cImplementation(): 'native' | 'pure' {
  return detailed() === 'pure' ? 'pure' : 'native';
}
