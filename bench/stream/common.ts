/**
 * Shared pieces of the stream benchmarks: seeded batch sizes, a payload pool, a bounded
 * in-flight window, medians and unit helpers.
 */
import { randomFillSync } from 'node:crypto';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** mulberry32: a small seeded PRNG, so every run (and every stream count) sees the same sizes. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Batch sizes in [minBytes, maxBytes] (multiples of 1 KiB) from `seed`, adding up to at least
 * `totalBytes`. The same arguments give the same list.
 */
export function batchSizes(totalBytes: number, minBytes: number, maxBytes: number, seed: number): number[] {
  const rnd = seededRandom(seed);
  const lo = Math.ceil(minBytes / KiB);
  const hi = Math.floor(maxBytes / KiB);
  const out: number[] = [];
  let sum = 0;
  while (sum < totalBytes) {
    const size = (lo + Math.floor(rnd() * (hi - lo + 1))) * KiB;
    out.push(size);
    sum += size;
  }
  return out;
}

/** Random payload bytes; batches are views into it (the store never modifies them). */
export function payload(bytes: number): Buffer {
  return randomFillSync(Buffer.allocUnsafe(bytes));
}

/** Records per batch: one per KiB (the stream layer only stores the count). */
export function recordsOf(size: number): number {
  return Math.max(1, Math.floor(size / KiB));
}

/**
 * Runs `task(i)` for i in [0, n) with at most `window` promises in flight; tasks start in
 * index order. Rejects with the first failure (after the ones in flight settle).
 */
export async function windowed(
  n: number,
  window: number,
  task: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < n && failure === undefined) {
      const i = next++;
      try {
        await task(i);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, n) }, worker));
  if (failure !== undefined) throw failure;
}

/** Median of a list (mean of the two middle values for an even length). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Seconds since `start` (a `process.hrtime.bigint()` reading). */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Rounds for the JSON and tables. */
export function round(v: number, digits = 3): number {
  return Number.isFinite(v) ? +v.toFixed(digits) : v;
}
