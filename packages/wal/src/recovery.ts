/**
 * The recovery walk of FileWal: reads the ring from the durable trim offset and yields every
 * record up to the first invalid one. The rules (documented in docs/formats.md):
 *
 * - a record is valid when its magic and header CRC check, its logical offset equals the
 *   expected offset, it fits in the ring, and its body CRC checks;
 * - after a record with GROUP_END the next record is expected at the next alignment boundary
 *   with an incarnation >= the previous one;
 * - after a record without GROUP_END the next record is expected right after it with the
 *   same incarnation (or, when that position is aligned, a higher one); if that fails and the
 *   position is unaligned, at the next boundary with a strictly higher incarnation (a later
 *   incarnation that started after a torn group);
 * - a record at or beyond `incStart` needs an incarnation >= the superblock's incarnation.
 *
 * Stale bytes from an earlier lap carry a different logical offset; stale bytes of a torn
 * group from an earlier incarnation carry a lower incarnation; both are rejected.
 */
import { crc32c } from './crc32c.ts';
import {
  alignUp,
  decodeRecordHeader,
  FLAG_GROUP_END,
  RECORD_HEADER_BYTES,
  type RecordHeader,
} from './format.ts';
import type { WalFile } from './io.ts';
import { WAL_META_MAX_BYTES, type WalRecord } from './types.ts';

/** Bytes read from the ring at a time while walking (a larger record reads whole). */
const WINDOW_BYTES = 1024 * 1024;

export interface WalkParams {
  file: WalFile;
  ringStart: number;
  ringBytes: number;
  alignBytes: number;
  trimOffset: number;
  /** Superblock incarnation and where it started: records at or beyond need inc >= it. */
  incarnation: number;
  incStart: number;
}

/** What the walk found after its last record. */
export interface WalkEnd {
  /** Logical offset just past the last valid record (the trim offset when none). */
  end: number;
  /** Incarnation of the last valid record (0 when none). */
  lastIncarnation: number;
}

interface Candidate {
  at: number;
  incMin: number;
  incMax: number;
}

/** Reads logical ranges of the ring through a sliding window. */
class RingReader {
  private win: Buffer = Buffer.alloc(0);
  private winStart = 0;

  constructor(
    private readonly p: WalkParams,
    private readonly limit: number,
  ) {}

  /** Returns the window and the index of logical offset `o`, holding at least `n` bytes. */
  async view(o: number, n: number): Promise<[Buffer, number]> {
    if (o < this.winStart || o + n > this.winStart + this.win.length) {
      const len = Math.min(Math.max(n, WINDOW_BYTES), this.limit - o);
      this.win = await this.readLogical(o, len);
      this.winStart = o;
    }
    return [this.win, o - this.winStart];
  }

  private async readLogical(o: number, len: number): Promise<Buffer> {
    const { file, ringStart, ringBytes } = this.p;
    const pos = ringStart + (o % ringBytes);
    const first = Math.min(len, ringStart + ringBytes - pos);
    if (first === len) return file.read(pos, len);
    const [a, b] = await Promise.all([file.read(pos, first), file.read(ringStart, len - first)]);
    return Buffer.concat([a, b], len);
  }
}

/**
 * Walks the ring; yields copies of every valid record in order and returns where it ended.
 */
export async function* walkRing(p: WalkParams): AsyncGenerator<WalRecord, WalkEnd, undefined> {
  const limit = p.trimOffset + p.ringBytes;
  const reader = new RingReader(p, limit);
  const A = p.alignBytes;
  let end = p.trimOffset;
  let prev: { h: RecordHeader; next: number } | null = null;
  for (;;) {
    const cands: Candidate[] = [];
    if (prev === null) {
      cands.push({ at: end, incMin: 0, incMax: Infinity });
      if (end % A !== 0) cands.push({ at: alignUp(end, A), incMin: 0, incMax: Infinity });
    } else if (prev.h.flags & FLAG_GROUP_END) {
      cands.push({ at: alignUp(end, A), incMin: prev.h.incarnation, incMax: Infinity });
    } else {
      const aligned = end % A === 0;
      cands.push({ at: end, incMin: prev.h.incarnation, incMax: aligned ? Infinity : prev.h.incarnation });
      if (!aligned) cands.push({ at: alignUp(end, A), incMin: prev.h.incarnation + 1, incMax: Infinity });
    }
    let found: { h: RecordHeader; rec: WalRecord } | null = null;
    for (const c of cands) {
      found = await tryRecord(reader, p, limit, c);
      if (found !== null) break;
    }
    if (found === null) return { end, lastIncarnation: prev === null ? 0 : prev.h.incarnation };
    prev = { h: found.h, next: found.rec.nextOffset };
    end = found.rec.nextOffset;
    yield found.rec;
  }
}

async function tryRecord(
  reader: RingReader,
  p: WalkParams,
  limit: number,
  c: Candidate,
): Promise<{ h: RecordHeader; rec: WalRecord } | null> {
  const o = c.at;
  if (o + RECORD_HEADER_BYTES > limit) return null;
  const [hb, hi] = await reader.view(o, RECORD_HEADER_BYTES);
  const h = decodeRecordHeader(hb, hi);
  if (h === null || h.offset !== o || h.metaLength > WAL_META_MAX_BYTES) return null;
  const incMin = o >= p.incStart ? Math.max(c.incMin, p.incarnation) : c.incMin;
  if (h.incarnation < incMin || h.incarnation > c.incMax) return null;
  const size = RECORD_HEADER_BYTES + h.metaLength + h.dataLength;
  if (o + size > limit) return null;
  const [b, i] = await reader.view(o, size);
  const bodyStart = i + RECORD_HEADER_BYTES;
  const body = b.subarray(bodyStart, bodyStart + h.metaLength + h.dataLength);
  if (crc32c(body) !== h.bodyCrc) return null;
  const meta = Buffer.from(body.subarray(0, h.metaLength));
  const data = Buffer.from(body.subarray(h.metaLength));
  return { h, rec: { offset: o, nextOffset: o + size, meta, data } };
}
