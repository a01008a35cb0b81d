/**
 * FileWal: a preallocated file (or block device) used as a ring, addressed by a growing
 * logical offset, with group commit. Layout and recovery rules: docs/formats.md, section
 * "WAL (FileWal)"; the encoders live in format.ts and superblock.ts, the walk in recovery.ts.
 */
import type { FileWalOptions } from './file-wal-options.ts';
import { alignUp, bodyCrcOf, FLAG_GROUP_END, RECORD_HEADER_BYTES, sealRecordHeader } from './format.ts';
import type { WalFile } from './io.ts';
import { GroupIov, type RecordParts, SlabPool, splitIov } from './iov.ts';
import { openNodeWalFile } from './node-file.ts';
import { walkRing } from './recovery.ts';
import { encodeSuperblock, loadSuperblock, type Superblock } from './superblock.ts';

import {
  WAL_META_MAX_BYTES,
  type WalAppendResult,
  WalError,
  type WalRecord,
  type WalState,
  type WriteAheadLog,
} from './types.ts';

export type { FileWalOptions } from './file-wal-options.ts';

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

/** One appended record on its way to disk. */
interface Rec extends RecordParts {
  size: number;
  resolve: (r: WalAppendResult) => void;
  reject: (e: unknown) => void;
}

/** A group: records written with one writev (two when wrapping) and one fdatasync. */
interface Group {
  start: number;
  end: number;
  recs: Rec[];
  iov: GroupIov;
  /** Slab and position of the last record's header (GROUP_END is set on it at seal). */
  lastSlab: Buffer | null;
  lastAt: number;
}

export class FileWal implements WriteAheadLog {
  private st: WalState = 'recovering';
  private recoveryRunning = false;
  private failure: WalError | null = null;
  private readonly zero: Buffer;
  private readonly groupBytesMax: number;
  /** Slabs of header bytes, reused once the group that filled them is durable. */
  private readonly slabs = new SlabPool();
  private readonly recordBytesMax: number;
  private readonly full: 'wait' | 'reject';
  private incarnation = 0;
  /** Next record offset: inside the open group, or the aligned start of the next group. */
  private cursor = 0;
  private open: Group | null = null;
  private readonly sealed: Group[] = [];
  private inflight: Group | null = null;
  private kickQueued = false;
  private readonly waiters: Rec[] = [];
  private durableTrim: number;
  private trimTarget: number;
  private sbBusy = false;
  private readonly trimWaiters: { at: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly file: WalFile,
    private sb: Superblock,
    o: FileWalOptions,
  ) {
    this.zero = Buffer.alloc(sb.alignBytes);
    this.groupBytesMax = o.groupBytesMax ?? 8 * MiB;
    this.recordBytesMax = o.recordBytesMax ?? 16 * MiB;
    this.full = o.full ?? 'wait';
    this.durableTrim = sb.trimOffset;
    this.trimTarget = sb.trimOffset;
    this.cursor = sb.trimOffset;
  }

  /** Opens (formatting a zeroed file) a WAL; iterate `recover()` before appending. */
  static async open(o: FileWalOptions): Promise<FileWal> {
    const align = o.alignBytes ?? 4096;
    if (!Number.isInteger(align) || align < 512) throw new WalError('invalid', `alignBytes ${align} < 512`);
    const file = o.file ?? (await (o.opener ?? openNodeWalFile)(o.path, o.sizeBytes ?? GiB));
    try {
      return new FileWal(file, await loadSuperblock(file, align), o);
    } catch (err) {
      if (o.file === undefined) await file.close().catch(() => {});
      throw err;
    }
  }

  get state(): WalState {
    return this.st;
  }
  get endOffset(): number {
    return this.cursor;
  }
  get trimOffset(): number {
    return this.durableTrim;
  }
  get usedBytes(): number {
    return this.cursor - this.durableTrim;
  }
  get capacityBytes(): number {
    return this.sb.ringBytes;
  }

  async *recover(): AsyncGenerator<WalRecord, void, undefined> {
    if (this.st !== 'recovering' || this.recoveryRunning) {
      throw new WalError('invalid', `recover() while ${this.recoveryRunning ? 'recovering' : this.st}`);
    }
    this.recoveryRunning = true;
    try {
      const sb = this.sb;
      const walk = walkRing({
        file: this.file,
        ringStart: sb.ringStart,
        ringBytes: sb.ringBytes,
        alignBytes: sb.alignBytes,
        trimOffset: sb.trimOffset,
        incarnation: sb.incarnation,
        incStart: sb.incStart,
      });
      let step = await walk.next();
      while (!step.done) {
        yield step.value;
        if (this.st !== 'recovering') throw this.refusal();
        step = await walk.next();
      }
      if (this.st !== 'recovering') throw this.refusal();
      const start = alignUp(step.value.end, sb.alignBytes);
      const next: Superblock = { ...sb, seq: sb.seq + 1, incarnation: sb.incarnation + 1, incStart: start };
      await this.writeSuperblock(next);
      this.incarnation = next.incarnation;
      this.cursor = start;
      if (this.st === 'recovering') this.st = 'open';
    } finally {
      this.recoveryRunning = false;
    }
  }

