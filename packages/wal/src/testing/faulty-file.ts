import { setImmediate as immediate } from 'node:timers/promises';
import type { WalFile } from '../io.ts';
import { buildCrashImage, type CrashOptions, type CrashReport, type UnsyncedWrite } from './crash-image.ts';
import { Rng } from './rng.ts';

/** The kinds of operation a {@link FaultyFile} counts. */
export type FaultyOpKind = 'write' | 'read' | 'datasync' | 'close';

/** One operation on a {@link FaultyFile}, as seen by its hooks. */
export interface FaultyOp {
  readonly kind: FaultyOpKind;
  /** 1-based index among every operation on this file. */
  readonly index: number;
  /** 1-based index among the operations of this kind. */
  readonly nth: number;
  readonly position?: number;
  readonly length?: number;
}

export interface FaultyFileOptions {
  /** Size of a fresh zero-filled image (ignored when `image` is given). */
  size?: number;
  /** Durable content to start from (copied), e.g. what {@link FaultyFile.crash} returned. */
  image?: Uint8Array;
  /** Seed for the default latency. Default 1. */
  seed?: number;
  /**
   * Default latency: every operation waits a seeded random number of `setImmediate` turns in
   * [0, latencyTicksMax] (so concurrent operations interleave deterministically). Default 0.
   */
  latencyTicksMax?: number;
  /** Replaces the default latency (e.g. to await a virtual clock). */
  delay?: (op: FaultyOp) => Promise<void> | void;
  /** Called synchronously when an operation starts, before it has any effect; may call `crash()`. */
  onOp?: (op: FaultyOp, file: FaultyFile) => void;
  /**
   * Returns an error to inject into an operation, or undefined. A failed write has no effect;
   * a failed datasync makes nothing durable. The error is raised after the latency.
   */
  fault?: (op: FaultyOp) => Error | undefined;
  /** Shorthand faults: fail the Nth (1-based) operation of a kind with EIO. */
  failAt?: Partial<Record<'write' | 'read' | 'datasync', number>>;
  /**
   * What a failed datasync does to the writes it covered. 'lose' (default, like Linux): they
   * stay visible to reads but are marked clean, so no later datasync makes them durable (a
   * crash loses them). 'keep': they stay dirty and a later datasync may still persist them.
   */
  syncErrorPages?: 'lose' | 'keep';
  /** Bound on bytes written and not yet synced (default 256 MiB); a write beyond it throws. */
  unsyncedBytesMax?: number;
  /** What operations do once the file crashed: reject with EIO (default) or never settle. */
  afterCrash?: 'reject' | 'hang';
}

/** An errno-style error like the ones node:fs raises. */
export function errnoError(code: 'EIO' | 'EBADF' | 'EINVAL', syscall: string, message?: string): Error {
  const errnos = { EIO: -5, EBADF: -9, EINVAL: -22 } as const;
  const err = new Error(message ?? `${code}: simulated ${code} error, ${syscall}`) as NodeJS.ErrnoException;
  err.code = code;
  err.errno = errnos[code];
  err.syscall = syscall;
  return err;
}

/**
 * A deterministic, in-memory {@link WalFile} that models a disk behind a volatile page cache.
 *
 * Writes land in a volatile layer that reads see; `datasync` makes every write that had
 * completed when it was called durable. {@link crash} simulates a power loss: it returns the
 * durable image plus whatever {@link CrashOptions} lets survive of the un-synced writes (a
 * subset, reordered, the last one torn), and kills the file so the old writer can do no more.
 * {@link FaultyFile.fromImage} reopens such an image. Errors and latency are injectable.
 */
export class FaultyFile implements WalFile {
  readonly size: number;
  /** Operation counters. */
  readonly stats = { writes: 0, reads: 0, datasyncs: 0, bytesWritten: 0, bytesRead: 0, faults: 0 };
  /** What the last {@link crash} decided. */
  lastCrash?: CrashReport;

