/**
 * The seeded simulation of the stream layer. One run drives one or two StreamStores
 * ("brokers", each with its own MemoryWal store) over a shared MemoryMetadataStore and
 * MemoryObjectStore, optionally behind seeded fault injectors (FaultyObjectStore: retriable
 * errors, resets, lost answers; FaultyMetadata: 'unavailable' before a call or after a write
 * applied), on a virtual clock. Operations, chosen at random from the seed:
 * - appends (awaited, bursts left in flight, one tiny batch on each of 100+ streams in "wide"
 *   runs), fetches from random offsets (awaited or left running), sequential readers kept
 *   across compactions, full verifications, flushes;
 * - handle close + reopen, reopen at a higher epoch (old handle fenced), clean store restarts,
 *   graceful stream moves between brokers, unclean failovers (owner crashes, the other broker
 *   takes over), deleteStream;
 * - crashes: now, or armed to hit the k-th backend call from now (before it takes effect, or
 *   right after with the answer lost), also during recovery; the crashed store is cut off by
 *   the "cuttable" wrappers (cuttable.ts) and halted;
 * - trim, applyRetention, compaction and garbage collection (awaited or in the background),
 *   clock advances past the garbage and prepared windows.
 * Checks: after every reopen and at the end, every acknowledged batch is readable at its
 * offset exactly once, byte for byte, offsets dense from the start, below the start a
 * RangeError; unacknowledged batches of a crashed store are there (at the offset they were
 * given) or not, never twice, never after a gap; metadata invariants (invariants.ts) at random
 * points; no orphaned objects or records after the final GC. A failure throws {@link SimFailure}
 * naming the seed, whether it replays exactly, the trace tail and a dump of the backends.
 */
import { createMemoryWalStore, MemoryWal, type MemoryWalStore } from '@tributary/wal';
import { MemoryMetadataStore } from '../../src/metadata/memory.ts';
import { MetadataError } from '../../src/metadata/types.ts';
import { type MemoryObject, MemoryObjectStore } from '../../src/object-store/memory.ts';
import { ObjectStoreError } from '../../src/object-store/types.ts';
import { FencedError, StreamStoreError } from '../../src/stream/errors.ts';
import { StreamStore, type StreamStoreOptions } from '../../src/stream/store.ts';
import { type FetchedBatch, Stream } from '../../src/stream/stream.ts';
import { FaultyObjectStore } from '../../src/testing/faulty-object-store.ts';
import { VirtualClock } from '../../src/testing/virtual-clock.ts';
import {
  CrashedError,
  type CutMode,
  CuttableMetadata,
  CuttableObjectStore,
  CuttableWal,
  Fuse,
} from './cuttable.ts';
import { FaultyMetadata } from './faulty-metadata.ts';
import { checkSnapshot, orphans, snapshot } from './invariants.ts';
import { describePayload, HEADER_BYTES, makePayload, type SimBatch, StreamModel } from './model.ts';
import { Rng } from './rng.ts';

/** Options of one run. */
export interface SimOptions {
  seed: number;
  /** Operations to run (the final checks come on top). */
  ops: number;
  /** Real-time bound of one awaited store call before the run is declared hung. Default 20 s. */
  opTimeoutMs?: number;
  /** Trace lines kept for the failure message. Default 60. */
  traceTail?: number;
  /** Allow runs with over 100 streams (default true). */
  wide?: boolean;
  /** Check Stream.committedRanges() on every verification (default true). */
  checkCommittedRanges?: boolean;
  /** Metadata faults include writes that applied with the answer lost (default true). */
  metadataLostAnswers?: boolean;
  /** Allow injected metadata faults in some runs (default true). */
  metadataFaults?: boolean;
  /** Log every I/O call of the stores in the trace (for debugging one seed). */
  traceIo?: boolean;
  /** Allow real-time upload/compaction timers in some runs (default true). */
  background?: boolean;
  /**
   * Self-test of the checks: from the middle of the run on, damage the backends once behind
   * the store's back (`delete-object`: delete the object holding the newest committed data;
   * `drop-wal-record`: drop the newest acknowledged WAL record, then crash). The run must fail.
   */
  sabotage?: 'delete-object' | 'drop-wal-record';
}

/** What one run did. */
export interface SimReport {
  seed: number;
  config: SimConfig;
  /** Operations run, by kind. */
  ops: Record<string, number>;
  batchesAppended: number;
  bytesAppended: number;
  /** Store incarnations started (the first included). */
  incarnations: number;
  crashes: number;
  /** Unacknowledged batches of crashed stores found again / not found after recovery. */
  maybeRecovered: number;
  maybeLost: number;
  /** Faults the FaultyObjectStores and FaultyMetadata injected. */
  faults: number;
  /** Metadata writes that applied but were reported failed. */
  lostAnswers: number;
  /**
   * Calls the simulation (as a client) retried because the store let a transient
   * MetadataError('unavailable') through, by call (`fetch`, `open`, `StreamStore.start`).
   */
  clientRetries: number;
  /** Closed stores' I/O after close() resolved, as `#op: calls`. */
  closeStrays: string[];
  clientRetriesBy: Record<string, number>;
  /** Calls of a cleanly closed store that came after its close (should be 0). */
  callsAfterClose: number;
  /** Optional store features this run used (detected at run time). */
  features: string[];
  elapsedMs: number;
}

/** A run found a problem; the message names the seed, the config and the trace tail. */
export class SimFailure extends Error {
  override readonly name = 'SimFailure';
  constructor(
    message: string,
    readonly seed: number,
  ) {
    super(message);
  }
}

/** The random configuration of one run. */
export interface SimConfig {
  /** Broker processes (stores) sharing the metadata and object store; each has its own WAL. */
  nodes: number;
  /** Over 100 streams (chunked commits); `wideBurst` appends to all of a node's streams. */
  wide: boolean;
  streamIds: number[];
  cacheBytesMax: number;
  uploadBytesThreshold: number;
  blockBytesTarget: number | undefined;
  blockCacheBytes: number | undefined;
  /** Per-call probability of a retriable object-store fault. */
  faultRate: number;
  /**
   * Per-call probability of a MetadataError('unavailable'): half before the call has an
   * effect, half (writes) after it applied.
   */
  metaFaultRate: number;
  /** Largest batch body (bytes after the header). */
  bodyBytesMax: number;
  garbageRetentionMs: number;
  preparedTimeoutMs: number;
  walCapacityBytes: number | undefined;
  readAheadBytesMax: number | undefined;
  writeThrough: boolean | undefined;
  readConcurrency: number | undefined;
  /** Compaction tuning (small sizes, so rounds merge and split often). */
  compaction: {
    smallObjectBytes?: number;
    streamObjectBytes?: number;
    inputObjectsMax?: number;
    liveFractionMin?: number;
  };
  /**
   * Real-time upload and compaction timers (racing the operations). Runs with them do not
   * replay exactly from the seed.
   */
  uploadIntervalMs: number | undefined;
  compactionIntervalMs: number | undefined;
}

/** Optional StreamStore features, used when present (the lead adds them during this session). */
interface StoreExtras {
  compact?: () => Promise<unknown>;
  collectGarbage?: () => Promise<unknown>;
  halt?: () => unknown;
}
interface StreamExtras {
  trim?: (offset: number) => Promise<void>;
  applyRetention?: (o: { retentionMs?: number; retentionBytes?: number }) => Promise<number>;
  readonly startOffset?: number;
  committedRanges?: () => readonly {
    startOffset: number;
    endOffset: number;
    size: number;
    maxTimestamp: number;
  }[];
}

/** The crash marker thrown through an operation whose store was cut. */
class StoreCrashed extends Error {
  override readonly name = 'StoreCrashed';
}

interface Incarnation {
  readonly n: number;
  readonly fuse: Fuse;
  store: StreamStore | undefined;
  readonly faulty: FaultyObjectStore | undefined;
  readonly faultyMetadata: FaultyMetadata | undefined;
  readonly handles: Map<number, Stream>;
  /** Resolves when the fuse is cut. */
  readonly cut: Promise<void>;
  /** Set by a clean close (calls after it are counted as strays). */
  closed: boolean;
  /** Calls left running (compaction, GC, fetches), settled to their check. */
  readonly background: Promise<void>[];
}

const KiB = 1024;
const MiB = 1024 * 1024;

/** One broker process: its own WAL "disk" and its current store incarnation. */
interface SimNode {
  readonly index: number;
  readonly name: string;
  readonly walStore: MemoryWalStore;
  inc: Incarnation;
}

/** Operations on a whole store (run on a random node). */
const STORE_OPS = new Set([
  'flush',
  'crash',
  'crashLater',
  'restart',
  'advance',
  'compact',
  'compactAsync',
  'gc',
  'gcAsync',
]);

/** Runs one seeded simulation; resolves with its report or rejects with a {@link SimFailure}. */
export async function runSimulation(o: SimOptions): Promise<SimReport> {
  const sim = new Simulation(o);
  return sim.run();
}

