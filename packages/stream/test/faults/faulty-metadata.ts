/**
 * A MetadataStore wrapper injecting seeded `MetadataError('unavailable')` faults, like an etcd
 * client losing its connection: before a call reaches the store (no effect), or after a
 * transaction applied (the effect happened, the answer was lost). Plus explicit rules that
 * target chosen transactions.
 */
import { Rng } from '@tributary/wal/testing';
import {
  type KeyValue,
  type LeaseId,
  MetadataError,
  type MetadataStore,
  type RangeOptions,
  type RangePage,
  type Txn,
  type TxnResult,
  type Watch,
  type WatchOptions,
} from '../../src/metadata/types.ts';

/** Probabilities per call, each in [0, 1]. */
export interface MetadataFaultRates {
  /** A transaction fails before it reaches the store. */
  txnBefore?: number;
  /** A transaction applies, then fails (the answer is lost). */
  txnAfter?: number;
  /** A get fails. */
  get?: number;
  /** A range read fails. */
  range?: number;
  /** Extra latency of every call, uniform in [0, maxLatencyMs] (widens race windows). */
  maxLatencyMs?: number;
}

/** Fails the next `failNext` transactions `match` selects, before or after they apply. */
export interface MetadataFaultRule {
  match(txn: Txn): boolean;
  when: 'before' | 'after';
  failNext: number;
}

/** Faults injected so far. */
export interface MetadataFaultCounters {
  txnBefore: number;
  txnAfter: number;
  get: number;
  range: number;
}

/** The MetadataStore wrapper (see the file comment). `close` does not close the inner store. */
export class FaultyMetadata implements MetadataStore {
  readonly description: string;
  readonly counters: MetadataFaultCounters = { txnBefore: 0, txnAfter: 0, get: 0, range: 0 };
  readonly rules: MetadataFaultRule[] = [];
  private readonly rng: Rng;
  private readonly latencyRng: Rng;

  constructor(
    readonly inner: MetadataStore,
    private readonly rates: MetadataFaultRates = {},
    seed = 1,
  ) {
    this.rng = new Rng(seed);
    this.latencyRng = new Rng((seed ^ 0x9e3779b9) >>> 0);
    this.description = `faulty(${inner.description})`;
  }

  private fault(what: string): MetadataError {
    return new MetadataError('unavailable', `injected fault: metadata unavailable (${what})`);
  }

  private async delay(): Promise<void> {
    const max = this.rates.maxLatencyMs ?? 0;
    if (max <= 0) return;
    const ms = Math.floor(this.latencyRng.float() * (max + 1));
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  }

  async get(key: string): Promise<KeyValue | undefined> {
    await this.delay();
    if (this.rng.chance(this.rates.get ?? 0)) {
      this.counters.get++;
      throw this.fault(`get ${key}`);
    }
    return this.inner.get(key);
  }

  async range(prefix: string, options?: RangeOptions): Promise<RangePage> {
    await this.delay();
    if (this.rng.chance(this.rates.range ?? 0)) {
      this.counters.range++;
      throw this.fault(`range ${prefix}`);
    }
    return this.inner.range(prefix, options);
  }

  async txn(txn: Txn): Promise<TxnResult> {
    await this.delay();
    let when: 'before' | 'after' | undefined;
    const rule = this.rules.find((r) => r.failNext > 0 && r.match(txn));
    if (rule !== undefined) {
      rule.failNext--;
      when = rule.when;
    } else {
      const r = this.rng.float();
      const before = this.rates.txnBefore ?? 0;
      if (r < before) when = 'before';
      else if (r < before + (this.rates.txnAfter ?? 0)) when = 'after';
    }
    if (when === 'before') {
      this.counters.txnBefore++;
      throw this.fault('txn, before');
    }
    const res = await this.inner.txn(txn);
    if (when === 'after') {
      this.counters.txnAfter++;
      throw this.fault('txn, after it applied');
    }
    return res;
  }

  put(key: string, value: Buffer, options?: { lease?: LeaseId }): Promise<{ revision: number }> {
    return this.inner.put(key, value, options);
  }

  delete(key: string): Promise<{ revision: number; deleted: number }> {
    return this.inner.delete(key);
  }

  grantLease(ttlMs: number): Promise<{ id: LeaseId; ttlMs: number }> {
    return this.inner.grantLease(ttlMs);
  }

  keepAlive(id: LeaseId): Promise<{ ttlMs: number }> {
    return this.inner.keepAlive(id);
  }

  revokeLease(id: LeaseId): Promise<void> {
    return this.inner.revokeLease(id);
  }

  watch(prefix: string, options?: WatchOptions): Watch {
    return this.inner.watch(prefix, options);
  }

  revision(): Promise<number> {
    return this.inner.revision();
  }

  async close(): Promise<void> {}
}

/** True when `txn` only rewrites stream records (an open, a trim). */
export function isStreamRecordWrite(txn: Txn): boolean {
  const ops = txn.success ?? [];
  return ops.length > 0 && ops.every((op) => op.type === 'put' && op.key.startsWith('streams/'));
}
