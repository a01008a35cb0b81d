/**
 * A small seeded PRNG (mulberry32) for the stream simulation: every random choice of a run
 * comes from one of these, so a seed replays the same operation sequence.
 */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** One value of a weighted table (weights need not add up to 1; zero weights never win). */
  weighted<T>(table: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of table) total += w;
    let x = this.next() * total;
    for (const [v, w] of table) {
      if (w <= 0) continue;
      if (x < w) return v;
      x -= w;
    }
    return table[table.length - 1]![0];
  }

  /** A uint32 for seeding another generator. */
  uint32(): number {
    return Math.floor(this.next() * 4294967296) >>> 0;
  }
}
