/**
 * How the file backend maps keys to paths under its root. Each `/`-separated key segment is
 * one path component; `%` and `~` are percent-escaped, so a name never contains a bare `~`
 * except where the layout puts it:
 *
 * - an object's file is its escaped last segment followed by `~` (`a/b.log` → `a/b.log~`);
 * - a directory is an escaped segment with no suffix, so key `a` (file `a~`) and key `a/b`
 *   (directory `a`) never collide;
 * - temporary files start with `~` and are never listed.
 */
import { join, sep } from 'node:path';
import { ObjectStoreError } from './types.ts';

/** Suffix of object files. */
export const OBJECT_SUFFIX = '~';
/** Prefix of temporary files (never an escaped segment, which cannot contain `~`). */
export const TEMP_PREFIX = '~tmp-';
/** Longest escaped segment, leaving room for the suffix within the usual 255-byte name limit. */
export const SEGMENT_BYTES_MAX = 250;

/** Escapes one key segment into a path component (without the object suffix). */
export function escapeSegment(segment: string): string {
  const escaped = segment.replace(/%/g, '%25').replace(/~/g, '%7E');
  if (Buffer.byteLength(escaped, 'utf8') > SEGMENT_BYTES_MAX) {
    throw new ObjectStoreError(
      'invalid',
      `invalid key segment for the file backend: longer than ${SEGMENT_BYTES_MAX} bytes once escaped`,
    );
  }
  return escaped;
}

/** Reverses {@link escapeSegment}. */
export function unescapeSegment(name: string): string {
  return name.replace(/%7E/g, '~').replace(/%25/g, '%');
}

/** The directory components and the object file name of a (validated) key. */
export function keyPath(root: string, key: string): { dirs: string[]; dir: string; file: string } {
  const segments = key.split('/');
  const last = segments.pop() as string;
  const dirs = segments.map(escapeSegment);
  const dir = join(root, ...dirs);
  const file = join(dir, escapeSegment(last) + OBJECT_SUFFIX);
  if (!file.startsWith(root + sep)) {
    throw new ObjectStoreError('invalid', `invalid key ${JSON.stringify(key)}: escapes the store root`);
  }
  return { dirs, dir, file };
}

/** What a directory entry is in this layout. */
export function classifyEntry(
  name: string,
  isFile: boolean,
  isDirectory: boolean,
): { kind: 'object' | 'dir'; segment: string } | undefined {
  if (name.startsWith('~')) return undefined;
  if (isDirectory && !name.includes('~')) return { kind: 'dir', segment: unescapeSegment(name) };
  if (isFile && name.endsWith(OBJECT_SUFFIX) && name.indexOf('~') === name.length - 1) {
    return { kind: 'object', segment: unescapeSegment(name.slice(0, -1)) };
  }
  return undefined;
}
