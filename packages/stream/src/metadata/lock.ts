/**
 * An exclusive lock on a directory: a `metadata.lock` file created with O_EXCL holding the
 * owner's pid. A lock whose pid is no longer running (the owner crashed) is taken over; a
 * live owner — another process, or another open store in this process — makes the open fail.
 */
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { MetadataError } from './types.ts';

export const LOCK_FILE = 'metadata.lock';
/** A lock file without a pid is considered abandoned after this long. */
const EMPTY_LOCK_STALE_MS = 10_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take the lock on `dir`; resolves to its release function. */
export async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      try {
        await fh.writeFile(`${process.pid}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      return async () => {
        await unlink(path).catch(() => {});
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new MetadataError('unavailable', `cannot lock metadata directory ${dir}: ${String(e)}`, {
          cause: e,
        });
      }
    }
    const text = await readFile(path, 'utf8').catch(() => '');
    const pid = Number.parseInt(text, 10);
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
      const who = pid === process.pid ? 'this process' : `process ${pid}`;
      throw new MetadataError(
        'unavailable',
        `metadata directory ${dir} is already open by ${who} (lock file ${path}); only one store may open it`,
      );
    }
    if (!(Number.isInteger(pid) && pid > 0)) {
      // Being created right now, or its creator died before writing the pid: wait until it is old.
      const ageMs = Date.now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? 0);
      if (ageMs < EMPTY_LOCK_STALE_MS) {
        throw new MetadataError(
          'unavailable',
          `metadata directory ${dir} is being opened by another process (${path})`,
        );
      }
    }
    // The owner is gone: take the lock over.
    await unlink(path).catch(() => {});
  }
  throw new MetadataError(
    'unavailable',
    `cannot lock metadata directory ${dir}: lock file ${path} keeps reappearing`,
  );
}
