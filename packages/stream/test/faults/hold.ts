/**
 * An ObjectStore wrapper that can hold ranged GETs (the reads of a fetch) at a gate while
 * every other call goes through — e.g. while a compaction (whole-object GETs) and a garbage
 * collection run underneath a read.
 */
import type {
  GetOptions,
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  ObjectStoreError,
  PutOptions,
} from '../../src/object-store/types.ts';

/** Holds ranged GETs while {@link hold} is on. */
export class HoldingObjectStore implements ObjectStore {
  readonly capabilities: { readonly conditionalPut: boolean };
  readonly description: string;
  private gate: { promise: Promise<void>; open: () => void } | undefined;
  /** Ranged GETs waiting at the gate now. */
  held = 0;

  constructor(readonly inner: ObjectStore) {
    this.capabilities = inner.capabilities;
    this.description = `holding(${inner.description})`;
  }

  /** From now on ranged GETs wait (before reaching the inner store) until {@link release}. */
  hold(): void {
    if (this.gate !== undefined) return;
    let open!: () => void;
    const promise = new Promise<void>((r) => {
      open = r;
    });
    this.gate = { promise, open };
  }

  /** Lets every held GET go on. */
  release(): void {
    const g = this.gate;
    this.gate = undefined;
    g?.open();
  }

  async get(key: string, options?: GetOptions): Promise<Buffer> {
    const g = this.gate;
    if (g !== undefined && options?.start !== undefined) {
      this.held++;
      try {
        await g.promise;
      } finally {
        this.held--;
      }
    }
    return this.inner.get(key, options);
  }

  put(key: string, body: Buffer | readonly Buffer[], options?: PutOptions): Promise<ObjectInfo> {
    return this.inner.put(key, body, options);
  }

  head(key: string): Promise<ObjectInfo> {
    return this.inner.head(key);
  }

  list(options?: ListOptions): Promise<ListPage> {
    return this.inner.list(options);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  deleteMany(keys: readonly string[]): Promise<{ failed: { key: string; error: ObjectStoreError }[] }> {
    return this.inner.deleteMany(keys);
  }

  async close(): Promise<void> {}
}
