/**
 * The simulation's model of what each stream must hold, and the payloads it appends: each
 * batch carries a header with a run-unique id, so a batch read back in the wrong place (or
 * twice) is identified.
 */

/** Magic of a simulated batch header ("SIMB"). */
const MAGIC = 0x53494d42;
/** Header bytes: magic, uid, stream id, count, body length (u32 LE each). */
export const HEADER_BYTES = 20;

/** Builds a batch: header, then `bodyBytes` bytes derived from the uid and a random salt. */
export function makePayload(
  uid: number,
  streamId: number,
  count: number,
  bodyBytes: number,
  salt: number,
): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_BYTES + bodyBytes);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(uid, 4);
  buf.writeUInt32LE(streamId, 8);
  buf.writeUInt32LE(count, 12);
  buf.writeUInt32LE(bodyBytes, 16);
  let x = (uid * 2654435761 + salt) >>> 0;
  for (let i = 0; i < bodyBytes; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    buf[HEADER_BYTES + i] = x >>> 24;
  }
  return buf;
}

/** Describes a buffer read back (its header if it has one) for failure messages. */
export function describePayload(data: Buffer): string {
  if (data.length < HEADER_BYTES || data.readUInt32LE(0) !== MAGIC) {
    return `<${data.length} bytes, no sim header>`;
  }
  return `<uid ${data.readUInt32LE(4)} of stream ${data.readUInt32LE(8)}, count ${data.readUInt32LE(12)}, ${data.length} bytes>`;
}

/** What the simulation knows of one appended batch. */
export interface SimBatch {
  readonly uid: number;
  readonly baseOffset: number;
  readonly count: number;
  readonly data: Buffer;
  /** The timestamp given to append (virtual clock ms). */
  readonly timestampMs: number;
  /**
   * `acked`: append resolved (durable, must be readable at `baseOffset` until trimmed);
   * `pending`: append not settled yet; `maybe`: its store crashed before it was acknowledged
   * (or the append failed with the store): it may or may not be there after recovery.
   */
  status: 'acked' | 'pending' | 'maybe';
  /** The append's promise, settled to its outcome (never rejects). */
  settled?: Promise<void>;
}

/** One stream as the simulation expects it. */
export class StreamModel {
  /** The epoch the stream was last opened with (or an open was tried with). */
  epoch = 0;
  /** Index of the node that owns the stream. */
  owner = 0;
  /** The node of the last open attempt (a takeover by another node raises the epoch). */
  lastNode: number | undefined;
  /** An open on another node was cut: the stored owner may be either. */
  ownerUncertain = false;
  /** Offsets below are trimmed. */
  startOffset = 0;
  /**
   * While a trim or retention call is unsettled (and after its store crashed during it): the
   * highest start offset it may have set. The store's start is then anywhere in
   * [startOffset, startMax].
   */
  startMax: number | undefined;
  /** Batches in offset order, dense (each starts where the previous one ends). */
  readonly batches: SimBatch[] = [];
  /** End offset when no batch is known (after trims of everything). */
  private emptyEnd = 0;

  constructor(readonly id: number) {}

  /** A copy with the same batches (the batch objects are shared). */
  clone(): StreamModel {
    const c = new StreamModel(this.id);
    c.epoch = this.epoch;
    c.owner = this.owner;
    c.startOffset = this.startOffset;
    c.emptyEnd = this.batches.length > 0 ? this.batches[0]!.baseOffset : this.emptyEnd;
    for (const b of this.batches) c.add(b);
    return c;
  }

  /** The offset the next append gets. */
  get endOffset(): number {
    const last = this.batches[this.batches.length - 1];
    return last === undefined ? this.emptyEnd : last.baseOffset + last.count;
  }

  /** End of the acknowledged prefix. */
  get ackedEnd(): number {
    let end = this.batches.length > 0 ? this.batches[0]!.baseOffset : this.emptyEnd;
    for (const b of this.batches) {
      if (b.status !== 'acked') break;
      end = b.baseOffset + b.count;
    }
    return end;
  }

  /** Batches not acknowledged yet. */
  get unacked(): SimBatch[] {
    return this.batches.filter((b) => b.status !== 'acked');
  }

  /** Adds a batch at the current end. */
  add(batch: SimBatch): void {
    if (batch.baseOffset !== this.endOffset) {
      throw new Error(`model: stream ${this.id} batch at ${batch.baseOffset}, end is ${this.endOffset}`);
    }
    this.batches.push(batch);
  }

  /** Drops batches from index `i` on (not recovered after a crash). */
  truncate(i: number): void {
    const end = i < this.batches.length ? this.batches[i]!.baseOffset : this.endOffset;
    this.batches.splice(i);
    // A stream whose end fell below its start (a trim past the committed end, then a failover
    // lost the uncommitted batches) continues at its start.
    if (this.batches.length === 0) this.emptyEnd = Math.max(end, this.startOffset);
  }

  /** Moves the start offset up and forgets batches wholly below it. */
  trimTo(offset: number): void {
    if (offset <= this.startOffset) return;
    const end = this.endOffset;
    this.startOffset = offset;
    let n = 0;
    while (n < this.batches.length && this.batches[n]!.baseOffset + this.batches[n]!.count <= offset) n++;
    this.batches.splice(0, n);
    if (this.batches.length === 0) this.emptyEnd = Math.max(end, offset);
  }

  /** The batch holding `offset`, if known. */
  batchAt(offset: number): SimBatch | undefined {
    let lo = 0;
    let hi = this.batches.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const b = this.batches[mid]!;
      if (offset < b.baseOffset) hi = mid - 1;
      else if (offset >= b.baseOffset + b.count) lo = mid + 1;
      else return b;
    }
    return undefined;
  }

  /** Index of the batch starting at `offset`, or -1. */
  indexOf(offset: number): number {
    const b = this.batchAt(offset);
    return b === undefined || b.baseOffset !== offset ? -1 : this.batches.indexOf(b);
  }
}
