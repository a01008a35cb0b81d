/**
 * An object store in a local directory (see file-layout.ts for the key → path mapping).
 * Puts are atomic and durable: the body goes to a temporary file that is fsynced, then
 * renamed over the object (or hard-linked, for a conditional put, which fails if the name
 * exists), then the directory is fsynced. Deletes are not fsynced: after a crash a deleted
 * object may reappear, never a torn one.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, link, mkdir, open, readdir, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  bodyParts,
  compareKeys,
  forEachBounded,
  resolveMaxKeys,
  resolveRange,
  throwIfAborted,
  validateKey,
  validatePrefix,
} from './common.ts';
import { classifyEntry, keyPath, TEMP_PREFIX } from './file-layout.ts';
import {
  type GetOptions,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  type ObjectStore,
  ObjectStoreError,
  type PutOptions,
} from './types.ts';

/** Concurrent unlinks in `deleteMany`. */
const DELETE_CONCURRENCY = 16;
/** Attempts to create a directory chain that a concurrent delete keeps pruning. */
const MKDIR_ATTEMPTS_MAX = 10;

/** {@link ObjectStore} rooted at a local directory (created on first put). */
export class FileObjectStore implements ObjectStore {
  readonly capabilities = { conditionalPut: true } as const;
  readonly description: string;
  /** Absolute root directory. */
  readonly root: string;
  private closed = false;

  constructor(root: string) {
    this.root = resolve(root);
    this.description = `file://${this.root}`;
  }

  async put(key: string, body: Buffer | readonly Buffer[], options: PutOptions = {}): Promise<ObjectInfo> {
    this.checkOpen();
    validateKey(key);
    const { parts } = bodyParts(body);
    const path = keyPath(this.root, key);
    throwIfAborted(options.signal, `put ${key}`);
    try {
      for (let attempt = 1; ; attempt++) {
        const created = await this.ensureDirs(path.dirs);
        const temp = join(path.dir, TEMP_PREFIX + randomBytes(8).toString('hex'));
        let handle: FileHandle;
        try {
          handle = await open(temp, 'wx', 0o644);
        } catch (err) {
          // A concurrent delete pruned the (empty) directory between mkdir and open.
          if (code(err) === 'ENOENT' && attempt < MKDIR_ATTEMPTS_MAX) continue;
          throw err;
        }
        const info = await writeAndPublish(handle, temp, path.file, key, parts, options);
        await fsyncDir(path.dir);
        for (const dir of created.reverse()) await fsyncDir(dir);
        return info;
      }
    } catch (err) {
      throw mapFsError(err, `put ${key}`);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Buffer> {
    this.checkOpen();
    validateKey(key);
    const { file } = keyPath(this.root, key);
    throwIfAborted(options.signal, `get ${key}`);
    let handle: FileHandle | undefined;
    try {
      handle = await open(file, 'r');
      const size = (await handle.stat()).size;
      const range = resolveRange(key, size, options.start, options.end);
      const out = Buffer.allocUnsafe(range.end - range.start);
      let done = 0;
      while (done < out.length) {
        throwIfAborted(options.signal, `get ${key}`);
        const { bytesRead } = await handle.read(out, done, out.length - done, range.start + done);
        if (bytesRead === 0) throw new ObjectStoreError('fatal', `get ${key}: file shrank while reading`);
        done += bytesRead;
      }
      return out;
    } catch (err) {
      throw mapFsError(err, `get ${key}`);
    } finally {
      await handle?.close();
    }
  }

  async head(key: string): Promise<ObjectInfo> {
    this.checkOpen();
    validateKey(key);
    try {
      return infoOf(key, await stat(keyPath(this.root, key).file, { bigint: true }));
    } catch (err) {
      throw mapFsError(err, `head ${key}`);
    }
  }

  async list(options: ListOptions = {}): Promise<ListPage> {
    this.checkOpen();
    const prefix = options.prefix ?? '';
    validatePrefix(prefix);
    const maxKeys = resolveMaxKeys(options.maxKeys);
    const after = options.continuationToken;
    const objects: ObjectInfo[] = [];
    try {
      for await (const key of this.walk(this.root, '', prefix, after)) {
        if (objects.length === maxKeys) {
          return { objects, continuationToken: objects[objects.length - 1]?.key };
        }
        try {
          objects.push(infoOf(key, await stat(keyPath(this.root, key).file, { bigint: true })));
        } catch (err) {
          if (code(err) !== 'ENOENT') throw err; // deleted since readdir: skip it
        }
      }
      return { objects };
    } catch (err) {
      throw mapFsError(err, 'list');
    }
  }

  async delete(key: string): Promise<void> {
    this.checkOpen();
    validateKey(key);
    const path = keyPath(this.root, key);
    try {
      await unlink(path.file);
    } catch (err) {
      if (code(err) !== 'ENOENT') throw mapFsError(err, `delete ${key}`);
    }
    // Prune directories left empty, deepest first; stop at the first that is not empty.
    for (let depth = path.dirs.length; depth > 0; depth--) {
      try {
        await rmdir(join(this.root, ...path.dirs.slice(0, depth)));
      } catch {
        break;
      }
    }
  }

  async deleteMany(keys: readonly string[]): Promise<{ failed: { key: string; error: ObjectStoreError }[] }> {
    this.checkOpen();
    const failed: { key: string; error: ObjectStoreError }[] = [];
    await forEachBounded(keys, DELETE_CONCURRENCY, async (key) => {
      try {
        await this.delete(key);
      } catch (err) {
        failed.push({ key, error: mapFsError(err, `delete ${key}`) });
      }
    });
    return { failed };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new ObjectStoreError('fatal', `${this.description} is closed`);
  }

  /** Creates the root and the key's directories; returns the parents of created ones. */
  private async ensureDirs(dirs: readonly string[]): Promise<string[]> {
    const needsSync: string[] = [];
    await mkdir(this.root, { recursive: true });
    let parent = this.root;
    for (const name of dirs) {
      const dir = join(parent, name);
      try {
        await mkdir(dir);
        needsSync.push(parent);
      } catch (err) {
        if (code(err) !== 'EEXIST') throw err;
      }
      parent = dir;
    }
    return needsSync;
  }

  /**
   * Yields the keys under `dir` (whose keys start with `keyPrefix`) in S3 order: a directory
   * `s` sorts as `s/`, an object as `s`, which orders the whole tree by key bytes.
   */
  private async *walk(
    dir: string,
    keyPrefix: string,
    prefix: string,
    after?: string,
  ): AsyncGenerator<string> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (code(err) === 'ENOENT' || code(err) === 'ENOTDIR') return;
      throw err;
    }
    const children: { sortKey: string; kind: 'object' | 'dir'; name: string }[] = [];
    for (const entry of entries) {
      const c = classifyEntry(entry.name, entry.isFile(), entry.isDirectory());
      if (c === undefined) continue;
      const sortKey = keyPrefix + c.segment + (c.kind === 'dir' ? '/' : '');
      children.push({ sortKey, kind: c.kind, name: entry.name });
    }
    children.sort((a, b) => compareKeys(a.sortKey, b.sortKey));
    for (const child of children) {
      const k = child.sortKey;
      if (child.kind === 'object') {
        if (k.startsWith(prefix) && (after === undefined || compareKeys(k, after) > 0)) yield k;
        continue;
      }
      if (!k.startsWith(prefix) && !prefix.startsWith(k)) continue;
      if (after !== undefined && !after.startsWith(k) && compareKeys(k, after) < 0) continue;
      yield* this.walk(join(dir, child.name), k, prefix, after);
    }
  }
}