class Simulation {
  private readonly rng: Rng;
  /** Random choices of features added after seeds were published (keeps `rng`'s sequence). */
  private readonly rng2: Rng;
  private readonly cfg: SimConfig;
  private readonly clock = new VirtualClock(1_000_000);
  private readonly nodes: SimNode[] = [];
  /** The node the current operation works on (`inc` is its store). */
  private cur = 0;
  private readonly metadata = new MemoryMetadataStore({ leaseCheckIntervalMs: 0 });
  private readonly objectMap = new Map<string, MemoryObject>();
  private readonly objects = new MemoryObjectStore({ name: 'sim', objects: this.objectMap });
  private sabotaged = false;
  private readonly models = new Map<number, StreamModel>();
  /** Sequential readers (next offset per stream), kept across compactions and GC. */
  private readonly cursors = new Map<number, number>();
  private readonly trace: string[] = [];
  private readonly problems: string[] = [];
  private readonly opTimeoutMs: number;
  private incarnations = 0;
  private uid = 0;
  private opIndex = -1;
  private readonly report: SimReport;
  private readonly features = new Set<string>();

  private get inc(): Incarnation {
    return this.nodes[this.cur]!.inc;
  }

  private set inc(inc: Incarnation) {
    this.nodes[this.cur]!.inc = inc;
  }

  private get node(): SimNode {
    return this.nodes[this.cur]!;
  }

  constructor(private readonly o: SimOptions) {
    this.rng = new Rng(o.seed);
    this.rng2 = new Rng((o.seed ^ 0x9e3779b9) >>> 0);
    this.opTimeoutMs = o.opTimeoutMs ?? 20_000;
    const r = this.rng;
    const cacheBytesMax = r.pick([16 * KiB, 64 * KiB, 512 * KiB, 8 * MiB]);
    const nStreams = r.int(1, 5);
    const nodeCount = r.chance(0.4) ? 2 : 1;
    const ids = new Set<number>();
    while (ids.size < nStreams) ids.add(r.chance(0.2) ? r.int(1000, 1_000_000) : r.int(0, 9));
    this.cfg = {
      nodes: nodeCount,
      wide: false,
      streamIds: [...ids].sort((a, b) => a - b),
      cacheBytesMax,
      uploadBytesThreshold: r.pick([256, 2 * KiB, 16 * KiB, 256 * KiB]),
      blockBytesTarget: r.pick([undefined, 512, 4 * KiB]),
      blockCacheBytes: r.pick([undefined, 1 * KiB, 64 * KiB]),
      faultRate: r.pick([0, 0, 0.02, 0.05]),
      metaFaultRate: 0,
      bodyBytesMax: Math.min(Math.floor(cacheBytesMax / 4) - HEADER_BYTES, r.pick([200, 2 * KiB, 20 * KiB])),
      garbageRetentionMs: r.pick([1_000, 60_000]),
      preparedTimeoutMs: r.pick([5_000, 120_000]),
      walCapacityBytes: r.pick([undefined, undefined, 4 * cacheBytesMax + 64 * KiB]),
      readAheadBytesMax: r.pick([undefined, 0, 4 * KiB]),
      writeThrough: r.pick([undefined, false]),
      readConcurrency: r.pick([undefined, 1]),
      compaction: r.pick([
        {},
        { smallObjectBytes: 4 * KiB, streamObjectBytes: 2 * KiB, inputObjectsMax: r.int(2, 24) },
        { smallObjectBytes: 64 * KiB, streamObjectBytes: 16 * KiB, liveFractionMin: 0.9 },
      ]),
      uploadIntervalMs: undefined,
      compactionIntervalMs: undefined,
    };
    // Later additions draw from their own generator, so seeds found before them still replay.
    if (o.metadataFaults !== false && this.rng2.chance(0.3))
      this.cfg.metaFaultRate = this.rng2.pick([0.01, 0.04]);
    if (o.wide !== false && this.rng2.chance(0.1)) {
      // Many streams, so that one sealed block holds more than a commit takes (chunked commits).
      const extra = this.rng2.int(110, 160);
      const ids = new Set(this.cfg.streamIds);
      for (let k = 0; ids.size < this.cfg.streamIds.length + extra; k++) ids.add(20 + 7 * k);
      this.cfg.streamIds = [...ids].sort((a, b) => a - b);
      this.cfg.wide = true;
      this.cfg.cacheBytesMax = Math.max(this.cfg.cacheBytesMax, 512 * KiB);
      this.cfg.uploadBytesThreshold = 256 * KiB;
    }
    if (o.background !== false && r.chance(0.25)) {
      this.cfg.uploadIntervalMs = r.pick([2, 20]);
      this.cfg.compactionIntervalMs = r.pick([5, 50]);
    }
    for (const [i, id] of this.cfg.streamIds.entries()) {
      const m = new StreamModel(id);
      m.owner = i % nodeCount;
      this.models.set(id, m);
    }
    for (let i = 0; i < nodeCount; i++) {
      this.nodes.push({
        index: i,
        name: `sim-node-${i}`,
        walStore: createMemoryWalStore(),
        inc: undefined as unknown as Incarnation,
      });
    }
    this.report = {
      seed: o.seed,
      config: this.cfg,
      ops: {},
      batchesAppended: 0,
      bytesAppended: 0,
      incarnations: 0,
      crashes: 0,
      maybeRecovered: 0,
      maybeLost: 0,
      faults: 0,
      lostAnswers: 0,
      callsAfterClose: 0,
      clientRetries: 0,
      closeStrays: [],
      clientRetriesBy: {},
      features: [],
      elapsedMs: 0,
    };
  }

  async run(): Promise<SimReport> {
    const t0 = Date.now();
    try {
      for (const n of this.nodes) {
        this.cur = n.index;
        await this.startIncarnation(false);
      }
      for (this.opIndex = 0; this.opIndex < this.o.ops; this.opIndex++) {
        if (this.o.sabotage !== undefined && !this.sabotaged && this.opIndex >= this.o.ops / 2) {
          await this.sabotage(this.o.sabotage);
        }
        await this.step();
        this.checkProblems();
      }
      this.opIndex = this.o.ops;
      await this.finish();
      this.checkProblems();
    } catch (err) {
      // Problems noted along the way (in callbacks) came first: they lead the message.
      const first =
        this.problems.length > 0 && !this.problems.includes(describeError(err).replace(/^Error: /, ''))
          ? new Error(`${this.problems.join('; ')}; then: ${describeError(err)}`)
          : err;
      throw this.failure(first, await this.dumpState());
    } finally {
      await this.teardown();
    }
    this.report.elapsedMs = Date.now() - t0;
    this.report.features = [...this.features].sort();
    return this.report;
  }

  // ---- the operation mix -------------------------------------------------------------------

  private async step(): Promise<void> {
    const r = this.rng;
    const id = this.someStreamId();
    // Stream operations run on the stream's owner; store-wide ones on any node.
    this.cur = this.model(id).owner;
    const extras = this.storeExtras();
    const op = r.weighted<string>([
      ['append', 22],
      ['appendBurst', 14],
      ['settle', 4],
      ['fetch', 10],
      ['cursor', 8],
      ['verify', 3],
      ['flush', 6],
      ['closeReopen', 4],
      ['reopenEpoch', 3],
      ['crash', 3],
      ['crashLater', 3],
      ['restart', 2],
      ['advance', 8],
      ['trim', 'trim' in Stream.prototype ? 4 : 0],
      ['retention', 'applyRetention' in Stream.prototype ? 3 : 0],
      ['move', this.nodes.length > 1 ? 4 : 0],
      ['failover', this.nodes.length > 1 ? 2 : 0],
      ['compact', extras.compact ? 4 : 0],
      ['compactAsync', extras.compact ? 3 : 0],
      ['gc', extras.collectGarbage ? 3 : 0],
      ['gcAsync', extras.collectGarbage ? 2 : 0],
      ['fetchAsync', 6],
      ['burstCrash', 2],
      ['wideBurst', this.cfg.wide ? 5 : 0],
    ]);
    // Drawn from rng2: seeds found before deletes existed keep their operation sequence.
    if (this.liveIds().length >= 2 && this.rng2.chance(0.01) && 'deleteStream' in StreamStore.prototype) {
      this.count('deleteStream');
      try {
        await this.deleteStream(id);
      } catch (err) {
        if (!(err instanceof StoreCrashed)) throw err;
        this.cur = this.model(id).owner;
        await this.recoverFromCrash('during deleteStream');
      }
      return;
    }
    this.count(op);
    if (STORE_OPS.has(op)) this.cur = r.int(0, this.nodes.length - 1);
    try {
      await this.runOp(op, id);
    } catch (err) {
      if (!(err instanceof StoreCrashed)) throw err;
    }
    let crashed = false;
    for (const n of this.nodes) {
      if (!n.inc.fuse.blown) continue;
      crashed = true;
      this.cur = n.index;
      await this.recoverFromCrash(`during/after ${op}`);
    }
    if (crashed) return;
    if (op === 'compact' || op === 'gc' || r.chance(0.1)) await this.checkMetadata(`after ${op}`);
  }

