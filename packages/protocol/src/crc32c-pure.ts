/**
 * Pure-TypeScript CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) using slice-by-8
 * tables. This is the fallback used when the native `@node-rs/crc32` module is absent; it is
 * also the reference the native path is tested against.
 */

const POLY = 0x82f63b78;

/** 8 tables of 256 entries: TABLES[k * 256 + b] is the CRC of byte b followed by k zero bytes. */
const TABLES: Uint32Array = buildTables();

function buildTables(): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[b] = c >>> 0;
  }
  for (let b = 0; b < 256; b++) {
    let c = t[b];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + b] = c >>> 0;
    }
  }
  return t;
}

/**
 * CRC-32C of `buf`, continuing from `initial` (the unsigned result of a previous call, or 0).
 * Returns an unsigned 32-bit integer. `crc32cPure(b, crc32cPure(a)) === crc32cPure(a ++ b)`.
 */
export function crc32cPure(buf: Uint8Array, initial = 0): number {
  const t = TABLES;
  let crc = ~initial >>> 0;
  let i = 0;
  const len = buf.length;
  const end8 = len - (len & 7);
  while (i < end8) {
    const lo = (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) ^ crc;
    crc =
      t[1792 + (lo & 0xff)] ^
      t[1536 + ((lo >>> 8) & 0xff)] ^
      t[1280 + ((lo >>> 16) & 0xff)] ^
      t[1024 + (lo >>> 24)] ^
      t[768 + buf[i + 4]] ^
      t[512 + buf[i + 5]] ^
      t[256 + buf[i + 6]] ^
      t[buf[i + 7]];
    i += 8;
  }
  while (i < len) {
    crc = t[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
    i++;
  }
  return ~crc >>> 0;
}
