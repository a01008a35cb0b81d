import { Rng } from '@tributary/wal/testing';
import {
  type GetOptions,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  type ObjectStore,
  ObjectStoreError,
  type PutOptions,
} from '../object-store/types.ts';
import {
  type FaultKind,
  type FaultOp,
  type FaultRates,
  type FaultRecord,
  type FaultRule,
  type FaultyObjectStoreOptions,
  faultOps,
  injectedFaultError,
  type MsRange,
  type NormalizedOptions,
  normalizeOptions,
} from './fault-options.ts';

/** Calls and injected faults of one operation kind. */
export interface OpCounters {
  calls: number;
  faults: number;
}

interface Decision {
  kind: FaultKind;
  rule?: number;
  /** For error faults: which status to simulate. */
  status?: 503 | 429;
}

/** An armed rule with its remaining budget. */
interface ArmedRule {
  readonly rule: FaultRule;
  readonly ops?: ReadonlySet<FaultOp>;
  remaining: number;
}

/**
 * An {@link ObjectStore} wrapper that injects deterministic, seeded faults into the calls it
 * forwards to `inner`: added latency, 503 SlowDown / 429 throttling and connection resets
 * (all `ObjectStoreError('retriable')`, raised before the call reaches `inner`), failures
 * after the effect (the call reaches `inner`, then rejects as retriable: an object exists
 * although its put "failed"), slow reads, explicit rules, and a {@link stall} switch.
 *
 * Determinism: every call draws its latency and its fault from seeded generators
 * synchronously, in the order calls are made, with a fixed number of draws per call; the
 * same seed and the same sequence of calls give the same faults. Rule probabilities use a
 * generator of their own, so adding a rule does not shift the probabilistic faults.
 *
 * Every fault is counted in {@link counters} and recorded in {@link log} (bounded; oldest
 * entries are dropped first and counted in {@link logDropped}). `close()` closes `inner` and
 * rejects calls hanging in a stall.
 */
export class FaultyObjectStore implements ObjectStore {
  readonly capabilities: { readonly conditionalPut: boolean };
  readonly description: string;
  /** Calls and faults per operation. */
  readonly counters: Record<FaultOp, OpCounters>;
  /** Faults by kind, over every operation. */
  readonly faultsByKind: Record<FaultKind, number>;
  /** Injected faults, oldest first (at most `logEntriesMax`). */
  readonly log: FaultRecord[] = [];
  /** Log entries dropped because the log was full. */
  logDropped = 0;

  private readonly opts: NormalizedOptions;
  private readonly latencyRng: Rng;
  private readonly faultRng: Rng;
  private readonly ruleRng: Rng;
  private readonly rules: ArmedRule[] = [];
  private seq = 0;
  private stallGate: { promise: Promise<void>; release: (err?: Error) => void } | undefined;
  private stalledNow = 0;
  private closed = false;

  constructor(
    readonly inner: ObjectStore,
    options: FaultyObjectStoreOptions = {},
  ) {
    this.opts = normalizeOptions(options);
    const seed = this.opts.seed;
    this.faultRng = new Rng(seed);
    this.latencyRng = new Rng((seed ^ 0x5bd1e995) >>> 0);
    this.ruleRng = new Rng((seed ^ 0x27d4eb2f) >>> 0);
    this.capabilities = inner.capabilities;
    this.description = `faulty(${inner.description}, seed=${seed})`;
    this.counters = Object.fromEntries(faultOps.map((op) => [op, { calls: 0, faults: 0 }])) as Record<
      FaultOp,
      OpCounters
    >;
    this.faultsByKind = { 'slow-down': 0, throttle: 0, reset: 0, 'after-write': 0, 'slow-read': 0 };
    for (const rule of options.rules ?? []) this.addRule(rule);
  }