  private async sabotage(kind: 'delete-object' | 'drop-wal-record'): Promise<void> {
    if (kind === 'drop-wal-record') {
      await this.settleAll();
      const rec = this.node.walStore.records.pop();
      if (rec === undefined) return;
      this.sabotaged = true;
      this.log(`SABOTAGE: dropped the WAL record at ${rec.offset}, then crash`);
      this.crashNow('reject', 'sabotage');
      await this.recoverFromCrash('after sabotage');
      return;
    }
    const snap = await snapshot(this.metadata, this.objects);
    let best: { key: string; end: number } | undefined;
    for (const list of snap.ranges.values()) {
      for (const r of list)
        if (best === undefined || r.endOffset > best.end) best = { key: r.objectKey, end: r.endOffset };
    }
    if (best === undefined) return;
    this.sabotaged = true;
    this.log(`SABOTAGE: deleted object ${best.key}`);
    this.objectMap.delete(best.key);
  }

  /**
   * Runs before every object delete of any store: the object must not be named by a live
   * `objects/` record, and if it is marked garbage, its retention window must be over.
   */
  private async checkDelete(key: string): Promise<void> {
    let after: string | undefined;
    for (;;) {
      const page = await this.metadata.range(
        '',
        after === undefined ? { limit: 1000 } : { limit: 1000, after },
      );
      for (const kv of page.kvs) {
        if (!kv.key.startsWith('objects/') && !kv.key.startsWith('garbage/')) continue;
        const rec = JSON.parse(kv.value.toString('utf8')) as { key?: string; at?: number };
        if (rec.key !== key) continue;
        if (kv.key.startsWith('objects/')) {
          this.problem(`object ${key} deleted while ${kv.key} names it (committed data deleted)`);
        } else if (rec.at !== undefined && rec.at > this.clock.now()) {
          this.problem(`object ${key} deleted at ${this.clock.now()}, before its garbage time ${rec.at}`);
        }
      }
      if (!page.more || page.kvs.length === 0) break;
      after = page.kvs[page.kvs.length - 1]!.key;
    }
    this.features.add('delete-check');
  }

  /** The metadata/object invariants, and each stream record against the model. */
  private async checkMetadata(why: string): Promise<void> {
    const snap = await snapshot(this.metadata, this.objects);
    const problems = checkSnapshot(snap);
    for (const id of this.openedOnce) {
      if (this.deleted.has(id)) continue;
      const rec = snap.streams.get(id);
      const m = this.model(id);
      if (rec === undefined) {
        problems.push(`stream ${id} has no record`);
        continue;
      }
      const max = m.startMax ?? m.startOffset;
      if (rec.startOffset < m.startOffset || rec.startOffset > max) {
        problems.push(`stream ${id} record starts at ${rec.startOffset}, the model at ${m.startOffset}`);
      }
      if (rec.endOffset > m.endOffset) {
        problems.push(
          `stream ${id} record's committed end ${rec.endOffset} is past the model's end ${m.endOffset}`,
        );
      }
      const owner = this.nodes[m.owner]!.name;
      if (!m.ownerUncertain && rec.owner !== owner) {
        problems.push(`stream ${id} is owned by ${rec.owner}, the model says ${owner}`);
      }
    }
    if (problems.length > 0) throw new Error(`invariants (${why}): ${problems.join('; ')}`);
  }

  private async runOp(op: string, id: number): Promise<void> {
    const r = this.rng;
    switch (op) {
      case 'append': {
        const b = await this.append(id);
        await this.call('append settle', b.settled!);
        this.checkAcked(b, id);
        return;
      }
      case 'appendBurst': {
        const n = r.int(2, 8);
        const ids: number[] = [];
        const mine = this.ownIds();
        for (let i = 0; i < n; i++) {
          const sid = r.chance(0.5) ? id : r.pick(mine);
          ids.push(sid);
          await this.append(sid);
        }
        this.log(`  burst of ${n} on ${ids.join(',')}`);
        return;
      }
      case 'settle':
        await this.settleAll();
        return this.settleBackground();
      case 'compactAsync':
      case 'gcAsync': {
        const extras = this.storeExtras();
        const fn = op === 'compactAsync' ? extras.compact : extras.collectGarbage;
        if (!fn) return;
        this.log(`${op} started`);
        this.background(op, fn.call(this.inc.store));
        return;
      }
      case 'fetchAsync':
        return this.fetchAsync(id);
      case 'wideBurst': {
        const mine = this.ownIds();
        for (const sid of mine) await this.append(sid, true);
        this.log(`  wide burst: one batch on each of ${mine.length} streams`);
        this.features.add('wide');
        if (r.chance(0.3)) this.armFuse(r.int(1, 4), r.pick<CutMode>(['reject', 'hang']));
        else if (r.chance(0.5)) await this.flush();
        return;
      }
      case 'burstCrash': {
        const n = r.int(1, 6);
        const mine = this.ownIds();
        for (let i = 0; i < n; i++) await this.append(r.chance(0.7) ? id : r.pick(mine));
        this.armFuse(r.int(1, n + 1), r.pick<CutMode>(['reject', 'hang']));
        return;
      }
      case 'fetch':
        return this.fetchCheck(id);
      case 'cursor':
        return this.cursorStep(id);
      case 'verify':
        await this.settle(id);
        return this.verifyStream(id, 'verify');
      case 'flush':
        return this.flush();
      case 'closeReopen':
        return this.closeReopen(id);
      case 'move':
        return this.move(id);
      case 'failover':
        return this.failover(id);
      case 'reopenEpoch':
        return this.reopenEpoch(id);
      case 'crash':
        this.crashNow(r.pick<CutMode>(['reject', 'hang']), 'crash op');
        return;
      case 'crashLater': {
        const k = r.int(1, 40);
        this.armFuse(k, r.pick<CutMode>(['reject', 'hang']));
        return;
      }
      case 'restart':
        return this.cleanRestart();
      case 'advance': {
        const ms = r.weighted<number>([
          [10, 3],
          [250, 3],
          [3_000, 2],
          [this.cfg.garbageRetentionMs + 1, 1],
          [this.cfg.preparedTimeoutMs + 1, 1],
        ]);
        this.log(`  advance ${ms} ms`);
        await this.call('clock.advance', this.clock.advance(ms));
        return;
      }
      case 'trim':
        return this.trim(id);
      case 'retention':
        return this.retention(id);
      case 'compact':
        return this.compact();
      case 'gc':
        return this.collectGarbage();
      default:
        throw new Error(`unknown op ${op}`);
    }
  }

  // ---- appends -------------------------------------------------------------------------------

  private async append(id: number, tiny = false): Promise<SimBatch> {
    const r = this.rng;
    const h = await this.handle(id);
    const m = this.model(id);
    const uid = ++this.uid;
    const count = tiny ? 1 : r.chance(0.05) ? r.int(50, 1000) : r.int(1, 5);
    const body = tiny
      ? r.int(0, 16)
      : r.weighted<number>([
          [r.int(0, Math.min(64, this.cfg.bodyBytesMax)), 5],
          [r.int(0, Math.min(1024, this.cfg.bodyBytesMax)), 3],
          [r.int(0, this.cfg.bodyBytesMax), 1],
        ]);
    const data = makePayload(uid, id, count, body, this.o.seed);
    const ts = r.chance(0.2) ? this.clock.now() - r.int(0, 10_000) : this.clock.now();
    const batch: SimBatch = { uid, baseOffset: m.endOffset, count, data, timestampMs: ts, status: 'pending' };
    m.add(batch);
    this.report.batchesAppended++;
    this.report.bytesAppended += data.length;
    this.log(`append s${id} uid ${uid} @${batch.baseOffset} count ${count} bytes ${data.length}`);
    const node = this.node;
    const inc = this.inc;
    const p = (h.append as (b: Buffer, c: number, t?: number) => Promise<{ baseOffset: number }>).call(
      h,
      data,
      count,
      ts,
    );
    batch.settled = p.then(
      (res) => {
        if (res.baseOffset !== batch.baseOffset) {
          this.problem(
            `append uid ${uid} on s${id} got offset ${res.baseOffset}, expected ${batch.baseOffset}`,
          );
        }
        if (batch.status === 'pending') batch.status = 'acked';
        else this.log(`  late ack of uid ${uid} (status ${batch.status})`);
      },
      (err: unknown) => {
        if (inc.fuse.blown || inc !== node.inc) return; // the store crashed: the batch is a maybe
        this.problem(`append uid ${uid} on s${id} rejected on a live store: ${describeError(err)}`);
      },
    );
    return batch;
  }

  /** Waits for one stream's appends in flight (they must all be acknowledged). */
  private async settle(id: number): Promise<void> {
    const m = this.model(id);
    for (const b of m.unacked) {
      if (b.status === 'maybe') continue;
      await this.call(`settle uid ${b.uid}`, b.settled!);
      this.checkAcked(b, id);
    }
  }