  private readonly durable: Buffer;
  private readonly volatile: Buffer;
  private unsynced: UnsyncedWrite[] = [];
  private unsyncedBytes = 0;
  private seqNext = 0;
  private opIndex = 0;
  private readonly nth: Record<FaultyOpKind, number> = { write: 0, read: 0, datasync: 0, close: 0 };
  private readonly rng: Rng;
  private dead: 'crashed' | 'closed' | undefined;

  constructor(private readonly options: FaultyFileOptions) {
    if (options.image !== undefined) {
      this.durable = Buffer.from(options.image);
    } else {
      if (options.size === undefined || !Number.isSafeInteger(options.size) || options.size < 0) {
        throw new RangeError('FaultyFile needs `image` or a non-negative integer `size`');
      }
      this.durable = Buffer.alloc(options.size);
    }
    this.volatile = Buffer.from(this.durable);
    this.size = this.durable.length;
    this.rng = new Rng(options.seed ?? 1);
  }

  /** A file whose durable (and visible) content is a copy of `image`. */
  static fromImage(image: Uint8Array, options: Omit<FaultyFileOptions, 'image' | 'size'> = {}): FaultyFile {
    return new FaultyFile({ ...options, image });
  }

  /** 'open', or how it died. */
  get state(): 'open' | 'crashed' | 'closed' {
    return this.dead ?? 'open';
  }

  /** Number of operations started so far (of every kind). */
  get opCount(): number {
    return this.opIndex;
  }

  async writev(buffers: readonly Uint8Array[], position: number): Promise<void> {
    let length = 0;
    for (const b of buffers) length += b.length;
    const op = this.begin('write', position, length);
    if (op === undefined) return this.failIfDead('write');
    this.checkRange(position, length, 'pwritev');
    const fault = this.faultFor(op);
    const bytes = Buffer.allocUnsafe(length);
    let at = 0;
    for (const b of buffers) {
      bytes.set(b, at);
      at += b.length;
    }
    let write: UnsyncedWrite | undefined;
    if (fault === undefined) {
      const max = this.options.unsyncedBytesMax ?? 256 * 1024 * 1024;
      if (this.unsyncedBytes + length > max) {
        throw new Error(`FaultyFile: more than ${max} bytes written without a datasync`);
      }
      this.unsyncedBytes += length;
      this.volatile.set(bytes, position);
      write = { seq: this.seqNext++, position, bytes, completed: false };
      this.unsynced.push(write);
      this.stats.writes++;
      this.stats.bytesWritten += length;
    }
    await this.pause(op);
    if (fault !== undefined) throw fault;
    if (write) write.completed = true;
  }

  async read(position: number, length: number): Promise<Buffer> {
    const op = this.begin('read', position, length);
    if (op === undefined) return this.failIfDead('read');
    this.checkRange(position, length, 'pread');
    const fault = this.faultFor(op);
    await this.pause(op);
    if (fault !== undefined) throw fault;
    this.stats.reads++;
    this.stats.bytesRead += length;
    return Buffer.from(this.volatile.subarray(position, position + length));
  }

  async datasync(): Promise<void> {
    const op = this.begin('datasync');
    if (op === undefined) return this.failIfDead('datasync');
    const fault = this.faultFor(op);
    const batch = this.unsynced.filter((w) => w.completed);
    await this.pause(op);
    const covered = new Set(batch);
    if (fault !== undefined) {
      if ((this.options.syncErrorPages ?? 'lose') === 'lose') this.forget(covered);
      throw fault;
    }
    this.stats.datasyncs++;
    for (const w of batch) this.durable.set(w.bytes, w.position);
    this.forget(covered);
  }

  /** Drops `writes` from the un-synced list. */
  private forget(writes: ReadonlySet<UnsyncedWrite>): void {
    this.unsynced = this.unsynced.filter((w) => !writes.has(w));
    this.unsyncedBytes = 0;
    for (const w of this.unsynced) this.unsyncedBytes += w.bytes.length;
  }