  /**
   * Adds a rule, checked before the probabilistic faults (rules in the order added; the first
   * that fires wins). Returns a function that removes it.
   */
  addRule(rule: FaultRule): () => void {
    if (rule.failNext !== undefined && !(Number.isInteger(rule.failNext) && rule.failNext >= 0))
      throw new RangeError(`rule.failNext must be an integer >= 0, got ${rule.failNext}`);
    if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1))
      throw new RangeError(`rule.probability must be in [0, 1], got ${rule.probability}`);
    const ops =
      rule.op === undefined ? undefined : new Set(typeof rule.op === 'string' ? [rule.op] : rule.op);
    for (const op of ops ?? []) if (!faultOps.includes(op)) throw new RangeError(`rule.op: unknown op ${op}`);
    const armed: ArmedRule = { rule, ops, remaining: rule.failNext ?? Number.POSITIVE_INFINITY };
    this.rules.push(armed);
    return () => {
      const i = this.rules.indexOf(armed);
      if (i >= 0) this.rules.splice(i, 1);
    };
  }

  /** Removes every rule. */
  clearRules(): void {
    this.rules.length = 0;
  }

  /**
   * Makes every call hang until {@link resume}: new calls before they reach `inner`, calls in
   * flight before they return (their effect may already have happened). A call's abort
   * signal still rejects it ('aborted').
   */
  stall(): void {
    if (this.stallGate !== undefined) return;
    let release!: (err?: Error) => void;
    const promise = new Promise<void>((resolve, reject) => {
      release = (err) => (err === undefined ? resolve() : reject(err));
    });
    promise.catch(() => {});
    this.stallGate = { promise, release };
  }

  /** Releases every call held by {@link stall}. */
  resume(): void {
    const gate = this.stallGate;
    this.stallGate = undefined;
    gate?.release();
  }

  /** True between {@link stall} and {@link resume}. */
  get stalled(): boolean {
    return this.stallGate !== undefined;
  }

  /** Calls currently held by a stall. */
  get stalledCalls(): number {
    return this.stalledNow;
  }

  /** Total calls made, over every operation. */
  get calls(): number {
    return this.seq;
  }

  /** Total faults injected, over every operation. */
  get faults(): number {
    let n = 0;
    for (const op of faultOps) n += this.counters[op].faults;
    return n;
  }

  put(key: string, body: Buffer | readonly Buffer[], options?: PutOptions): Promise<ObjectInfo> {
    return this.run('put', key, [key], options?.signal, () => this.inner.put(key, body, options));
  }

  get(key: string, options?: GetOptions): Promise<Buffer> {
    return this.run(
      'get',
      key,
      [key],
      options?.signal,
      () => this.inner.get(key, options),
      (b) => b.length,
    );
  }

  head(key: string): Promise<ObjectInfo> {
    return this.run('head', key, [key], undefined, () => this.inner.head(key));
  }

  list(options?: ListOptions): Promise<ListPage> {
    const prefix = options?.prefix ?? '';
    return this.run('list', prefix, [prefix], undefined, () => this.inner.list(options));
  }

  delete(key: string): Promise<void> {
    return this.run('delete', key, [key], undefined, () => this.inner.delete(key));
  }

  deleteMany(keys: readonly string[]): Promise<{ failed: { key: string; error: ObjectStoreError }[] }> {
    const label = keys.length === 1 ? keys[0] : `${keys[0] ?? ''} (+${Math.max(0, keys.length - 1)} keys)`;
    return this.run('deleteMany', label, keys, undefined, () => this.inner.deleteMany(keys));
  }

  async close(): Promise<void> {
    this.closed = true;
    const gate = this.stallGate;
    this.stallGate = undefined;
    gate?.release(new ObjectStoreError('fatal', `${this.description}: closed while stalled`));
    await this.inner.close();
  }

  private async run<T>(
    op: FaultOp,
    key: string,
    keys: readonly string[],
    signal: AbortSignal | undefined,
    effect: () => Promise<T>,
    sizeOf?: (result: T) => number,
  ): Promise<T> {
    const seq = ++this.seq;
    this.counters[op].calls++;
    // All draws happen here, synchronously, so the sequence depends only on the call order.
    const latencyMs = this.drawMs(this.latencyRng, this.opts.latencyMs);
    const slowMs = this.drawMs(this.latencyRng, this.opts.slowReadMs);
    const decision = this.decide(op, keys);
    if (this.closed) throw new ObjectStoreError('fatal', `${this.description}: closed`);

    await this.passGate(signal);
    if (latencyMs > 0) await this.sleep(latencyMs, signal);
    if (decision !== undefined && decision.kind !== 'after-write' && decision.kind !== 'slow-read') {
      this.record(seq, op, key, decision);
      throw injectedFaultError(decision.kind, op, key, decision.status);
    }
    const result = await effect();
    if (decision?.kind === 'after-write') {
      this.record(seq, op, key, decision);
      throw injectedFaultError('after-write', op, key);
    }
    if (decision?.kind === 'slow-read') {
      const size = sizeOf === undefined ? 0 : sizeOf(result);
      const bps = this.opts.trickleBytesPerSecond;
      const ms = slowMs + (bps === undefined ? 0 : Math.ceil((size * 1000) / bps));
      this.record(seq, op, key, decision, ms);
      await this.sleep(ms, signal);
    }
    await this.passGate(signal);
    return result;
  }

  private decide(op: FaultOp, keys: readonly string[]): Decision | undefined {
    // Fixed draws per call: one for the fault, one for the error status.
    const r = this.faultRng.float();
    const statusDraw = this.faultRng.float();
    const status = this.pickStatus(statusDraw);
    for (let i = 0; i < this.rules.length; i++) {
      const armed = this.rules[i];
      const { rule } = armed;
      if (armed.ops !== undefined && !armed.ops.has(op)) continue;
      const prefix = rule.keyPrefix;
      if (prefix !== undefined && !keys.some((k) => k.startsWith(prefix))) continue;
      if (armed.remaining <= 0) continue;
      if (rule.probability !== undefined && !this.ruleRng.chance(rule.probability)) continue;
      armed.remaining--;
      const kind = rule.fault ?? 'slow-down';
      return { kind, rule: i, status: kind === 'throttle' ? 429 : 503 };
    }
    const rates = this.opts.rates[op];
    let acc = 0;
    const order: [keyof FaultRates, FaultKind | 'error'][] = [
      ['reset', 'reset'],
      ['error', 'error'],
      ['afterWrite', 'after-write'],
      ['slowRead', 'slow-read'],
    ];
    for (const [field, kind] of order) {
      acc += rates[field] ?? 0;
      if (r < acc) {
        if (kind !== 'error') return { kind };
        return { kind: status === 429 ? 'throttle' : 'slow-down', status };
      }
    }
    return undefined;
  }

  private pickStatus(draw: number): 503 | 429 {
    const s = this.opts.errorStatus;
    if (s === 'mixed') return draw < 0.5 ? 503 : 429;
    return s;
  }

  private drawMs(rng: Rng, range: MsRange): number {
    const u = rng.float();
    if (range.max <= range.min) return range.min;
    if (this.opts.latencyDistribution === 'log') {
      const lo = Math.log(range.min + 1);
      const hi = Math.log(range.max + 1);
      return Math.min(range.max, Math.max(range.min, Math.round(Math.exp(lo + u * (hi - lo)) - 1)));
    }
    return range.min + Math.floor(u * (range.max - range.min + 1));
  }

  private record(seq: number, op: FaultOp, key: string, d: Decision, delayMs?: number): void {
    this.counters[op].faults++;
    this.faultsByKind[d.kind]++;
    if (this.log.length >= this.opts.logEntriesMax) {
      this.log.shift();
      this.logDropped++;
    }
    const entry: FaultRecord = { seq, op, key, kind: d.kind };
    if (d.rule !== undefined) entry.rule = d.rule;
    if (d.status !== undefined && (d.kind === 'slow-down' || d.kind === 'throttle')) entry.status = d.status;
    if (delayMs !== undefined) entry.delayMs = delayMs;
    this.log.push(entry);
  }

  private async passGate(signal: AbortSignal | undefined): Promise<void> {
    while (this.stallGate !== undefined) {
      this.stalledNow++;
      try {
        await withAbort(this.stallGate.promise, signal);
      } finally {
        this.stalledNow--;
      }
    }
  }

  private async sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    await withAbort(this.opts.sleep(ms, signal), signal);
  }
}

/** Awaits `p`, rejecting with ObjectStoreError('aborted') as soon as `signal` aborts. */
async function withAbort(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return p;
  const aborted = (): ObjectStoreError => new ObjectStoreError('aborted', 'aborted by caller', signal.reason);
  if (signal.aborted) throw aborted();
  let onAbort: (() => void) | undefined;
  const abortP = new Promise<never>((_, reject) => {
    onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([p, abortP]);
  } catch (err) {
    if (signal.aborted) throw aborted();
    throw err;
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}
