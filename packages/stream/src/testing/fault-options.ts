import { setTimeout as sleepTimer } from 'node:timers/promises';
import { ObjectStoreError } from '../object-store/types.ts';

/** The operations a FaultyObjectStore intercepts (`close` is never faulted). */
export type FaultOp = 'put' | 'get' | 'head' | 'list' | 'delete' | 'deleteMany';

/** Every {@link FaultOp}, in a fixed order. */
export const faultOps: readonly FaultOp[] = ['put', 'get', 'head', 'list', 'delete', 'deleteMany'];

/** Operations that change the store; the default targets of `afterWrite`. */
export const mutatingOps: readonly FaultOp[] = ['put', 'delete', 'deleteMany'];

/**
 * The kinds of fault injected.
 * - `slow-down`: 503 SlowDown before the call reaches the inner store (no effect).
 * - `throttle`: 429 Too Many Requests before the call reaches the inner store (no effect).
 * - `reset`: a connection reset (cause has `code: 'ECONNRESET'`) before the call has any effect.
 * - `after-write`: the call reaches the inner store and takes effect, then rejects with a
 *   reset, as when the response is lost.
 * - `slow-read`: the call succeeds after an extra delay (`slowReadMs`, plus the result's
 *   size at `trickleBytesPerSecond` when set).
 * All but `slow-read` reject with `ObjectStoreError('retriable')`.
 */
export type FaultKind = 'slow-down' | 'throttle' | 'reset' | 'after-write' | 'slow-read';

/** An inclusive range of milliseconds. */
export interface MsRange {
  min: number;
  max: number;
}

/**
 * Per-call probabilities, each in [0, 1], exclusive of each other (one draw per call picks at
 * most one fault), so their sum must be at most 1.
 */
export interface FaultRates {
  /** 503 SlowDown or 429 (see `errorStatus`). */
  error?: number;
  /** Connection reset before any effect. */
  reset?: number;
  /** Effect happens, then the call rejects. */
  afterWrite?: number;
  /** Extra delay on success. */
  slowRead?: number;
}

/** A deterministic rule, checked before the probabilistic rates. */
export interface FaultRule {
  /** Operations it applies to; default all. */
  op?: FaultOp | readonly FaultOp[];
  /** Only calls on keys with this prefix (list: its prefix; deleteMany: any of its keys). */
  keyPrefix?: string;
  /** The fault to inject; default 'slow-down'. */
  fault?: FaultKind;
  /** Fire on the next N matching calls only, then stay inert. Default: no limit. */
  failNext?: number;
  /** Fire on a matching call with this probability (seeded); default 1. */
  probability?: number;
}

/** One injected fault, as recorded in FaultyObjectStore.log. */
export interface FaultRecord {
  /** 1-based index of the call among every call on the store. */
  seq: number;
  op: FaultOp;
  key: string;
  kind: FaultKind;
  /** Index of the rule that fired, if a rule did. */
  rule?: number;
  /** HTTP status simulated by slow-down / throttle faults. */
  status?: 503 | 429;
  /** Extra delay of a slow-read fault. */
  delayMs?: number;
}

/** Sleeps `ms` (virtual or real); may reject when `signal` aborts. */
export type SleepFn = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface FaultyObjectStoreOptions {
  /** Seed of every random choice (uint32). Default 1. */
  seed?: number;
  /** Latency added to every call, fixed or drawn from a range. Default 0. */
  latencyMs?: number | MsRange;
  /** How latencies and slow-read delays are drawn from their range. Default 'uniform'. */
  latencyDistribution?: 'uniform' | 'log';
  /**
   * Probabilities for every operation. `afterWrite` applies to mutating operations only
   * (put, delete, deleteMany) and `slowRead` to get only; use `opRates` to target others.
   */
  rates?: FaultRates;
  /** Per-operation probabilities; each field overrides the one from `rates`. */
  opRates?: Partial<Record<FaultOp, FaultRates>>;
  /** Status of `error` faults: 503 SlowDown, 429, or either at random. Default 'mixed'. */
  errorStatus?: 503 | 429 | 'mixed';
  /** Extra delay of a slow read. Default 100..1000 ms. */
  slowReadMs?: number | MsRange;
  /** When set, a slow read also waits its result's size at this rate (a trickled body). */
  trickleBytesPerSecond?: number;
  /** Rules, checked in order before the rates (more with `addRule`). */
  rules?: readonly FaultRule[];
  /** Injectable sleep (e.g. VirtualClock.sleep). Default: real timers. */
  sleep?: SleepFn;
  /** Bound on `log` entries; the oldest are dropped. Default 10 000. */
  logEntriesMax?: number;
}

/** Options after validation and defaults. */
export interface NormalizedOptions {
  seed: number;
  latencyMs: MsRange;
  latencyDistribution: 'uniform' | 'log';
  rates: Record<FaultOp, FaultRates>;
  errorStatus: 503 | 429 | 'mixed';
  slowReadMs: MsRange;
  trickleBytesPerSecond?: number;
  sleep: SleepFn;
  logEntriesMax: number;
}