  /** A settled append must be acknowledged, unless its store crashed meanwhile. */
  private checkAcked(b: SimBatch, id: number): void {
    if (b.status === 'acked') return;
    const node = this.nodes[this.model(id).owner]!;
    if (node.inc.fuse.blown) throw new StoreCrashed(`append of uid ${b.uid} on s${id}: store cut`);
    throw new Error(`append of uid ${b.uid} on s${id} settled without ack`);
  }

  private async settleAll(): Promise<void> {
    for (const id of this.cfg.streamIds) await this.settle(id);
  }

  // ---- reads ---------------------------------------------------------------------------------

  /** A fetch from a random offset: the batch holding it first, then dense, each byte-exact. */
  private async fetchCheck(id: number): Promise<void> {
    const m = this.model(id);
    const r = this.rng;
    const h = await this.handle(id);
    const end = m.ackedEnd;
    const maxBytes = this.randomMaxBytes();
    if (m.startOffset > 0 && r.chance(0.15)) {
      const below = r.int(0, m.startOffset - 1);
      this.log(`fetch s${id} @${below} (below start ${m.startOffset})`);
      await this.expectRangeError(h, below);
      return;
    }
    if (end <= m.startOffset || r.chance(0.1)) {
      if (m.unacked.length > 0) return;
      this.log(`fetch s${id} @end ${m.endOffset}`);
      const got = await this.fetch(h, m.endOffset, maxBytes);
      if (got.length > 0) {
        throw new Error(`fetch s${id} at the end ${m.endOffset} returned ${describeBatches(got)}`);
      }
      return;
    }
    const off = r.int(m.startOffset, end - 1);
    this.log(`fetch s${id} @${off} max ${maxBytes}`);
    const got = await this.fetch(h, off, maxBytes);
    this.checkFetched(m, off, got, `fetch s${id} @${off}`);
  }

  /** Starts a store call that runs on while later operations go on; checked when it settles. */
  private background(what: string, p: Promise<unknown>, check?: (v: unknown) => void): void {
    const node = this.node;
    const inc = this.inc;
    const settled = p.then(
      (v) => {
        if (inc !== node.inc || inc.fuse.blown) return;
        this.log(`  ${what} -> ${JSON.stringify(v)?.slice(0, 200)}`);
        try {
          check?.(v);
        } catch (err) {
          this.problem(describeError(err));
        }
      },
      (err: unknown) => {
        if (inc !== node.inc || inc.fuse.blown || err instanceof StoreCrashed) return;
        if (err instanceof RangeError && what.startsWith('fetchAsync')) {
          this.log(`  ${what}: RangeError (trimmed meanwhile)`);
          return;
        }
        this.problem(`${what} rejected on a live store: ${describeError(err)}`);
      },
    );
    inc.background.push(settled);
  }

  /** Waits for the background calls of the current store. */
  private async settleBackground(): Promise<void> {
    const list = this.inc.background.splice(0);
    for (const p of list) await this.call('background call', p);
  }

  /** A fetch left running; checked against the batches known when it started. */
  private async fetchAsync(id: number): Promise<void> {
    const m = this.model(id);
    const h = await this.handle(id);
    const end = m.ackedEnd;
    if (end <= m.startOffset) return;
    const off = this.rng.int(m.startOffset, end - 1);
    const frozen = m.clone();
    const maxBytes = this.randomMaxBytes();
    const what = `fetchAsync s${id} @${off}`;
    this.log(`${what} max ${maxBytes} started`);
    const p = this.fetch(h, off, maxBytes, this.rng.chance(0.5) ? `async-${id}` : undefined);
    this.background(what, p, (v) => this.checkFetched(frozen, off, v as FetchedBatch[], what));
  }

  /** Advances the stream's sequential reader by one fetch. */
  private async cursorStep(id: number): Promise<void> {
    const m = this.model(id);
    const h = await this.handle(id);
    let off = this.cursors.get(id) ?? m.startOffset;
    if (off < m.startOffset) {
      this.log(`cursor s${id} @${off} below start ${m.startOffset}`);
      await this.expectRangeError(h, off);
      off = m.startOffset;
    }
    if (off >= m.ackedEnd) {
      this.cursors.set(id, off);
      return;
    }
    const maxBytes = this.randomMaxBytes();
    this.log(`cursor s${id} @${off} max ${maxBytes}`);
    const got = await this.fetch(h, off, maxBytes, `cursor-${id}`);
    this.checkFetched(m, off, got, `cursor s${id} @${off}`);
    const last = got[got.length - 1]!;
    this.cursors.set(id, last.baseOffset + last.count);
  }

  /** Checks a fetch from `off`: non-empty, first holds `off`, dense, each equal to the model's. */
  private checkFetched(
    m: Pick<StreamModel, 'ackedEnd' | 'batchAt'>,
    off: number,
    got: FetchedBatch[],
    what: string,
  ): void {
    if (got.length === 0) throw new Error(`${what}: empty, but the stream holds offsets up to ${m.ackedEnd}`);
    let next = off;
    for (const [i, b] of got.entries()) {
      const ok = i === 0 ? b.baseOffset <= off && off < b.baseOffset + b.count : b.baseOffset === next;
      if (!ok) throw new Error(`${what}: batch ${i} at ${b.baseOffset}+${b.count}, expected ${next}`);
      const want = m.batchAt(b.baseOffset);
      if (want === undefined || want.baseOffset !== b.baseOffset || want.count !== b.count) {
        throw new Error(
          `${what}: unexpected batch ${describePayload(b.data)} at ${b.baseOffset}+${b.count}` +
            ` (model: ${want ? `uid ${want.uid} at ${want.baseOffset}+${want.count}` : 'nothing there'})`,
        );
      }
      if (!want.data.equals(b.data)) {
        throw new Error(
          `${what}: batch at ${b.baseOffset} is ${describePayload(b.data)}, expected uid ${want.uid}`,
        );
      }
      next = b.baseOffset + b.count;
    }
  }

  /** Reads a stream from its start to the end (until an empty fetch), checking density. */
  private async readAll(id: number, h: Stream, from: number): Promise<FetchedBatch[]> {
    const out: FetchedBatch[] = [];
    let off = from;
    for (let i = 0; ; i++) {
      if (i > 1_000_000) throw new Error(`readAll s${id}: no end in sight at ${off}`);
      const got = await this.fetch(h, off, this.randomMaxBytes(), `readAll-${id}`);
      if (got.length === 0) return out;
      for (const [j, b] of got.entries()) {
        const first = out.length === 0 && j === 0;
        const ok = first ? b.baseOffset <= off && off < b.baseOffset + b.count : b.baseOffset === off;
        if (!ok) {
          throw new Error(
            `readAll s${id}: batch ${describePayload(b.data)} at ${b.baseOffset}+${b.count}, expected offset ${off}` +
              ` (a gap, an overlap or a duplicate)`,
          );
        }
        out.push(b);
        off = b.baseOffset + b.count;
      }
    }
  }

  /** Full check of one stream, all of whose appends are settled and acknowledged. */
  private async verifyStream(id: number, why: string): Promise<void> {
    const m = this.model(id);
    const h = await this.handle(id);
    if (m.unacked.length > 0) throw new Error(`verify s${id}: ${m.unacked.length} appends not acknowledged`);
    this.log(`verify s${id} (${why}) [${m.startOffset}, ${m.endOffset}) ${m.batches.length} batches`);
    const got = await this.readAll(id, h, m.startOffset);
    this.compareAll(m, got, `verify s${id} (${why})`);
    if (h.endOffset !== m.endOffset) {
      throw new Error(`verify s${id}: handle endOffset ${h.endOffset}, model ${m.endOffset}`);
    }
    const se = this.streamExtras(id, h);
    if (se.startOffset !== undefined && se.startOffset !== m.startOffset) {
      throw new Error(`verify s${id}: handle startOffset ${se.startOffset}, model ${m.startOffset}`);
    }
    if (h.committedOffset > h.endOffset) {
      throw new Error(`verify s${id}: committedOffset ${h.committedOffset} above endOffset ${h.endOffset}`);
    }
    if (m.startOffset > 0) await this.expectRangeError(h, m.startOffset - 1);
    this.checkCommittedRanges(m, h);
  }

  /**
   * The committed-range index (retention and offset-by-time lookups use it): dense, ending at
   * the committed end, each range's newest timestamp at least that of every batch in it.
   */
  private checkCommittedRanges(m: StreamModel, h: Stream): void {
    const se = this.streamExtras(m.id, h);
    if (!se.committedRanges || this.o.checkCommittedRanges === false) return;
    this.features.add('committed-ranges');
    const list = se.committedRanges.call(h);
    const what = `committedRanges s${m.id}`;
    if (h.committedOffset <= m.startOffset) return;
    if (list.length === 0)
      throw new Error(`${what}: empty, committed [${m.startOffset}, ${h.committedOffset})`);
    if (list[0]!.startOffset > m.startOffset) {
      throw new Error(
        `${what}: first range starts at ${list[0]!.startOffset}, the stream at ${m.startOffset}`,
      );
    }
    for (let i = 1; i < list.length; i++) {
      if (list[i]!.startOffset !== list[i - 1]!.endOffset) {
        throw new Error(
          `${what}: range [${list[i]!.startOffset}, ${list[i]!.endOffset}) does not follow [${list[i - 1]!.startOffset}, ${list[i - 1]!.endOffset})` +
            ` (store's ranges: ${this.internalRanges(m.id)})`,
        );
      }
    }
    const last = list[list.length - 1]!;
    if (last.endOffset !== h.committedOffset) {
      throw new Error(`${what}: ranges end at ${last.endOffset}, committed end is ${h.committedOffset}`);
    }
    for (const r of list) {
      for (const b of m.batches) {
        if (b.baseOffset < r.startOffset || b.baseOffset >= r.endOffset) continue;
        if (b.timestampMs > r.maxTimestamp) {
          throw new Error(
            `${what}: range [${r.startOffset}, ${r.endOffset}) has newest timestamp ${r.maxTimestamp}, ` +
              `but uid ${b.uid} at ${b.baseOffset} has ${b.timestampMs} (time retention would drop it early)`,
          );
        }
      }
    }
  }

