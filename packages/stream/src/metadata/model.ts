/**
 * The state machine shared by the memory and embedded backends: keys in order, leases, the
 * store revision and a bounded event history. Transactions are planned (no mutation) into a
 * physical {@link CommitRecord}; committing a record is deterministic, so the embedded
 * backend replays its log through the same `commit`.
 */
import type { KeyValue, LeaseId, Txn, TxnOpResult, TxnResult, WatchEvent } from './types.ts';
import { MetadataError } from './types.ts';
import { evalCompare } from './validate.ts';

/** A resolved write: what one transaction or lease change did, as logged by the embedded store. */
export interface CommitRecord {
  /** Log sequence number: one more than the previous record's. */
  seq: number;
  /** Store revision after this record (the previous one + 1 iff it has puts or deletes). */
  revision: number;
  puts: { key: string; value: Buffer; lease?: LeaseId }[];
  /** Keys that exist and are deleted. */
  deletes: string[];
  leaseGrants: { id: LeaseId; ttlMs: number }[];
  leaseRevokes: LeaseId[];
}

/** A record without its sequence number (assigned when it is committed). */
export type PlannedRecord = Omit<CommitRecord, 'seq'>;

interface StoredKv {
  value: Buffer;
  revision: number;
  createRevision: number;
  version: number;
  lease?: LeaseId;
}

/** A lease as the model keeps it. */
export interface LeaseState {
  ttlMs: number;
  deadlineMs: number;
  keys: Set<string>;
}

/** The persistent part of the model (what a snapshot holds). */
export interface ModelState {
  seq: number;
  revision: number;
  nextLeaseId: number;
  leases: { id: LeaseId; ttlMs: number }[];
  kvs: (KeyValue & { lease?: LeaseId })[];
}

