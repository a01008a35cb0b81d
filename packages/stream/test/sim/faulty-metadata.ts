/**
 * A seeded fault-injecting MetadataStore wrapper for the simulation: a call fails with
 * MetadataError('unavailable') before it has any effect, or — for writes — after it took
 * effect (the answer was lost, as when a connection drops after etcd applied a transaction).
 * Callers must retry 'unavailable' and cope with a retried write that had already applied.
 */
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
import type { Rng } from './rng.ts';

/** Fault probabilities per call. */
export interface MetadataFaultRates {
  /** Fails before any effect. */
  before: number;
  /** Writes only: applies, then fails. */
  after: number;
}

export class FaultyMetadata implements MetadataStore {
  readonly description: string;
  /** Faults injected so far. */
  faults = 0;
  /** Writes that applied but were reported failed. */
  lostAnswers = 0;

  constructor(
    private readonly inner: MetadataStore,
    private readonly rng: Rng,
    private readonly rates: MetadataFaultRates,
  ) {
    this.description = `faulty(${inner.description})`;
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.read('get', () => this.inner.get(key));
  }
  range(prefix: string, options?: RangeOptions): Promise<RangePage> {
    return this.read('range', () => this.inner.range(prefix, options));
  }
  txn(txn: Txn): Promise<TxnResult> {
    return this.write('txn', () => this.inner.txn(txn));
  }
  put(key: string, value: Buffer, options?: { lease?: LeaseId }): Promise<{ revision: number }> {
    return this.write('put', () => this.inner.put(key, value, options));
  }
  delete(key: string): Promise<{ revision: number; deleted: number }> {
    return this.write('delete', () => this.inner.delete(key));
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
    return this.read('revision', () => this.inner.revision());
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  private read<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (this.rng.chance(this.rates.before)) return this.fail(op, false);
    return fn();
  }

  private async write<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const x = this.rng.next();
    if (x < this.rates.before) return this.fail(op, false);
    const res = await fn();
    if (x < this.rates.before + this.rates.after) {
      this.lostAnswers++;
      return this.fail(op, true);
    }
    return res;
  }

  private fail<T>(op: string, applied: boolean): Promise<T> {
    this.faults++;
    return Promise.reject(
      new MetadataError(
        'unavailable',
        `injected metadata fault: ${op} ${applied ? 'applied, answer lost' : 'not applied'}`,
      ),
    );
  }
}