  /** The store's in-memory committed ranges of a stream with their object ids (debug aid). */
  private internalRanges(id: number): string {
    try {
      const ranges = (this.inc.store as unknown as { ranges?: { list(id: number): unknown[] } }).ranges;
      const list = (ranges?.list(id) ?? []) as { objectId: number; startOffset: number; endOffset: number }[];
      return list.map((r) => `#${r.objectId} [${r.startOffset}, ${r.endOffset})`).join(', ');
    } catch {
      return '?';
    }
  }

  /** The batches read must be exactly the model's, in order, byte-exact. */
  private compareAll(m: StreamModel, got: FetchedBatch[], what: string): void {
    const n = Math.max(got.length, m.batches.length);
    for (let i = 0; i < n; i++) {
      const g = got[i];
      const w = m.batches[i];
      if (g === undefined) {
        throw new Error(
          `${what}: acknowledged uid ${w!.uid} at ${w!.baseOffset}+${w!.count} is missing (lost)`,
        );
      }
      if (w === undefined) {
        throw new Error(
          `${what}: extra batch ${describePayload(g.data)} at ${g.baseOffset}+${g.count} past the model's end`,
        );
      }
      if (g.baseOffset !== w.baseOffset || g.count !== w.count || !g.data.equals(w.data)) {
        throw new Error(
          `${what}: batch ${i} is ${describePayload(g.data)} at ${g.baseOffset}+${g.count},` +
            ` expected uid ${w.uid} at ${w.baseOffset}+${w.count}`,
        );
      }
    }
  }