function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class MetadataModel {
  seq = 0;
  revision = 0;
  nextLeaseId = 1;
  readonly leases = new Map<LeaseId, LeaseState>();
  private readonly kvs = new Map<string, StoredKv>();
  private readonly sorted: string[] = [];
  /** Events of revisions ≥ historyStart (complete revisions only), oldest first. */
  private history: WatchEvent[] = [];
  private historyHead = 0;
  /** Oldest revision whose events are all retained. */
  historyStart = 1;

  private historyBytes = 0;

  /**
   * @param historyEventsMax events kept for watches from older revisions
   * @param historyBytesMax bytes of values kept for them
   */
  constructor(
    private readonly historyEventsMax: number,
    private readonly historyBytesMax: number,
  ) {}

  /** Replace the state with a snapshot's; lease deadlines restart at `nowMs` + TTL. */
  restore(state: ModelState, nowMs: number): void {
    this.seq = state.seq;
    this.revision = state.revision;
    this.nextLeaseId = state.nextLeaseId;
    this.kvs.clear();
    this.sorted.length = 0;
    this.leases.clear();
    for (const l of state.leases)
      this.leases.set(l.id, { ttlMs: l.ttlMs, deadlineMs: nowMs + l.ttlMs, keys: new Set() });
    const kvs = [...state.kvs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const kv of kvs) {
      const { key, ...rest } = kv;
      this.kvs.set(key, rest);
      this.sorted.push(key);
      if (kv.lease !== undefined) this.leases.get(kv.lease)?.keys.add(key);
    }
    this.history = [];
    this.historyHead = 0;
    this.historyBytes = 0;
    this.historyStart = this.revision + 1;
  }

  /** The persistent state (values are shared, not copied). */
  state(): ModelState {
    return {
      seq: this.seq,
      revision: this.revision,
      nextLeaseId: this.nextLeaseId,
      leases: [...this.leases].map(([id, l]) => ({ id, ttlMs: l.ttlMs })),
      kvs: this.sorted.map((key) => ({ key, ...this.kvs.get(key)! })),
    };
  }

  get(key: string): KeyValue | undefined {
    const kv = this.kvs.get(key);
    return kv === undefined ? undefined : toKeyValue(key, kv);
  }

  range(prefix: string, limit: number, after: string | undefined): { kvs: KeyValue[]; more: boolean } {
    let i = lowerBound(this.sorted, prefix);
    if (after !== undefined && after >= prefix) {
      i = lowerBound(this.sorted, after);
      if (this.sorted[i] === after) i++;
    }
    const kvs: KeyValue[] = [];
    for (; i < this.sorted.length; i++) {
      const key = this.sorted[i]!;
      if (!key.startsWith(prefix)) break;
      if (kvs.length === limit) return { kvs, more: true };
      kvs.push(toKeyValue(key, this.kvs.get(key)!));
    }
    return { kvs, more: false };
  }

  private keysWithPrefix(prefix: string): string[] {
    const out: string[] = [];
    for (let i = lowerBound(this.sorted, prefix); i < this.sorted.length; i++) {
      const key = this.sorted[i]!;
      if (!key.startsWith(prefix)) break;
      out.push(key);
    }
    return out;
  }

  /**
   * Evaluate a validated transaction without changing anything: its result and, when it
   * writes, the record to commit. Throws MetadataError('not-found') for a put with an unknown lease.
   */
  plan(txn: Txn): { result: TxnResult; record?: PlannedRecord } {
    const succeeded = (txn.compare ?? []).every((c) => evalCompare(c, this.get(c.key)));
    const ops = (succeeded ? txn.success : txn.failure) ?? [];
    const results: TxnOpResult[] = [];
    const puts: CommitRecord['puts'] = [];
    const deletes: string[] = [];
    for (const op of ops) {
      switch (op.type) {
        case 'put':
          if (op.lease !== undefined && !this.leases.has(op.lease)) {
            throw new MetadataError('not-found', `put ${op.key}: lease ${op.lease} does not exist`);
          }
          puts.push({
            key: op.key,
            value: Buffer.from(op.value),
            ...(op.lease !== undefined && { lease: op.lease }),
          });
          results.push({ type: 'put' });
          break;
        case 'delete': {
          const exists = this.kvs.has(op.key);
          if (exists) deletes.push(op.key);
          results.push({ type: 'delete', deleted: exists ? 1 : 0 });
          break;
        }
        case 'deleteRange': {
          const keys = this.keysWithPrefix(op.prefix);
          deletes.push(...keys);
          results.push({ type: 'deleteRange', deleted: keys.length });
          break;
        }
        case 'get':
          results.push({ type: 'get', kv: this.get(op.key) });
          break;
      }
    }
    const writes = puts.length + deletes.length > 0;
    const revision = writes ? this.revision + 1 : this.revision;
    const result: TxnResult = { succeeded, revision, results };
    if (!writes) return { result };
    return { result, record: { revision, puts, deletes, leaseGrants: [], leaseRevokes: [] } };
  }

  /** The record that ends lease `id` (revoke or expiry), deleting its keys. */
  planLeaseEnd(id: LeaseId): PlannedRecord {
    const lease = this.leases.get(id);
    if (lease === undefined) throw new MetadataError('not-found', `lease ${id} does not exist`);
    const deletes = [...lease.keys].sort();
    const revision = deletes.length > 0 ? this.revision + 1 : this.revision;
    return { revision, puts: [], deletes, leaseGrants: [], leaseRevokes: [id] };
  }

  /** The record that grants a new lease. */
  planLeaseGrant(ttlMs: number): PlannedRecord {
    const id = String(this.nextLeaseId);
    return { revision: this.revision, puts: [], deletes: [], leaseGrants: [{ id, ttlMs }], leaseRevokes: [] };
  }

  /**
   * Apply a record (planned by this model, or read back from the log): grants, puts, deletes,
   * then revokes. Returns its events. Throws if the record does not follow the current state.
   */
  commit(record: CommitRecord, nowMs: number): WatchEvent[] {
    const writes = record.puts.length + record.deletes.length > 0;
    if (record.seq !== this.seq + 1 || record.revision !== this.revision + (writes ? 1 : 0)) {
      throw new Error(
        `record seq ${record.seq} rev ${record.revision} does not follow ${this.seq}/${this.revision}`,
      );
    }
    const rev = record.revision;
    const events: WatchEvent[] = [];
    for (const g of record.leaseGrants) {
      this.leases.set(g.id, { ttlMs: g.ttlMs, deadlineMs: nowMs + g.ttlMs, keys: new Set() });
      this.nextLeaseId = Math.max(this.nextLeaseId, Number(g.id) + 1);
    }
    for (const p of record.puts) {
      const old = this.kvs.get(p.key);
      if (old === undefined) this.sorted.splice(lowerBound(this.sorted, p.key), 0, p.key);
      else if (old.lease !== undefined) this.leases.get(old.lease)?.keys.delete(p.key);
      const kv: StoredKv = {
        value: p.value,
        revision: rev,
        createRevision: old?.createRevision ?? rev,
        version: (old?.version ?? 0) + 1,
        ...(p.lease !== undefined && { lease: p.lease }),
      };
      this.kvs.set(p.key, kv);
      if (p.lease !== undefined) this.leases.get(p.lease)?.keys.add(p.key);
      events.push({
        type: 'put',
        key: p.key,
        value: p.value,
        revision: rev,
        createRevision: kv.createRevision,
        version: kv.version,
      });
    }
    for (const key of record.deletes) {
      const old = this.kvs.get(key);
      if (old === undefined) continue;
      this.kvs.delete(key);
      this.sorted.splice(lowerBound(this.sorted, key), 1);
      if (old.lease !== undefined) this.leases.get(old.lease)?.keys.delete(key);
      events.push({
        type: 'delete',
        key,
        value: Buffer.alloc(0),
        revision: rev,
        createRevision: 0,
        version: 0,
      });
    }
    for (const id of record.leaseRevokes) this.leases.delete(id);
    this.seq = record.seq;
    this.revision = rev;
    this.remember(events);
    return events;
  }

  private remember(events: WatchEvent[]): void {
    for (const e of events) {
      this.history.push(e);
      this.historyBytes += e.value.length;
    }
    while (
      this.history.length - this.historyHead > this.historyEventsMax ||
      (this.historyBytes > this.historyBytesMax && this.historyHead < this.history.length)
    ) {
      // Drop whole revisions from the front so that retained revisions are complete.
      const rev = this.history[this.historyHead]!.revision;
      while (this.historyHead < this.history.length && this.history[this.historyHead]!.revision === rev) {
        this.historyBytes -= this.history[this.historyHead]!.value.length;
        this.historyHead++;
      }
      this.historyStart = rev + 1;
    }
    if (this.historyHead > 1024 && this.historyHead * 2 > this.history.length) {
      this.history = this.history.slice(this.historyHead);
      this.historyHead = 0;
    }
  }

  /** Retained events with revision ≥ `from` (which must be ≥ historyStart). */
  eventsSince(from: number): WatchEvent[] {
    const out: WatchEvent[] = [];
    for (let i = this.historyHead; i < this.history.length; i++) {
      const e = this.history[i]!;
      if (e.revision >= from) out.push(e);
    }
    return out;
  }
}

function toKeyValue(key: string, kv: StoredKv): KeyValue {
  return {
    key,
    value: Buffer.from(kv.value),
    revision: kv.revision,
    createRevision: kv.createRevision,
    version: kv.version,
    ...(kv.lease !== undefined && { lease: kv.lease }),
  };
}