  append(data: Buffer | readonly Buffer[], meta?: Buffer): Promise<WalAppendResult> {
    if (this.st !== 'open') return Promise.reject(this.refusal());
    // A list is copied: the caller may reuse its array once append returns.
    const body: Buffer | readonly Buffer[] = Buffer.isBuffer(data) ? data : data.slice();
    let dataLength = 0;
    if (Buffer.isBuffer(body)) dataLength = body.length;
    else for (const b of body) dataLength += b.length;
    const metaLength = meta === undefined ? 0 : meta.length;
    if (metaLength > WAL_META_MAX_BYTES) {
      return Promise.reject(
        new WalError('invalid', `meta is ${metaLength} bytes (max ${WAL_META_MAX_BYTES})`),
      );
    }
    const size = RECORD_HEADER_BYTES + metaLength + dataLength;
    if (
      metaLength + dataLength > this.recordBytesMax ||
      alignUp(size, this.sb.alignBytes) > this.sb.ringBytes
    ) {
      return Promise.reject(new WalError('too-large', `record of ${size} bytes can never fit`));
    }
    return new Promise((resolve, reject) => {
      // Body CRC now (while an earlier group's I/O may be in flight); the header at placement.
      const bodyCrc = bodyCrcOf(meta, body);
      const rec: Rec = {
        meta,
        data: body,
        metaLength,
        dataLength,
        bodyCrc,
        size,
        offset: -1,
        resolve,
        reject,
      };
      if (this.waiters.length > 0 || !this.place(rec)) {
        if (this.full === 'reject') reject(new WalError('full', `WAL full (${this.usedBytes} bytes used)`));
        else this.waiters.push(rec);
      }
    });
  }