  /** Closing keeps the page cache: un-synced writes stay un-synced (a later crash may drop them). */
  async close(): Promise<void> {
    if (this.begin('close') === undefined) return this.failIfDead('close');
    this.dead = 'closed';
  }

  /**
   * Simulates a power loss now and returns the durable image as it might look afterwards.
   * Every later or in-flight operation on this file rejects with EIO (or hangs, per
   * `afterCrash`). Callable once, also from inside `onOp`.
   */
  crash(options: CrashOptions = {}): Buffer {
    if (this.dead === 'crashed') throw new Error('FaultyFile already crashed');
    const { image, report } = buildCrashImage(this.durable, this.unsynced, options);
    this.lastCrash = report;
    this.dead = 'crashed';
    return image;
  }

  /**
   * Simulates the death of the writing process (not of the machine): the page cache survives,
   * so the result is every write issued so far. Kills the file like {@link crash}.
   */
  crashProcess(): Buffer {
    if (this.dead === 'crashed') throw new Error('FaultyFile already crashed');
    this.lastCrash = { unsynced: this.unsynced.length, kept: this.unsynced.length };
    this.dead = 'crashed';
    return Buffer.from(this.volatile);
  }

  /** A copy of what is durable now. */
  durableImage(): Buffer {
    return Buffer.from(this.durable);
  }

  /** A copy of what reads see now. */
  volatileImage(): Buffer {
    return Buffer.from(this.volatile);
  }

  /** The writes not yet durable, in issue order (positions and lengths only). */
  unsyncedWrites(): Array<{ position: number; length: number; completed: boolean }> {
    return this.unsynced.map((w) => ({
      position: w.position,
      length: w.bytes.length,
      completed: w.completed,
    }));
  }

  /** Starts an operation synchronously (so a write is issued when called); undefined once dead. */
  private begin(kind: FaultyOpKind, position?: number, length?: number): FaultyOp | undefined {
    if (this.dead !== undefined) return undefined;
    const op: FaultyOp = { kind, index: ++this.opIndex, nth: ++this.nth[kind], position, length };
    this.options.onOp?.(op, this);
    return this.dead === undefined ? op : undefined;
  }

  private async pause(op: FaultyOp): Promise<void> {
    if (this.options.delay) {
      await this.options.delay(op);
    } else {
      const max = this.options.latencyTicksMax ?? 0;
      const ticks = max > 0 ? this.rng.int(0, max) : 0;
      for (let i = 0; i < ticks; i++) await immediate();
    }
    if (this.dead === 'crashed') await this.failIfDead(op.kind);
  }

  private async failIfDead(kind: FaultyOpKind): Promise<never> {
    if (this.dead === 'crashed') {
      if (this.options.afterCrash === 'hang') await new Promise<never>(() => {});
      throw errnoError('EIO', kind, 'EIO: simulated crash, the device is gone');
    }
    if (this.dead === 'closed') throw errnoError('EBADF', kind, 'EBADF: file is closed');
    throw new Error('FaultyFile: failIfDead on a live file');
  }

  private faultFor(op: FaultyOp): Error | undefined {
    let err = this.options.fault?.(op);
    if (err === undefined && op.kind !== 'close' && this.options.failAt?.[op.kind] === op.nth) {
      err = errnoError('EIO', op.kind);
    }
    if (err !== undefined) this.stats.faults++;
    return err;
  }

  private checkRange(position: number, length: number, syscall: string): void {
    if (!Number.isSafeInteger(position) || position < 0 || length < 0 || position + length > this.size) {
      throw errnoError(
        'EINVAL',
        syscall,
        `EINVAL: ${syscall} of ${length} bytes at ${position} is outside the ${this.size}-byte file`,
      );
    }
  }
}
