/**
 * A virtual clock for deterministic tests: `sleep` registers a timer that fires only when the
 * test calls {@link VirtualClock.advance}. Pass `clock.sleep` wherever a component takes an
 * injectable sleep (e.g. the `sleep` option of FaultyObjectStore).
 */
export class VirtualClock {
  private nowMsValue: number;
  private nextId = 0;
  private readonly timers: { id: number; atMs: number; fire: () => void }[] = [];

  constructor(startMs = 0) {
    this.nowMsValue = startMs;
  }

  /** Current virtual time in milliseconds. */
  now(): number {
    return this.nowMsValue;
  }

  /** Timers registered and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /**
   * Resolves once virtual time reaches now + `ms` (immediately on the next microtask for
   * `ms <= 0`). Rejects with the signal's reason if `signal` aborts first.
   */
  readonly sleep = (ms: number, signal?: AbortSignal): Promise<void> => {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const id = this.nextId++;
      const onAbort = (): void => {
        this.cancel(id);
        reject(signal?.reason);
      };
      this.timers.push({
        id,
        atMs: this.nowMsValue + ms,
        fire: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  };

  /**
   * Moves time forward by `ms`, firing due timers in time order (ties in registration order)
   * and letting pending promise callbacks run after each, so chains of sleeps started by a
   * fired timer also fire if they fall within the window.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance: ms must be >= 0, got ${ms}`);
    const target = this.nowMsValue + ms;
    await settle();
    for (;;) {
      const next = this.earliest();
      if (next === undefined || next.atMs > target) break;
      this.cancel(next.id);
      this.nowMsValue = Math.max(this.nowMsValue, next.atMs);
      next.fire();
      await settle();
    }
    this.nowMsValue = target;
    await settle();
  }

  private earliest(): { id: number; atMs: number; fire: () => void } | undefined {
    let best: { id: number; atMs: number; fire: () => void } | undefined;
    for (const t of this.timers) if (best === undefined || t.atMs < best.atMs) best = t;
    return best;
  }

  private cancel(id: number): void {
    const i = this.timers.findIndex((t) => t.id === id);
    if (i >= 0) this.timers.splice(i, 1);
  }
}

/** Lets queued promise callbacks run (a few macrotask turns). */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