/** The default sleep: real timers. */
export function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return sleepTimer(ms, undefined, signal === undefined ? undefined : { signal });
}

/** Validates options and fills in defaults; throws RangeError on a bad value. */
export function normalizeOptions(o: FaultyObjectStoreOptions): NormalizedOptions {
  const seed = o.seed ?? 1;
  if (!(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff))
    throw new RangeError(`seed must be a uint32, got ${seed}`);
  const rates = {} as Record<FaultOp, FaultRates>;
  for (const op of faultOps) {
    const base: FaultRates = { error: o.rates?.error, reset: o.rates?.reset };
    if (mutatingOps.includes(op)) base.afterWrite = o.rates?.afterWrite;
    if (op === 'get') base.slowRead = o.rates?.slowRead;
    const merged: FaultRates = { ...base };
    for (const [k, v] of Object.entries(o.opRates?.[op] ?? {}))
      if (v !== undefined) merged[k as keyof FaultRates] = v;
    let sum = 0;
    for (const [k, v] of Object.entries(merged)) {
      if (v === undefined) continue;
      if (!(v >= 0 && v <= 1)) throw new RangeError(`${op}.${k}: probability must be in [0, 1], got ${v}`);
      sum += v;
    }
    if (sum > 1 + 1e-9) throw new RangeError(`${op}: fault probabilities add up to ${sum}, more than 1`);
    rates[op] = merged;
  }
  const logEntriesMax = o.logEntriesMax ?? 10_000;
  if (!(Number.isInteger(logEntriesMax) && logEntriesMax >= 1))
    throw new RangeError(`logEntriesMax must be an integer >= 1, got ${logEntriesMax}`);
  const tbps = o.trickleBytesPerSecond;
  if (tbps !== undefined && !(tbps > 0 && Number.isFinite(tbps)))
    throw new RangeError(`trickleBytesPerSecond must be > 0, got ${tbps}`);
  const errorStatus = o.errorStatus ?? 'mixed';
  if (errorStatus !== 503 && errorStatus !== 429 && errorStatus !== 'mixed')
    throw new RangeError(`errorStatus must be 503, 429 or 'mixed', got ${String(errorStatus)}`);
  const dist = o.latencyDistribution ?? 'uniform';
  if (dist !== 'uniform' && dist !== 'log')
    throw new RangeError(`latencyDistribution must be 'uniform' or 'log', got ${String(dist)}`);
  return {
    seed,
    latencyMs: toRange('latencyMs', o.latencyMs ?? 0),
    latencyDistribution: dist,
    rates,
    errorStatus,
    slowReadMs: toRange('slowReadMs', o.slowReadMs ?? { min: 100, max: 1000 }),
    trickleBytesPerSecond: tbps,
    sleep: o.sleep ?? realSleep,
    logEntriesMax,
  };
}

function toRange(name: string, v: number | MsRange): MsRange {
  const r = typeof v === 'number' ? { min: v, max: v } : v;
  if (!(Number.isFinite(r.min) && Number.isFinite(r.max) && r.min >= 0 && r.max >= r.min))
    throw new RangeError(`${name}: need 0 <= min <= max, got ${r.min}..${r.max}`);
  return { min: r.min, max: r.max };
}

/** Marks the causes of injected faults, so tests can tell them from real failures. */
const injectedMark = Symbol.for('tributary.injectedFault');

/** The error a FaultyObjectStore rejects with for a fault of `kind`. */
export function injectedFaultError(kind: FaultKind, op: FaultOp, key: string, status?: 503 | 429): Error {
  let cause: Error;
  let message: string;
  if (kind === 'slow-down' || kind === 'throttle') {
    const s = status ?? (kind === 'throttle' ? 429 : 503);
    const code = s === 503 ? 'SlowDown' : 'TooManyRequests';
    message = `injected fault: ${s} ${code} (${op} ${key})`;
    cause = Object.assign(new Error(`${s} ${code}`), { code, statusCode: s });
  } else {
    const after = kind === 'after-write' ? ' after the request took effect' : '';
    message = `injected fault: connection reset${after} (${op} ${key})`;
    cause = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104, syscall: 'read' });
  }
  Object.defineProperty(cause, injectedMark, { value: kind, enumerable: false });
  return new ObjectStoreError('retriable', message, cause);
}

/** The kind of fault `err` was injected as, or undefined if it is not an injected fault. */
export function injectedFaultKind(err: unknown): FaultKind | undefined {
  if (!(err instanceof ObjectStoreError)) return undefined;
  const cause = err.cause as Record<symbol, unknown> | undefined;
  const kind = cause?.[injectedMark];
  return typeof kind === 'string' ? (kind as FaultKind) : undefined;
}