/** Buffers per writev call (IOV_MAX on Linux). */
const WRITEV_BUFFERS_MAX = 1024;

async function writeAndPublish(
  handle: FileHandle,
  temp: string,
  file: string,
  key: string,
  parts: readonly Buffer[],
  options: PutOptions,
): Promise<ObjectInfo> {
  let published = false;
  try {
    // writev in groups of at most IOV_MAX buffers: an object of small batches is thousands of
    // buffers, and one write call per buffer costs more than the copy it avoids.
    let position = 0;
    let i = 0;
    while (i < parts.length) {
      throwIfAborted(options.signal, `put ${key}`);
      const group: Buffer[] = [];
      let bytes = 0;
      while (i < parts.length && group.length < WRITEV_BUFFERS_MAX) {
        const part = parts[i++]!;
        if (part.length === 0) continue;
        group.push(part);
        bytes += part.length;
      }
      if (bytes === 0) continue;
      const { bytesWritten } = await handle.writev(group, position);
      position += bytesWritten;
      if (bytesWritten < bytes) {
        // A short write: finish this group buffer by buffer.
        let skip = bytesWritten;
        for (const part of group) {
          if (skip >= part.length) {
            skip -= part.length;
            continue;
          }
          let done = skip;
          skip = 0;
          while (done < part.length) {
            const w = await handle.write(part, done, part.length - done, position);
            done += w.bytesWritten;
            position += w.bytesWritten;
          }
        }
      }
    }
    await handle.sync();
    const st = await handle.stat({ bigint: true });
    await handle.close();
    throwIfAborted(options.signal, `put ${key}`);
    if (options.ifNoneMatch === '*') {
      try {
        await link(temp, file);
      } catch (err) {
        if (code(err) === 'EEXIST') {
          throw new ObjectStoreError('precondition-failed', `put ${key}: object already exists`);
        }
        throw err;
      }
      await unlink(temp);
    } else {
      await rename(temp, file);
    }
    published = true;
    return infoOf(key, st);
  } finally {
    await handle.close().catch(() => {});
    if (!published) await unlink(temp).catch(() => {});
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function infoOf(key: string, st: import('node:fs').BigIntStats): ObjectInfo {
  return {
    key,
    size: Number(st.size),
    etag: `${st.ino.toString(16)}-${st.mtimeNs.toString(16)}-${st.size.toString(16)}`,
    lastModifiedMs: Number(st.mtimeMs),
  };
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

const RETRIABLE_CODES = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'EINTR']);

function mapFsError(err: unknown, context: string): ObjectStoreError {
  if (err instanceof ObjectStoreError) return err;
  const c = code(err);
  const message = `${context}: ${err instanceof Error ? err.message : String(err)}`;
  if (c === 'ENOENT') return new ObjectStoreError('not-found', message, err);
  if (c === 'ENAMETOOLONG') return new ObjectStoreError('invalid', message, err);
  if (c !== undefined && RETRIABLE_CODES.has(c)) return new ObjectStoreError('retriable', message, err);
  return new ObjectStoreError('fatal', message, err);
}
