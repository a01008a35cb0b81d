/**
 * Pure-TypeScript CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), slice-by-8.
 * The fallback when no native module loads, and the reference the native paths are tested
 * against.
 */

const POLY = 0x82f63b78;

/** 8 tables of 256 entries: TABLES[k * 256 + b] is the register for byte b followed by k zero bytes. */
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

/** Runs the raw (un-inverted) register over `buf`. */
function update(crc: number, buf: Uint8Array): number {
  const t = TABLES;
  let c = crc;
  let i = 0;
  const len = buf.length;
  const end8 = len - (len & 7);
  while (i < end8) {
    const lo = (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) ^ c;
    c =
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
  while (i < len) c = t[(c ^ buf[i++]) & 0xff] ^ (c >>> 8);
  return c;
}

/**
 * CRC-32C of `buf`, continuing from `initial` (the unsigned result of a previous call, or 0).
 * Returns an unsigned 32-bit integer; `crc32cPure(b, crc32cPure(a)) === crc32cPure(a ‖ b)`.
 */
export function crc32cPure(buf: Uint8Array, initial = 0): number {
  return ~update(~initial, buf) >>> 0;
}

/** CRC-32C of the concatenation of `bufs`, continuing from `initial`. */
export function crc32cvPure(bufs: readonly Uint8Array[], initial = 0): number {
  let c = ~initial;
  for (const b of bufs) c = update(c, b);
  return ~c >>> 0;
}
