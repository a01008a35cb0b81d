import type { MetadataClock } from './types.ts';

/** The process clock (monotonic, `performance.now()`), the default. */
export const systemMetadataClock: MetadataClock = { now: () => performance.now() };

/** A clock that moves only when told to, for deterministic lease tests and simulations. */
export class ManualMetadataClock implements MetadataClock {
  private nowMs: number;

  constructor(startMs = 0) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  /** Move time forward by `ms` (≥ 0). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`cannot move a clock by ${ms} ms`);
    this.nowMs += ms;
  }
}
