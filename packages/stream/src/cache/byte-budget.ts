/**
 * A byte budget with FIFO back-pressure: callers `reserve` bytes before producing data (e.g.
 * before writing it to the WAL), the data is then `commit`ted against the reservation, and
 * the bytes come back with `free` once the data is gone. Used + reserved bytes never exceed
 * `bytesMax`.
 */

/** A reserve() that could not be satisfied at once. */
interface Waiter {
  bytes: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Options of {@link ByteBudget}. */
export interface ByteBudgetOptions {
  /** Bytes that may be used or reserved at any time. */
  bytesMax: number;
  /** Most pending reserve() calls; one more is rejected at once. Default 65536. */
  waitersMax?: number;
  /** Name used in error messages. */
  name?: string;
}

/**
 * FIFO byte budget. Waiters are served strictly in arrival order: a small request never
 * overtakes a large one that is waiting (no starvation).
 */
export class ByteBudget {
  readonly bytesMax: number;
  readonly waitersMax: number;
  private readonly name: string;
  private usedBytes = 0;
  private reservedBytes = 0;
  private readonly waiters: Waiter[] = [];
  private closedError: Error | undefined;

  constructor(options: ByteBudgetOptions) {
    if (!Number.isSafeInteger(options.bytesMax) || options.bytesMax <= 0) {
      throw new RangeError(`bytesMax must be a positive integer, got ${options.bytesMax}`);
    }
    this.bytesMax = options.bytesMax;
    this.waitersMax = options.waitersMax ?? 65536;
    this.name = options.name ?? 'byte budget';
  }

  /** Bytes holding data. */
  get used(): number {
    return this.usedBytes;
  }

  /** Bytes promised to reserve() callers and not yet committed or released. */
  get reserved(): number {
    return this.reservedBytes;
  }

  /** Pending reserve() calls. */
  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * Resolves once `bytes` are set aside for the caller, in FIFO order with other callers.
   * Rejects with RangeError at once if `bytes` exceeds `bytesMax` (it could never fit) or if
   * `waitersMax` calls are already waiting or `bytes` is not a non-negative integer; rejects
   * after {@link close}.
   */
  reserve(bytes: number): Promise<void> {
    try {
      checkBytes(bytes);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closedError) return Promise.reject(this.closedError);
    if (bytes > this.bytesMax) {
      return Promise.reject(
        new RangeError(`${this.name}: record of ${bytes} bytes is larger than bytesMax ${this.bytesMax}`),
      );
    }
    if (this.waiters.length === 0 && this.fits(bytes)) {
      this.reservedBytes += bytes;
      return Promise.resolve();
    }
    if (this.waiters.length >= this.waitersMax) {
      return Promise.reject(new RangeError(`${this.name}: ${this.waitersMax} reservations already waiting`));
    }
    return new Promise((resolve, reject) => this.waiters.push({ bytes, resolve, reject }));
  }

  /** Gives back reserved bytes that will not be committed (e.g. the WAL write failed). */
  release(bytes: number): void {
    checkBytes(bytes);
    if (bytes > this.reservedBytes) {
      throw new RangeError(`${this.name}: release of ${bytes} bytes, only ${this.reservedBytes} reserved`);
    }
    this.reservedBytes -= bytes;
    this.wake();
  }

  /**
   * Turns `bytes` into used bytes: first out of the reservation, the rest out of free room.
   * Throws RangeError (changing nothing) if the rest does not fit, or if it would take room a
   * waiter is queued for.
   */
  commit(bytes: number): void {
    checkBytes(bytes);
    const fromReserved = Math.min(bytes, this.reservedBytes);
    const extra = bytes - fromReserved;
    if (extra > 0 && (this.waiters.length > 0 || !this.fits(extra))) {
      throw new RangeError(
        `${this.name}: ${bytes} bytes were not reserved and do not fit (used ${this.usedBytes}, ` +
          `reserved ${this.reservedBytes}, max ${this.bytesMax}); call reserve() first`,
      );
    }
    this.reservedBytes -= fromReserved;
    this.usedBytes += bytes;
  }

  /** Returns used bytes and wakes the waiters that now fit, in FIFO order. */
  free(bytes: number): void {
    checkBytes(bytes);
    if (bytes > this.usedBytes) {
      throw new RangeError(`${this.name}: free of ${bytes} bytes, only ${this.usedBytes} used`);
    }
    this.usedBytes -= bytes;
    this.wake();
  }

  /** Rejects every waiter and every later reserve() with `err`. */
  close(err: Error): void {
    this.closedError = err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private fits(bytes: number): boolean {
    return this.usedBytes + this.reservedBytes + bytes <= this.bytesMax;
  }

  private wake(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.bytes)) {
      const w = this.waiters.shift()!;
      this.reservedBytes += w.bytes;
      w.resolve();
    }
  }
}

function checkBytes(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw new RangeError(`byte count must be a non-negative integer, got ${bytes}`);
  }
}
