/**
 * An in-process object store, for tests and single-process experiments. Objects live in a
 * Map; puts copy the body and gets return copies, so callers may reuse their buffers.
 * Supports conditional put. Unbounded by design: it holds whatever the caller stores.
 */
import { createHash } from 'node:crypto';
import {
  bodyParts,
  compareKeys,
  resolveMaxKeys,
  resolveRange,
  throwIfAborted,
  validateKey,
  validatePrefix,
} from './common.ts';
import {
  type GetOptions,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  type ObjectStore,
  ObjectStoreError,
  type PutOptions,
} from './types.ts';

/** One stored object of a {@link MemoryObjectStore}. */
export interface MemoryObject {
  data: Buffer;
  etag: string;
  lastModifiedMs: number;
}

/** Options of {@link MemoryObjectStore}. */
export interface MemoryObjectStoreOptions {
  /** Share this map between stores (e.g. several opens of `memory://name`). */
  objects?: Map<string, MemoryObject>;
  /** Name shown in `description`. */
  name?: string;
  /** Clock for `lastModifiedMs`; defaults to Date.now. */
  nowMs?: () => number;
}

/** In-memory {@link ObjectStore}: atomic puts, ordered paginated lists, conditional put. */
export class MemoryObjectStore implements ObjectStore {
  readonly capabilities = { conditionalPut: true } as const;
  readonly description: string;
  private readonly objects: Map<string, MemoryObject>;
  private readonly nowMs: () => number;
  private generation = 0;
  private closed = false;

  constructor(options: MemoryObjectStoreOptions = {}) {
    this.objects = options.objects ?? new Map();
    this.nowMs = options.nowMs ?? Date.now;
    this.description = `memory://${options.name ?? ''}`;
  }

  async put(key: string, body: Buffer | readonly Buffer[], options: PutOptions = {}): Promise<ObjectInfo> {
    this.checkOpen();
    validateKey(key);
    throwIfAborted(options.signal, `put ${key}`);
    const { parts, size } = bodyParts(body);
    if (options.ifNoneMatch === '*' && this.objects.has(key)) {
      throw new ObjectStoreError('precondition-failed', `put ${key}: object already exists`);
    }
    const data = Buffer.concat(parts as Buffer[], size);
    this.generation++;
    const digest = createHash('md5').update(data).digest('hex');
    const object: MemoryObject = { data, etag: `${digest}-${this.generation}`, lastModifiedMs: this.nowMs() };
    this.objects.set(key, object);
    return info(key, object);
  }

  async get(key: string, options: GetOptions = {}): Promise<Buffer> {
    this.checkOpen();
    validateKey(key);
    throwIfAborted(options.signal, `get ${key}`);
    const object = this.objects.get(key);
    if (object === undefined) throw notFound(key);
    const { start, end } = resolveRange(key, object.data.length, options.start, options.end);
    return Buffer.from(object.data.subarray(start, end));
  }

  async head(key: string): Promise<ObjectInfo> {
    this.checkOpen();
    validateKey(key);
    const object = this.objects.get(key);
    if (object === undefined) throw notFound(key);
    return info(key, object);
  }

  async list(options: ListOptions = {}): Promise<ListPage> {
    this.checkOpen();
    const prefix = options.prefix ?? '';
    validatePrefix(prefix);
    const maxKeys = resolveMaxKeys(options.maxKeys);
    const after = options.continuationToken;
    const keys: string[] = [];
    for (const key of this.objects.keys()) {
      if (key.startsWith(prefix) && (after === undefined || compareKeys(key, after) > 0)) keys.push(key);
    }
    keys.sort(compareKeys);
    const page = keys.slice(0, maxKeys);
    const objects = page.map((key) => info(key, this.objects.get(key) as MemoryObject));
    const last = page[page.length - 1];
    return keys.length > maxKeys && last !== undefined ? { objects, continuationToken: last } : { objects };
  }

  async delete(key: string): Promise<void> {
    this.checkOpen();
    validateKey(key);
    this.objects.delete(key);
  }

  async deleteMany(keys: readonly string[]): Promise<{ failed: { key: string; error: ObjectStoreError }[] }> {
    this.checkOpen();
    const failed: { key: string; error: ObjectStoreError }[] = [];
    for (const key of keys) {
      try {
        validateKey(key);
        this.objects.delete(key);
      } catch (err) {
        failed.push({ key, error: err as ObjectStoreError });
      }
    }
    return { failed };
  }

  /** Marks this store closed; the objects stay in the (possibly shared) map. */
  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new ObjectStoreError('fatal', `${this.description} is closed`);
  }
}

function info(key: string, object: MemoryObject): ObjectInfo {
  return { key, size: object.data.length, etag: object.etag, lastModifiedMs: object.lastModifiedMs };
}

function notFound(key: string): ObjectStoreError {
  return new ObjectStoreError('not-found', `no object ${key}`);
}