  private async fetch(h: Stream, off: number, maxBytes: number, readerId?: string): Promise<FetchedBatch[]> {
    const f = h.fetch as (o: number, m: number, opts?: { readerId?: string }) => Promise<FetchedBatch[]>;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.call(
          `fetch s${h.id} @${off}`,
          f.call(h, off, maxBytes, readerId === undefined ? undefined : { readerId }),
        );
      } catch (err) {
        // Reads are not retried by the store: a client retries retriable object-store errors.
        if (err instanceof ObjectStoreError && err.kind === 'retriable' && attempt < 20) continue;
        if (isMetadataUnavailable(err) && attempt < 20) {
          this.clientRetry(`fetch s${h.id}`, err);
          continue;
        }
        throw err;
      }
    }
  }

  private async expectRangeError(h: Stream, off: number): Promise<void> {
    try {
      const got = await this.call(`fetch s${h.id} @${off}`, h.fetch(off, 1024));
      throw new Error(
        `fetch s${h.id} at ${off}, below the start, returned ${describeBatches(got)} instead of RangeError`,
      );
    } catch (err) {
      if (err instanceof RangeError) return;
      throw err;
    }
  }

  private randomMaxBytes(): number {
    return this.rng.pick([1, 100, 4 * KiB, 64 * KiB, 1 * MiB]);
  }

  // ---- handles, flushes, reopen --------------------------------------------------------------

  /** Verifies every stream opened so far, each on its owner. */
  private async verifyAll(why: string): Promise<void> {
    const cur = this.cur;
    for (const n of this.nodes) {
      this.cur = n.index;
      for (const id of this.ownIds()) if (this.everOpened(id)) await this.verifyStream(id, why);
    }
    this.cur = cur;
  }

  private async handle(id: number): Promise<Stream> {
    if (this.model(id).owner !== this.cur) {
      throw new Error(`sim bug: s${id} used on ${this.node.name}, owned by node ${this.model(id).owner}`);
    }
    const h = this.inc.handles.get(id);
    if (h !== undefined) return h;
    return this.open(id, this.model(id).epoch);
  }

  private async open(id: number, epochWanted: number): Promise<Stream> {
    const m = this.model(id);
    // A takeover by another node must raise the epoch.
    const epoch =
      m.lastNode !== undefined && m.lastNode !== this.cur ? Math.max(epochWanted, m.epoch + 1) : epochWanted;
    this.log(`open s${id} epoch ${epoch} on ${this.node.name}`);
    // Before the call: a crash may hide an open that did store the epoch (and owner).
    m.epoch = Math.max(m.epoch, epoch);
    if (m.lastNode !== undefined && m.lastNode !== this.cur) m.ownerUncertain = true;
    m.lastNode = this.cur;
    const h = await this.clientRetries(`open s${id}`, () => this.inc.store!.open(id, epoch));
    this.inc.handles.set(id, h);
    m.owner = this.cur;
    m.ownerUncertain = false;
    this.openedOnce.add(id);
    return h;
  }

  /**
   * Deletes a stream (its id is never used again): the handle is fenced, the record goes, and
   * reads through the old handle fail.
   */
  private async deleteStream(id: number): Promise<void> {
    await this.settle(id);
    const h = await this.handle(id);
    this.log(`deleteStream s${id}`);
    const del = (this.inc.store as unknown as { deleteStream(id: number): Promise<void> }).deleteStream;
    // Before the call: a delete cut by a crash may have happened; the id is not used again.
    this.deleted.add(id);
    await this.clientRetries(`deleteStream s${id}`, () => del.call(this.inc.store, id));
    this.inc.handles.delete(id);
    this.cursors.delete(id);
    this.features.add('delete');
    try {
      await this.call(`append on deleted s${id}`, h.append(Buffer.from('deleted'), 1));
      throw new Error(`append on deleted stream ${id} resolved`);
    } catch (err) {
      if (!(err instanceof FencedError)) throw err;
    }
    const rec = await this.metadata.get(`streams/${id}`);
    if (rec !== undefined) throw new Error(`stream ${id} still has a record after deleteStream`);
  }

  /** Moves a stream to the other node the graceful way: close it here, open it there. */
  private async move(id: number): Promise<void> {
    const m = this.model(id);
    const from = this.cur;
    const to = (from + 1) % this.nodes.length;
    await this.settle(id);
    const h = await this.handle(id);
    const acked = m.ackedEnd;
    this.log(`move s${id} from ${this.node.name} to ${this.nodes[to]!.name}`);
    await this.call(`close s${id}`, h.close());
    this.inc.handles.delete(id);
    if (h.committedOffset < acked) {
      throw new Error(
        `move: s${id} committedOffset ${h.committedOffset} below ${acked} acknowledged before close`,
      );
    }
    this.cur = to;
    this.features.add('move');
    await this.open(id, m.epoch + 1);
    if (this.rng.chance(0.5)) await this.verifyStream(id, 'moved');
  }

  private async flush(): Promise<void> {
    const ends = new Map<number, number>();
    for (const id of this.cfg.streamIds) ends.set(id, this.model(id).ackedEnd);
    this.log('flush');
    await this.call('flush', this.inc.store!.flush());
    for (const [id, h] of this.inc.handles) {
      if (h.committedOffset < ends.get(id)!) {
        throw new Error(
          `flush: s${id} committedOffset ${h.committedOffset} below ${ends.get(id)} acknowledged before it`,
        );
      }
    }
  }

  private async closeReopen(id: number): Promise<void> {
    const h = await this.handle(id);
    const m = this.model(id);
    const acked = m.ackedEnd;
    this.log(`close s${id}`);
    await this.call(`close s${id}`, h.close());
    this.inc.handles.delete(id);
    await this.settle(id);
    if (h.committedOffset < acked) {
      throw new Error(
        `close s${id}: committedOffset ${h.committedOffset} below ${acked} acknowledged before it`,
      );
    }
    try {
      await this.call(`fetch closed s${id}`, h.fetch(m.startOffset, 100));
      throw new Error(`fetch on a closed handle of s${id} resolved`);
    } catch (err) {
      if (!(err instanceof StreamStoreError)) throw err;
    }
    await this.open(id, m.epoch + this.rng.int(0, 1));
    if (this.rng.chance(0.5)) await this.verifyStream(id, 'reopen');
  }

  private async reopenEpoch(id: number): Promise<void> {
    const old = await this.handle(id);
    const m = this.model(id);
    await this.open(id, m.epoch + 1);
    try {
      await this.call(`append on old handle s${id}`, old.append(Buffer.from('stale'), 1));
      throw new Error(
        `append on the old handle of s${id} (epoch ${old.epoch}) resolved after a reopen at ${m.epoch}`,
      );
    } catch (err) {
      if (!(err instanceof FencedError)) throw err;
    }
  }

  // ---- crashes and restarts ------------------------------------------------------------------

  private crashNow(mode: CutMode, why: string): void {
    this.log(`CRASH now (${mode}, ${why})`);
    this.inc.fuse.cut(mode);
  }

  private armFuse(calls: number, mode: CutMode): void {
    const afterEffect = this.rng.chance(0.5);
    this.log(
      `CRASH armed: at the ${calls}th I/O call from now, ${afterEffect ? 'after' : 'before'} it takes effect (${mode})`,
    );
    this.inc.fuse.armAfter(calls, mode, afterEffect);
  }

  /** The store was cut: halt it, settle what can settle, restart and reconcile the maybes. */
  private async recoverFromCrash(why: string): Promise<void> {
    this.report.crashes++;
    const old = this.inc;
    old.fuse.cut('reject');
    this.log(`crashed ${why} (incarnation ${old.n}, ${old.fuse.calls} calls)`);
    this.haltStore(old);
    await settleTurns();
    for (const m of this.models.values()) {
      if (m.owner !== this.cur) continue;
      for (const b of m.batches) if (b.status === 'pending') b.status = 'maybe';
    }
    for (let attempt = 0; ; attempt++) {
      // Sometimes crash again while recovering or reconciling (never forever).
      const armed = attempt < 3 && this.rng.chance(0.15) ? this.rng.int(1, 30) : undefined;
      try {
        await this.startIncarnation(true, armed);
        for (const id of this.ownIds()) this.cursors.delete(id);
        await this.reconcile();
        this.inc.fuse.disarm();
        return;
      } catch (err) {
        if (!(err instanceof StoreCrashed) && !this.inc.fuse.blown) throw err;
        this.report.crashes++;
        this.inc.fuse.cut('reject');
        this.log(`crashed again during recovery (${describeError(err)})`);
        this.haltStore(this.inc);
        await settleTurns();
      }
    }
  }

  private countFaults(inc: Incarnation): void {
    this.report.faults += (inc.faulty?.faults ?? 0) + (inc.faultyMetadata?.faults ?? 0);
    this.report.lostAnswers += inc.faultyMetadata?.lostAnswers ?? 0;
  }

  private haltStore(inc: Incarnation): void {
    const extras = inc.store === undefined ? undefined : (inc.store as unknown as StoreExtras);
    if (extras?.halt) {
      this.features.add('halt');
      try {
        const r = extras.halt.call(inc.store);
        if (r instanceof Promise) r.catch(() => {});
      } catch {
        // A halted store may throw; it is dead either way.
      }
    }
  }

  /**
   * After a crash: every stream is opened (same or higher epoch) and read from its start.
   * Acknowledged batches must all be there; the unacknowledged ones form a suffix of which a
   * prefix may be there, each at the offset it was given.
   */
  private async reconcile(): Promise<void> {
    for (const id of this.ownIds()) {
      const m = this.model(id);
      if (!this.everOpened(id)) continue;
      const h = await this.open(id, m.epoch + this.rng.int(0, 1));
      await this.reconcileStream(id, h, 'after crash');
    }
    await this.checkMetadata('after crash');
  }

  /** Reads a stream reopened after a crash and settles its maybes (see {@link reconcile}). */
  private async reconcileStream(id: number, h: Stream, why: string): Promise<void> {
    const m = this.model(id);
    {
      this.reconcileStart(m, h);
      if (h.endOffset < m.startOffset) {
        throw new Error(
          `${why}: s${id} starts at ${m.startOffset} but ends at ${h.endOffset} (trimmed past the committed end,` +
            ' then the uncommitted batches were lost): the next appends would get offsets below the start',
        );
      }
      const got = await this.readAll(id, h, m.startOffset);
      let i = 0;
      for (; i < m.batches.length; i++) {
        const w = m.batches[i]!;
        const g = got[i];
        const same =
          g !== undefined && g.baseOffset === w.baseOffset && g.count === w.count && g.data.equals(w.data);
        if (w.status === 'acked') {
          if (!same) {
            throw new Error(
              `after crash: s${id} acknowledged uid ${w.uid} at ${w.baseOffset}+${w.count} is ` +
                (g === undefined
                  ? 'missing (lost)'
                  : `replaced by ${describePayload(g.data)} at ${g.baseOffset}+${g.count}`),
            );
          }
          continue;
        }
        if (!same) break;
        w.status = 'acked';
        w.settled = Promise.resolve();
        this.report.maybeRecovered++;
      }
      for (let j = i; j < m.batches.length; j++) {
        if (m.batches[j]!.status === 'acked') {
          throw new Error(`after crash: s${id} acknowledged uid ${m.batches[j]!.uid} follows a lost batch`);
        }
      }
      if (got.length > i) {
        const g = got[i]!;
        throw new Error(
          `after crash: s${id} holds ${describePayload(g.data)} at ${g.baseOffset}+${g.count} that the model does not` +
            ' (a duplicate, a batch at a wrong offset, or a rejected batch)',
        );
      }
      this.report.maybeLost += m.batches.length - i;
      if (i < m.batches.length)
        this.log(`  s${id}: ${m.batches.length - i} unacknowledged batches not recovered`);
      m.truncate(i);
      if (h.endOffset !== m.endOffset) {
        throw new Error(
          `after crash: s${id} endOffset ${h.endOffset}, but its batches end at ${m.endOffset}`,
        );
      }
      await this.verifyStream(id, why);
    }
  }

  /**
   * An unclean failover: the stream's owner crashes and the other node opens the stream at a
   * higher epoch before the owner restarts. Batches the owner had acknowledged but not
   * committed may be lost (they are only in its WAL), everything committed must be there, and
   * the owner's WAL replay must not bring the stream's old batches back after the takeover.
   */
  private async failover(id: number): Promise<void> {
    const m = this.model(id);
    const from = this.cur;
    const to = (from + 1) % this.nodes.length;
    const mode = this.rng.pick<CutMode>(['reject', 'hang']);
    this.log(`FAILOVER s${id}: ${this.node.name} crashes (${mode}), ${this.nodes[to]!.name} takes over`);
    this.inc.fuse.cut(mode);
    this.haltStore(this.inc);
    await settleTurns();
    for (const mm of this.models.values()) {
      if (mm.owner !== from) continue;
      for (const b of mm.batches) if (b.status === 'pending') b.status = 'maybe';
    }
    const kv = await this.metadata.get(`streams/${id}`);
    const committed =
      kv === undefined ? 0 : (JSON.parse(kv.value.toString('utf8')) as { endOffset: number }).endOffset;
    let demoted = 0;
    for (const b of m.batches) {
      if (b.baseOffset >= committed && b.status === 'acked') {
        b.status = 'maybe';
        demoted++;
      }
    }
    this.log(`  s${id} committed end ${committed}: ${demoted} acknowledged batches may be lost`);
    this.cur = to;
    const h = await this.open(id, m.epoch + 1);
    await this.reconcileStream(id, h, 'after failover');
    this.features.add('failover');
    this.cur = from;
    await this.recoverFromCrash('failover');
    this.cur = to;
    await this.verifyStream(id, 'after the old owner restarted');
    await this.checkMetadata('after failover');
  }

  /** A trim or retention cut by the crash may or may not have moved the start. */
  private reconcileStart(m: StreamModel, h: Stream): void {
    const start = this.streamExtras(m.id, h).startOffset;
    if (start === undefined) return;
    const max = m.startMax ?? m.startOffset;
    if (start < m.startOffset || start > max) {
      throw new Error(
        `after crash: s${m.id} starts at ${start}, expected ${m.startOffset}` +
          (max > m.startOffset ? ` to ${max} (a trim was cut)` : ''),
      );
    }
    if (start !== m.startOffset) this.log(`  s${m.id}: the cut trim took effect (start ${start})`);
    m.trimTo(start);
    m.startMax = undefined;
  }

  /** The streams the current node owns (by the model). */
  private ownIds(): number[] {
    return this.liveIds().filter((id) => this.model(id).owner === this.cur);
  }

  private everOpened(id: number): boolean {
    return this.openedOnce.has(id);
  }
  private readonly openedOnce = new Set<number>();

  private async cleanRestart(): Promise<void> {
    await this.settleAll();
    const old = this.inc;
    this.log(`restart (clean close of incarnation ${old.n})`);
    await this.call('store.close', old.store!.close());
    old.closed = true;
    const before = old.fuse.calls;
    old.fuse.cut('reject');
    await this.startIncarnation(false);
    this.report.callsAfterClose += old.fuse.calls - before + old.fuse.refused;
    if (old.fuse.refused > 0) {
      const note = `${old.fuse.refused} I/O calls after close() (${old.fuse.refusedCalls.join(', ')})`;
      this.problemNote(`a closed store made ${note}`);
      this.report.closeStrays.push(`#${this.opIndex}: ${note}`);
    }
    for (const id of this.ownIds()) {
      if (!this.everOpened(id)) continue;
      await this.open(id, this.model(id).epoch + this.rng.int(0, 1));
      await this.verifyStream(id, 'after restart');
    }
    await this.checkMetadata('after restart');
  }

  private async startIncarnation(afterCrash: boolean, armAfter?: number): Promise<void> {
    const n = ++this.incarnations;
    this.report.incarnations = n;
    const fuse = new Fuse(`${this.node.name} store#${n}`);
    let onCut!: () => void;
    const cut = new Promise<void>((resolve) => {
      onCut = resolve;
    });
    fuse.onCut = onCut;
    if (this.o.traceIo) {
      fuse.onCall = (what, outcome) =>
        this.log(`    io ${fuse.name}: ${what}${outcome ? ` -> ${outcome}` : ''}`);
    }
    const faulty =
      this.cfg.faultRate > 0
        ? new FaultyObjectStore(this.objects, {
            seed: this.rng.uint32(),
            rates: {
              error: this.cfg.faultRate / 2,
              reset: this.cfg.faultRate / 4,
              afterWrite: this.cfg.faultRate / 4,
            },
          })
        : undefined;
    if (this.inc) this.countFaults(this.inc);
    const metadata =
      this.cfg.metaFaultRate > 0
        ? new FaultyMetadata(this.metadata, new Rng(this.rng2.uint32()), {
            before: this.cfg.metaFaultRate / 2,
            after: this.o.metadataLostAnswers === false ? 0 : this.cfg.metaFaultRate / 2,
          })
        : this.metadata;
    const wal = new MemoryWal({ store: this.node.walStore, capacityBytes: this.cfg.walCapacityBytes });
    this.inc = {
      n,
      fuse,
      store: undefined,
      faulty,
      faultyMetadata: metadata instanceof FaultyMetadata ? metadata : undefined,
      handles: new Map(),
      cut,
      closed: false,
      background: [],
    };
    const options: StreamStoreOptions & Record<string, unknown> = {
      wal: new CuttableWal(wal, fuse),
      objectStore: new CuttableObjectStore(faulty ?? this.objects, fuse, (key) => this.checkDelete(key)),
      metadata: new CuttableMetadata(metadata, fuse),
      nodeId: this.node.name,
      cacheBytesMax: this.cfg.cacheBytesMax,
      uploadBytesThreshold: this.cfg.uploadBytesThreshold,
      clock: this.clock,
      garbageRetentionMs: this.cfg.garbageRetentionMs,
      preparedTimeoutMs: this.cfg.preparedTimeoutMs,
    };
    if (this.cfg.blockBytesTarget !== undefined) options.blockBytesTarget = this.cfg.blockBytesTarget;
    if (this.cfg.blockCacheBytes !== undefined) options.blockCacheBytes = this.cfg.blockCacheBytes;
    if (this.cfg.readAheadBytesMax !== undefined) options.readAheadBytesMax = this.cfg.readAheadBytesMax;
    if (this.cfg.writeThrough !== undefined) options.writeThrough = this.cfg.writeThrough;
    if (this.cfg.readConcurrency !== undefined) options.readConcurrency = this.cfg.readConcurrency;
    if (this.cfg.uploadIntervalMs !== undefined) options.uploadIntervalMs = this.cfg.uploadIntervalMs;
    if (this.cfg.compactionIntervalMs !== undefined)
      options.compactionIntervalMs = this.cfg.compactionIntervalMs;
    options.compaction = this.cfg.compaction;
    if (armAfter !== undefined) {
      this.log(
        `start incarnation ${n}${afterCrash ? ' after crash' : ''}, crash armed after ${armAfter} calls`,
      );
      fuse.armAfter(armAfter, 'reject', this.rng.chance(0.5));
    } else {
      this.log(`start incarnation ${n}${afterCrash ? ' after crash' : ''}`);
    }
    const store = await this.clientRetries('StreamStore.start', () => StreamStore.start(options));
    this.inc.store = store;
    this.log(`  recovery ${JSON.stringify(store.recovery)}`);
  }

  // ---- trims, retention, compaction, GC ------------------------------------------------------

  private async trim(id: number): Promise<void> {
    const m = this.model(id);
    const h = await this.handle(id);
    const se = this.streamExtras(id, h);
    if (!se.trim) return;
    this.features.add('trim');
    const r = this.rng;
    const acked = m.batches.filter((b) => b.status === 'acked');
    let to: number;
    if (acked.length === 0 || r.chance(0.1))
      to = m.startOffset - (m.startOffset > 0 && r.chance(0.5) ? 1 : 0);
    else {
      const b = r.pick(acked);
      to = r.chance(0.8) ? b.baseOffset : b.baseOffset + r.int(0, b.count);
    }
    to = Math.min(to, m.ackedEnd);
    this.log(`trim s${id} to ${to} (start ${m.startOffset})`);
    m.startMax = Math.max(to, m.startOffset);
    await this.call(`trim s${id}`, se.trim.call(h, to));
    m.startMax = undefined;
    m.trimTo(to);
    if (se.startOffset !== undefined && se.startOffset !== m.startOffset) {
      throw new Error(`trim s${id} to ${to}: startOffset is ${se.startOffset}, expected ${m.startOffset}`);
    }
  }

  private async retention(id: number): Promise<void> {
    const m = this.model(id);
    const h = await this.handle(id);
    const se = this.streamExtras(id, h);
    if (!se.applyRetention) return;
    this.features.add('retention');
    const r = this.rng;
    const opts: { retentionMs?: number; retentionBytes?: number } = {};
    if (r.chance(0.6)) opts.retentionMs = r.pick([100, 2_000, 20_000]);
    if (!opts.retentionMs || r.chance(0.3)) opts.retentionBytes = r.pick([0, 500, 20 * KiB]);
    const now = this.clock.now();
    const before = m.startOffset;
    this.log(`retention s${id} ${JSON.stringify(opts)} (start ${before}, committed ${h.committedOffset})`);
    const committed = h.committedOffset;
    m.startMax = Math.max(before, committed);
    const start = await this.call(`applyRetention s${id}`, se.applyRetention.call(h, opts));
    m.startMax = undefined;
    this.log(`  -> start ${start}`);
    if (start < before) throw new Error(`retention s${id}: start moved back from ${before} to ${start}`);
    if (start > Math.max(before, committed)) {
      throw new Error(`retention s${id}: start ${start} past the committed end ${committed}`);
    }
    if (start !== before && m.indexOf(start) < 0 && start !== m.endOffset) {
      throw new Error(`retention s${id}: start ${start} is not a batch boundary`);
    }
    if (opts.retentionMs !== undefined && opts.retentionBytes === undefined) {
      const cutoff = now - opts.retentionMs;
      for (const b of m.batches) {
        if (b.baseOffset + b.count > start) break;
        if (b.baseOffset >= before && b.timestampMs >= cutoff) {
          throw new Error(
            `retention s${id} (${opts.retentionMs} ms at ${now}): dropped uid ${b.uid} at ${b.baseOffset} of time ${b.timestampMs}, newer than the cutoff ${cutoff}`,
          );
        }
      }
    }
    m.trimTo(start);
  }

  private async compact(): Promise<void> {
    const extras = this.storeExtras();
    if (!extras.compact) return;
    this.features.add('compact');
    this.log('compact');
    const stats = await this.call('compact', extras.compact.call(this.inc.store));
    this.log(`  -> ${JSON.stringify(stats)}`);
    if (this.rng.chance(0.3)) {
      await this.settleAll();
      await this.verifyAll('after compact');
    }
  }

  private async collectGarbage(): Promise<void> {
    const extras = this.storeExtras();
    if (!extras.collectGarbage) return;
    this.features.add('gc');
    if (this.rng.chance(0.5)) {
      const ms = Math.max(this.cfg.garbageRetentionMs, this.cfg.preparedTimeoutMs) + 1;
      this.log(`  advance ${ms} ms`);
      await this.call('clock.advance', this.clock.advance(ms));
    }
    this.log('collectGarbage');
    const stats = await this.call('collectGarbage', extras.collectGarbage.call(this.inc.store));
    this.log(`  -> ${JSON.stringify(stats)}`);
  }

  // ---- the end -------------------------------------------------------------------------------

  private async finish(): Promise<void> {
    this.log('FINISH');
    for (const n of this.nodes) {
      this.cur = n.index;
      if (this.inc.fuse.blown) await this.recoverFromCrash('before finish');
      this.inc.fuse.disarm();
    }
    const window = Math.max(this.cfg.garbageRetentionMs, this.cfg.preparedTimeoutMs) + 1;
    try {
      await this.settleAll();
      for (const n of this.nodes) {
        this.cur = n.index;
        await this.settleBackground();
      }
      this.checkProblems();
      for (const n of this.nodes) {
        this.cur = n.index;
        for (const id of this.ownIds()) if (this.everOpened(id)) await this.verifyStream(id, 'final');
        await this.cleanRestart();
      }
      for (const n of this.nodes) {
        this.cur = n.index;
        const extras = this.storeExtras();
        if (extras.compact) {
          await this.call('compact', extras.compact.call(this.inc.store));
          await this.verifyAll('final compact');
        }
      }
      this.cur = 0;
      const extras = this.storeExtras();
      if (extras.collectGarbage) {
        await this.call('clock.advance', this.clock.advance(window));
        await this.call('collectGarbage', extras.collectGarbage.call(this.inc.store));
        await this.verifyAll('final gc');
        // Everything superseded or abandoned is gone once both windows are over.
        this.cur = 0;
        await this.call('clock.advance', this.clock.advance(window));
        await this.call('collectGarbage', extras.collectGarbage.call(this.inc.store));
        const snap = await snapshot(this.metadata, this.objects);
        const leaked = orphans(snap);
        if (leaked.length > 0) {
          throw new Error(`objects named by no record after the final GC: ${leaked.join(', ')}`);
        }
        const left = [...snap.garbage, ...snap.prepared];
        if (left.length > 0) {
          throw new Error(`garbage/prepared records left after the final GC: ${left.join(', ')}`);
        }
        this.features.add('orphan-check');
      }
      await this.checkObjectsExist();
      await this.checkMetadata('final');
    } catch (err) {
      if (err instanceof StoreCrashed || this.nodes.some((n) => n.inc.fuse.blown)) {
        throw new Error(`store cut during the final checks: ${describeError(err)}`);
      }
      throw err;
    }
  }

  /** Every object record's key must exist in the object store. */
  private async checkObjectsExist(): Promise<void> {
    const listed = new Set<string>();
    let token: string | undefined;
    do {
      const page = await this.objects.list(token === undefined ? {} : { continuationToken: token });
      for (const obj of page.objects) listed.add(obj.key);
      token = page.continuationToken;
    } while (token !== undefined);
    let after: string | undefined;
    for (;;) {
      const page = await this.metadata.range('objects/', after === undefined ? {} : { after });
      for (const kv of page.kvs) {
        const rec = JSON.parse(kv.value.toString('utf8')) as { key?: string };
        if (rec.key !== undefined && !listed.has(rec.key)) {
          throw new Error(`metadata ${kv.key} refers to object ${rec.key}, which is not in the object store`);
        }
      }
      if (!page.more || page.kvs.length === 0) break;
      after = page.kvs[page.kvs.length - 1]!.key;
    }
  }

  private async teardown(): Promise<void> {
    for (const n of this.nodes) {
      const inc = n.inc as Incarnation | undefined;
      if (inc === undefined) continue;
      this.countFaults(inc);
      inc.fuse.cut('reject');
      this.haltStore(inc);
    }
    await settleTurns();
    await this.metadata.close();
  }

  // ---- plumbing ------------------------------------------------------------------------------

  /**
   * A store call that a client retries on MetadataError('unavailable') (the store lets some of
   * those through; each retry is counted and traced).
   */
  private async clientRetries<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.call(what, fn());
      } catch (err) {
        if (!isMetadataUnavailable(err) || attempt >= 20) throw err;
        this.clientRetry(what, err);
      }
    }
  }

  private clientRetry(what: string, err: unknown): void {
    this.report.clientRetries++;
    const where = what.split(' ')[0]!;
    this.report.clientRetriesBy[where] = (this.report.clientRetriesBy[where] ?? 0) + 1;
    this.log(`  client retry of ${what}: ${describeError(err)}`);
  }

  /**
   * Awaits a store call: throws {@link StoreCrashed} once the store is cut (the call may never
   * settle then) and fails the run when the call takes longer than the hang bound.
   */
  private async call<T>(what: string, p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what} did not settle within ${this.opTimeoutMs} ms (hang)`)),
        this.opTimeoutMs,
      );
    });
    const crashed = this.inc.cut.then(() => {
      throw new StoreCrashed(`${what}: store cut`);
    });
    try {
      return await Promise.race([p, hung, crashed]);
    } catch (err) {
      if (err instanceof CrashedError || this.inc.fuse.blown) {
        throw err instanceof StoreCrashed ? err : new StoreCrashed(`${what}: ${describeError(err)}`);
      }
      throw err;
    } finally {
      clearTimeout(timer);
      crashed.catch(() => {});
      p.catch(() => {});
    }
  }

  private model(id: number): StreamModel {
    const m = this.models.get(id);
    if (m === undefined) throw new Error(`no model of stream ${id}`);
    return m;
  }

  private someStreamId(): number {
    return this.rng.pick(this.liveIds());
  }

  /** Streams not deleted (deleted ids are never reused). */
  private liveIds(): number[] {
    return this.deleted.size === 0
      ? this.cfg.streamIds
      : this.cfg.streamIds.filter((id) => !this.deleted.has(id));
  }
  private readonly deleted = new Set<number>();

  private storeExtras(): StoreExtras {
    return (this.inc.store ?? {}) as unknown as StoreExtras;
  }

  private streamExtras(id: number, h?: Stream): StreamExtras {
    return (h ?? this.inc.handles.get(id) ?? {}) as unknown as StreamExtras;
  }

  private count(op: string): void {
    this.report.ops[op] = (this.report.ops[op] ?? 0) + 1;
  }

  private log(line: string): void {
    this.trace.push(`#${this.opIndex} t=${this.clock.now()} ${line}`);
    const max = Math.max(200, (this.o.traceTail ?? 60) * 4);
    if (this.trace.length > max) this.trace.splice(0, this.trace.length - max);
  }

  private problem(msg: string): void {
    this.problems.push(msg);
    this.log(`PROBLEM ${msg}`);
  }

  /** A finding worth reporting that does not fail the run. */
  private problemNote(msg: string): void {
    this.log(`NOTE ${msg}`);
  }

  private checkProblems(): void {
    if (this.problems.length > 0) throw new Error(this.problems.join('; '));
  }

  /** The metadata records and stored objects, for the failure message. */
  private async dumpState(): Promise<string> {
    const lines: string[] = [];
    try {
      const sizes = new Map<string, number>();
      let token: string | undefined;
      do {
        const page = await this.objects.list(token === undefined ? {} : { continuationToken: token });
        for (const obj of page.objects) sizes.set(obj.key, obj.size);
        token = page.continuationToken;
      } while (token !== undefined);
      let after: string | undefined;
      for (;;) {
        const page = await this.metadata.range(
          '',
          after === undefined ? { limit: 1000 } : { limit: 1000, after },
        );
        for (const kv of page.kvs) {
          const v = kv.value.toString('utf8');
          let note = '';
          try {
            const key = (JSON.parse(v) as { key?: unknown }).key;
            if (typeof key === 'string')
              note = sizes.has(key) ? ` [stored: ${sizes.get(key)} bytes]` : ' [NOT STORED]';
          } catch {
            // Not JSON.
          }
          lines.push(`${kv.key} = ${v.length > 400 ? `${v.slice(0, 400)}…` : v}${note}`);
        }
        if (!page.more || page.kvs.length === 0) break;
        after = page.kvs[page.kvs.length - 1]!.key;
      }
      lines.push(`objects stored: ${[...sizes].map(([k, n]) => `${k} (${n})`).join(', ')}`);
    } catch (err) {
      lines.push(`(dump failed: ${describeError(err)})`);
    }
    const max = 80;
    const shown = lines.length > max ? [...lines.slice(0, max), `… ${lines.length - max} more`] : lines;
    return shown.join('\n  ');
  }

  /** Whether real-time sleeps (store retries, timers) take part in the interleaving. */
  private timingDependent(): boolean {
    return (
      this.cfg.faultRate > 0 ||
      this.cfg.metaFaultRate > 0 ||
      this.cfg.uploadIntervalMs !== undefined ||
      this.cfg.compactionIntervalMs !== undefined
    );
  }

  private failure(err: unknown, dump: string): SimFailure {
    const tail = this.trace.slice(-(this.o.traceTail ?? 60)).join('\n  ');
    return new SimFailure(
      `simulation seed ${this.o.seed} failed at op #${this.opIndex}: ${describeError(err)}\n` +
        `replay: SIM_SEED=${this.o.seed} SIM_OPS=${this.o.ops} pnpm exec vitest run packages/stream/test/simulation.test.ts\n` +
        `config: ${JSON.stringify(this.cfg)}\n` +
        `exact replay: ${this.timingDependent() ? 'no (injected faults or background timers make the interleaving depend on real time; it usually recurs)' : 'yes'}\n` +
        `trace tail:\n  ${tail}\n` +
        `state:\n  ${dump}`,
      this.o.seed,
    );
  }
}

function isMetadataUnavailable(err: unknown): boolean {
  return err instanceof MetadataError && err.kind === 'unavailable';
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (cause: ${err.cause.name}: ${err.cause.message})` : '';
    return `${err.name}: ${err.message}${cause}`;
  }
  return String(err);
}

function describeBatches(got: FetchedBatch[]): string {
  return `[${got.map((b) => `${b.baseOffset}+${b.count} ${describePayload(b.data)}`).join(', ')}]`;
}

/** Lets queued callbacks run (a few macrotask turns). */
async function settleTurns(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
