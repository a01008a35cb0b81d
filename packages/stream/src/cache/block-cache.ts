/**
 * The block cache: decoded blocks of uploaded objects, keyed by (object id, block position),
 * bounded in bytes with least-recently-used eviction. Cold reads go through it; concurrent
 * misses on one block share a single load.
 */
import { LRUCache } from 'lru-cache';

/** Identifies a block: its object and its byte position inside that object. */
export interface BlockKey {
  readonly objectId: string | number;
  readonly position: number;
}

/** Options of {@link BlockCache}. */
export interface BlockCacheOptions<V> {
  /** Total size (as measured by `sizeOf`) of the cached blocks at most. */
  bytesMax: number;
  /** Size in bytes of a block; must be a positive integer. */
  sizeOf: (value: V) => number;
}

/** Counters of a {@link BlockCache}. */
export interface BlockCacheStats {
  hits: number;
  misses: number;
  /** Blocks dropped to make room. */
  evictions: number;
  /** Loads started (misses of getOrLoad that were not joined to a running load). */
  loads: number;
  /** Loads that failed (their error went to every waiter; nothing was cached). */
  loadFailures: number;
  /** Blocks held now. */
  entries: number;
  /** Bytes held now. */
  bytes: number;
  /** Loads running now. */
  inflight: number;
}

/**
 * Byte-bounded LRU of decoded object blocks. A block larger than `bytesMax` is never kept
 * (get/getOrLoad still return it to the caller). Values are shared: callers must not modify
 * them.
 */
export class BlockCache<V extends {}> {
  readonly bytesMax: number;
  private readonly lru: LRUCache<string, V>;
  private readonly inflight = new Map<string, Promise<V>>();
  private counters = { hits: 0, misses: 0, evictions: 0, loads: 0, loadFailures: 0 };

  constructor(options: BlockCacheOptions<V>) {
    if (!Number.isSafeInteger(options.bytesMax) || options.bytesMax <= 0) {
      throw new RangeError(`bytesMax must be a positive integer, got ${options.bytesMax}`);
    }
    this.bytesMax = options.bytesMax;
    const sizeOf = options.sizeOf;
    this.lru = new LRUCache<string, V>({
      maxSize: options.bytesMax,
      sizeCalculation: (value) => {
        const size = sizeOf(value);
        if (!Number.isSafeInteger(size) || size <= 0) {
          throw new RangeError(`block size must be a positive integer, got ${size}`);
        }
        return size;
      },
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') this.counters.evictions++;
      },
    });
  }

  /** The cached block (now the most recently used), or undefined; counts a hit or a miss. */
  get(key: BlockKey): V | undefined {
    const value = this.lru.get(keyString(key));
    if (value === undefined) this.counters.misses++;
    else this.counters.hits++;
    return value;
  }

  /** True if the block is cached; does not touch recency or counters. */
  has(key: BlockKey): boolean {
    return this.lru.has(keyString(key));
  }

  /** True while a getOrLoad of the block runs. */
  loading(key: BlockKey): boolean {
    return this.inflight.has(keyString(key));
  }

  /** Caches a block, evicting least recently used ones to stay within `bytesMax`. */
  set(key: BlockKey, value: V): void {
    this.lru.set(keyString(key), value);
  }

  /** Drops a block (e.g. its object was deleted). */
  delete(key: BlockKey): void {
    this.lru.delete(keyString(key));
  }

  /**
   * The cached block, or the result of `loader()` which is then cached. Concurrent calls for
   * one key while a load runs share it (single flight: `loader` runs once). A failed load is
   * not cached: every caller waiting on it gets the error and the next call loads again.
   */
  getOrLoad(key: BlockKey, loader: () => Promise<V>): Promise<V> {
    const k = keyString(key);
    const cached = this.lru.get(k);
    if (cached !== undefined) {
      this.counters.hits++;
      return Promise.resolve(cached);
    }
    this.counters.misses++;
    const running = this.inflight.get(k);
    if (running) return running;
    this.counters.loads++;
    // Started on a later tick so that the entry is registered before the load can settle,
    // even when `loader` throws synchronously.
    const load = Promise.resolve()
      .then(loader)
      .then(
        (value) => {
          this.inflight.delete(k);
          this.lru.set(k, value);
          return value;
        },
        (err: unknown) => {
          this.inflight.delete(k);
          this.counters.loadFailures++;
          throw err;
        },
      );
    this.inflight.set(k, load);
    return load;
  }

  /** Drops every block (running loads still complete and cache their result). */
  clear(): void {
    this.lru.clear();
  }

  /** Current counters. */
  stats(): BlockCacheStats {
    return {
      ...this.counters,
      entries: this.lru.size,
      bytes: this.lru.calculatedSize,
      inflight: this.inflight.size,
    };
  }
}

function keyString(key: BlockKey): string {
  if (!Number.isSafeInteger(key.position) || key.position < 0) {
    throw new RangeError(`block position must be an integer in [0, 2^53), got ${key.position}`);
  }
  return `${typeof key.objectId}:${key.objectId}@${key.position}`;
}
