/**
 * MemoryWal: the WriteAheadLog contract in memory, for tests. "Durable" means resolved; a
 * {@link MemoryWalStore} outlives a MemoryWal so a test can "reopen" by constructing a new
 * MemoryWal over the same store. Records take `32 + meta + data` bytes of logical space (the
 * FileWal header size) with no alignment padding.
 */
import {
  WAL_META_MAX_BYTES,
  type WalAppendResult,
  WalError,
  type WalRecord,
  type WalState,
  type WriteAheadLog,
} from './types.ts';

const FRAME_BYTES = 32;

/** The "disk" of a MemoryWal: what a reopened MemoryWal recovers. */
export interface MemoryWalStore {
  records: WalRecord[];
  trimOffset: number;
  endOffset: number;
}

/** Options of {@link MemoryWal}. */
export interface MemoryWalOptions {
  /** Ring capacity in bytes (default 64 MiB). */
  capacityBytes?: number;
  /** When full: wait for a trim (FIFO, default) or reject with WalError('full'). */
  full?: 'wait' | 'reject';
  /** Largest meta + data of one record (default 16 MiB). */
  recordBytesMax?: number;
  /** Shared store to reopen over; a fresh one by default. */
  store?: MemoryWalStore;
}

interface Waiter {
  data: Buffer;
  meta: Buffer;
  resolve: (r: WalAppendResult) => void;
  reject: (e: unknown) => void;
}

/** Creates an empty store for {@link MemoryWalOptions.store}. */
export function createMemoryWalStore(): MemoryWalStore {
  return { records: [], trimOffset: 0, endOffset: 0 };
}

export class MemoryWal implements WriteAheadLog {
  /** The backing store (pass it to a new MemoryWal to simulate a restart). */
  readonly store: MemoryWalStore;
  readonly capacityBytes: number;
  private st: WalState = 'recovering';
  private readonly full: 'wait' | 'reject';
  private readonly recordBytesMax: number;
  private readonly waiters: Waiter[] = [];
  private recoveryRunning = false;

  constructor(o: MemoryWalOptions = {}) {
    this.store = o.store ?? createMemoryWalStore();
    this.capacityBytes = o.capacityBytes ?? 64 * 1024 * 1024;
    this.full = o.full ?? 'wait';
    this.recordBytesMax = o.recordBytesMax ?? 16 * 1024 * 1024;
  }

  get state(): WalState {
    return this.st;
  }
  get endOffset(): number {
    return this.store.endOffset;
  }
  get trimOffset(): number {
    return this.store.trimOffset;
  }
  get usedBytes(): number {
    return this.store.endOffset - this.store.trimOffset;
  }

  async *recover(): AsyncGenerator<WalRecord, void, undefined> {
    if (this.st !== 'recovering' || this.recoveryRunning) throw new WalError('invalid', 'recover() twice');
    this.recoveryRunning = true;
    try {
      for (const r of this.store.records.slice()) {
        if (r.offset < this.store.trimOffset) continue;
        yield {
          offset: r.offset,
          nextOffset: r.nextOffset,
          meta: Buffer.from(r.meta),
          data: Buffer.from(r.data),
        };
      }
      if (this.st === 'recovering') this.st = 'open';
    } finally {
      this.recoveryRunning = false;
    }
  }

  append(data: Buffer | readonly Buffer[], meta?: Buffer): Promise<WalAppendResult> {
    if (this.st !== 'open') return Promise.reject(this.refusal());
    const m = meta ?? Buffer.alloc(0);
    if (m.length > WAL_META_MAX_BYTES) {
      return Promise.reject(new WalError('invalid', `meta is ${m.length} bytes (max ${WAL_META_MAX_BYTES})`));
    }
    const d = Buffer.isBuffer(data) ? Buffer.from(data) : Buffer.concat(data as Buffer[]);
    if (d.length + m.length > this.recordBytesMax || FRAME_BYTES + d.length + m.length > this.capacityBytes) {
      return Promise.reject(
        new WalError('too-large', `record of ${d.length + m.length} bytes can never fit`),
      );
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = { data: d, meta: Buffer.from(m), resolve, reject };
      if (this.waiters.length > 0 || !this.place(w)) {
        if (this.full === 'reject') reject(new WalError('full', `WAL full (${this.usedBytes} bytes used)`));
        else this.waiters.push(w);
      }
    });
  }

  async trim(offset: number): Promise<void> {
    if (this.st !== 'open') throw this.refusal();
    const s = this.store;
    if (offset > s.endOffset)
      throw new WalError('invalid', `trim to ${offset} beyond the end ${s.endOffset}`);
    if (offset <= s.trimOffset) return;
    s.trimOffset = offset;
    let n = 0;
    while (n < s.records.length && s.records[n].offset < offset) n++;
    s.records.splice(0, n);
    while (this.waiters.length > 0 && this.place(this.waiters[0])) this.waiters.shift();
  }

  async close(): Promise<void> {
    if (this.st === 'closed') return;
    this.st = 'closed';
    const err = new WalError('closed', 'WAL closed');
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private place(w: Waiter): boolean {
    const s = this.store;
    const size = FRAME_BYTES + w.meta.length + w.data.length;
    if (s.endOffset + size - s.trimOffset > this.capacityBytes) return false;
    const rec: WalRecord = {
      offset: s.endOffset,
      nextOffset: s.endOffset + size,
      meta: w.meta,
      data: w.data,
    };
    s.records.push(rec);
    s.endOffset = rec.nextOffset;
    const result = { offset: rec.offset, nextOffset: rec.nextOffset };
    queueMicrotask(() => w.resolve(result));
    return true;
  }

  private refusal(): WalError {
    if (this.st === 'closed') return new WalError('closed', 'WAL closed');
    return new WalError('invalid', 'recover() must complete before appends and trims');
  }
}