  trim(offset: number): Promise<void> {
    if (this.st !== 'open') return Promise.reject(this.refusal());
    if (offset > this.cursor) {
      return Promise.reject(new WalError('invalid', `trim to ${offset} beyond the end ${this.cursor}`));
    }
    if (offset <= this.durableTrim) return Promise.resolve();
    if (offset > this.trimTarget) this.trimTarget = offset;
    return new Promise((resolve, reject) => {
      this.trimWaiters.push({ at: offset, resolve, reject });
      // While a group is in flight the trim rides on the next group's fdatasync (or follows it).
      if (this.inflight === null) void this.persistTrims();
    });
  }

  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    if (this.st !== 'failed') this.st = 'closed';
    const closed = new WalError('closed', 'WAL closed');
    for (const w of this.waiters.splice(0)) w.reject(closed);
    this.closing = (async () => {
      await new Promise<void>((resolve) => {
        if (this.isIdle()) resolve();
        else this.idleWaiters.push(resolve);
      });
      await this.file.close();
    })();
    return this.closing;
  }

  private refusal(): WalError {
    if (this.st === 'failed') return this.failure!;
    if (this.st === 'closed') return new WalError('closed', 'WAL closed');
    return new WalError('invalid', 'recover() must complete before appends and trims');
  }

  /** Places `rec` in the open group (or a new one); false when the ring has no room. */
  private place(rec: Rec): boolean {
    let g = this.open;
    let start = this.cursor;
    if (g !== null && g.end - g.start + rec.size > this.groupBytesMax && g.recs.length > 0) {
      this.seal(g);
      g = null;
      start = this.cursor;
    }
    if (alignUp(start + rec.size, this.sb.alignBytes) > this.durableTrim + this.sb.ringBytes) return false;
    if (g === null) {
      g = { start, end: start, recs: [], iov: new GroupIov(this.slabs), lastSlab: null, lastAt: 0 };
      this.open = g;
    }
    rec.offset = g.end;
    g.lastAt = g.iov.addRecord(rec, this.incarnation);
    g.lastSlab = g.iov.current;
    g.recs.push(rec);
    g.end += rec.size;
    this.cursor = g.end;
    this.kick();
    return true;
  }

  /** Marks the open group's last record GROUP_END, pads it, and queues it for writing. */
  private seal(g: Group): void {
    const h = g.lastSlab!;
    h.writeUInt16LE(FLAG_GROUP_END, g.lastAt + 4);
    sealRecordHeader(h, g.lastAt);
    const padded = alignUp(g.end, this.sb.alignBytes);
    g.iov.pad(padded - g.end, this.zero);
    this.cursor = padded;
    this.open = null;
    this.sealed.push(g);
  }

  private kick(): void {
    if (this.inflight !== null || this.kickQueued) return;
    this.kickQueued = true;
    queueMicrotask(() => {
      this.kickQueued = false;
      this.flushNext();
    });
  }

  private flushNext(): void {
    if (this.inflight !== null || this.st === 'failed') return;
    if (this.sealed.length === 0 && this.open !== null) this.seal(this.open);
    const g = this.sealed.shift();
    if (g === undefined) {
      if (this.trimPending()) void this.persistTrims();
      this.notifyIdle();
      return;
    }
    this.inflight = g;
    void this.commit(g);
  }

  private async commit(g: Group): Promise<void> {
    // A pending trim shares this group's fdatasync: its superblock copy is written alongside.
    let sbNext: Superblock | null = null;
    if (this.trimPending()) {
      sbNext = { ...this.sb, seq: this.sb.seq + 1, trimOffset: this.trimTarget };
      this.sbBusy = true;
    }
    try {
      if (sbNext === null) await this.writeGroup(g);
      else await Promise.all([this.writeGroup(g), this.writeSlot(sbNext)]);
      await this.file.datasync();
    } catch (err) {
      this.sbBusy = false;
      this.fail(err);
      return;
    }
    this.inflight = null;
    this.slabs.give(g.iov.slabs);
    const recs = g.recs;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i];
      r.resolve({ offset: r.offset, nextOffset: r.offset + r.size });
    }
    if (sbNext !== null) {
      this.sbBusy = false;
      this.trimDurable(sbNext);
    }
    this.flushNext();
  }

  /** One writev, or two when the group crosses the end of the ring. */
  private writeGroup(g: Group): Promise<void> {
    g.iov.closeRun();
    const { ringStart, ringBytes } = this.sb;
    const pos = ringStart + (g.start % ringBytes);
    const len = alignUp(g.end, this.sb.alignBytes) - g.start;
    const first = ringStart + ringBytes - pos;
    if (len <= first) return this.file.writev(g.iov.list, pos);
    const [a, b] = splitIov(g.iov.list, first);
    return this.file.writev(a, pos).then(() => this.file.writev(b, ringStart));
  }

  /** Writes trim targets to the next superblock slot, one at a time; frees space when durable. */
  private async persistTrims(): Promise<void> {
    if (this.sbBusy) return;
    this.sbBusy = true;
    try {
      while (this.trimTarget > this.durableTrim && this.st !== 'failed') {
        const next = { ...this.sb, seq: this.sb.seq + 1, trimOffset: this.trimTarget };
        await this.writeSuperblock(next);
        this.trimDurable(next);
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.sbBusy = false;
      this.notifyIdle();
    }
  }

  private trimPending(): boolean {
    return !this.sbBusy && this.trimTarget > this.durableTrim && this.st !== 'failed';
  }

  /** A superblock copy with a new trim offset is durable: resolve trims, admit waiters. */
  private trimDurable(next: Superblock): void {
    const target = next.trimOffset;
    this.durableTrim = target;
    const keep = this.trimWaiters.filter((w) => w.at > target);
    for (const w of this.trimWaiters) if (w.at <= target) w.resolve();
    this.trimWaiters.splice(0, this.trimWaiters.length, ...keep);
    this.admitWaiters();
  }

  /** Writes copy `next.seq` to slot `seq % 2`; `this.sb` becomes `next` (durable after fdatasync). */
  private async writeSlot(next: Superblock): Promise<void> {
    await this.file.writev([encodeSuperblock(next, next.alignBytes)], (next.seq % 2) * next.alignBytes);
    this.sb = next;
  }

  private async writeSuperblock(next: Superblock): Promise<void> {
    await this.writeSlot(next);
    await this.file.datasync();
  }

  /** Capacity waiters proceed in FIFO order while they fit. */
  private admitWaiters(): void {
    while (this.waiters.length > 0 && this.st === 'open') {
      if (!this.place(this.waiters[0])) return;
      this.waiters.shift();
    }
  }

  private fail(cause: unknown): void {
    if (this.st !== 'failed') {
      const msg = cause instanceof Error ? cause.message : String(cause);
      this.failure = new WalError('failed', `WAL failed: ${msg}`, cause);
      this.st = 'failed';
    }
    const err = this.failure!;
    const groups = [this.inflight, ...this.sealed.splice(0), this.open];
    this.inflight = null;
    this.open = null;
    for (const g of groups) if (g !== null) for (const r of g.recs) r.reject(err);
    for (const w of this.waiters.splice(0)) w.reject(err);
    for (const w of this.trimWaiters.splice(0)) w.reject(err);
    this.notifyIdle();
  }

  private isIdle(): boolean {
    const quiet = this.inflight === null && this.sealed.length === 0 && this.open === null;
    return quiet && !this.sbBusy && !this.trimPending();
  }

  private notifyIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
