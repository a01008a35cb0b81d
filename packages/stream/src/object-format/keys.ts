/**
 * Object key naming: `<prefix>/<hh>/<id>.obj`, where `id` is the object id in 16 zero-padded
 * decimal digits and `hh` is two hex digits taken from a mixing hash of the id, so that
 * consecutive ids land under different prefixes (object stores partition by key prefix).
 */

/** Digits of the zero-padded id: enough for every id below 2^53. */
export const OBJECT_ID_DIGITS = 16;
const SUFFIX = '.obj';

function fmix32(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The two-hex-digit spreading prefix of an object id (top 8 bits of a mixing hash). */
export function objectKeyHash(objectId: number): string {
  const lo = objectId % 0x1_0000_0000;
  const hi = Math.floor(objectId / 0x1_0000_0000);
  const h = fmix32(lo ^ fmix32(hi ^ 0x9e3779b9));
  return (h >>> 24).toString(16).padStart(2, '0');
}

/**
 * The key of object `objectId` under `prefix` (no trailing slash; an empty prefix gives
 * `<hh>/<id>.obj`).
 */
export function objectKey(prefix: string, objectId: number): string {
  if (!Number.isSafeInteger(objectId) || objectId < 0) {
    throw new RangeError(`bad object id ${objectId}`);
  }
  if (prefix.endsWith('/')) throw new RangeError(`prefix ends with '/': ${prefix}`);
  const id = String(objectId).padStart(OBJECT_ID_DIGITS, '0');
  const name = `${objectKeyHash(objectId)}/${id}${SUFFIX}`;
  return prefix === '' ? name : `${prefix}/${name}`;
}

/**
 * The object id named by `key` under `prefix`, or `null` when the key is not an object key
 * of that prefix (other files, a wrong hash, a malformed id).
 */
export function parseObjectKey(prefix: string, key: string): number | null {
  const head = prefix === '' ? '' : `${prefix}/`;
  if (!key.startsWith(head)) return null;
  const rest = key.slice(head.length);
  const m = /^([0-9a-f]{2})\/([0-9]{16})\.obj$/.exec(rest);
  if (m === null) return null;
  const id = Number(m[2]);
  if (!Number.isSafeInteger(id)) return null;
  return objectKeyHash(id) === m[1] ? id : null;
}
