/** Version ranges as written in Kafka's message JSON ("0+", "1-3", "2", "none"). */

/** Highest version number Kafka's "N+" stands for. */
export const MAX_VERSION = 0x7fff;

/** An inclusive version range; `null` means "no versions". */
export interface Range {
  min: number;
  max: number;
}

export function parseRange(spec: string | undefined, what: string): Range | null {
  if (spec === undefined) throw new Error(`${what}: missing version range`);
  const s = spec.trim();
  if (s === 'none') return null;
  let m = /^(\d+)\+$/.exec(s);
  if (m) return { min: Number(m[1]), max: MAX_VERSION };
  m = /^(\d+)-(\d+)$/.exec(s);
  if (m) {
    const r = { min: Number(m[1]), max: Number(m[2]) };
    if (r.min > r.max) throw new Error(`${what}: empty range "${spec}"`);
    return r;
  }
  m = /^(\d+)$/.exec(s);
  if (m) return { min: Number(m[1]), max: Number(m[1]) };
  throw new Error(`${what}: bad version range "${spec}"`);
}

export function intersect(a: Range | null, b: Range | null): Range | null {
  if (a === null || b === null) return null;
  const min = Math.max(a.min, b.min);
  const max = Math.min(a.max, b.max);
  return min <= max ? { min, max } : null;
}

/** The smallest range covering both. */
export function hull(a: Range | null, b: Range | null): Range | null {
  if (a === null) return b;
  if (b === null) return a;
  return { min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) };
}

export function contains(r: Range | null, v: number): boolean {
  return r !== null && v >= r.min && v <= r.max;
}

export function sameRange(a: Range | null, b: Range | null): boolean {
  if (a === null || b === null) return a === b;
  return a.min === b.min && a.max === b.max;
}

/**
 * A condition on the version variable `v` that holds exactly for the versions of `r` inside
 * `ctx` (the versions the surrounding code can run with): 'true', 'false' or an expression.
 */
export function cond(r: Range | null, ctx: Range): string {
  const i = intersect(r, ctx);
  if (i === null) return 'false';
  const lo = i.min > ctx.min;
  const hi = i.max < ctx.max;
  if (lo && hi) return i.min === i.max ? `v === ${i.min}` : `v >= ${i.min} && v <= ${i.max}`;
  if (lo) return `v >= ${i.min}`;
  if (hi) return `v <= ${i.max}`;
  return 'true';
}

export function rangeText(r: Range | null): string {
  if (r === null) return 'none';
  if (r.max === MAX_VERSION) return `${r.min}+`;
  return r.min === r.max ? `${r.min}` : `${r.min}-${r.max}`;
}

/** `[min, max]` literal, or `null`. */
export function rangeLiteral(r: Range | null): string {
  return r === null ? 'null' : `[${r.min}, ${r.max}]`;
}
