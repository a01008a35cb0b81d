import { Rng } from './rng.ts';

/** One write that reached the (simulated) page cache but not yet the platter. */
export interface UnsyncedWrite {
  /** Issue order, unique per file. */
  readonly seq: number;
  readonly position: number;
  readonly bytes: Uint8Array;
  /** Whether the write call had returned before the crash (else it was in flight). */
  completed: boolean;
}

/**
 * How a simulated power loss treats the writes that were not made durable by a datasync.
 * Defaults: every un-synced write is dropped, nothing is torn.
 */
export interface CrashOptions {
  /** Seed for the random choices below (subset, order, garbage). Default 0. */
  seed?: number;
  /** Probability that each un-synced write (or sector, see `granularity`) survives. Default 0. */
  keepUnsyncedFraction?: number;
  /**
   * 'write' (default): each un-synced write survives whole or not at all.
   * 'sector': each `sectorBytes` sector of each un-synced write survives independently, as a
   * disk that reorders its write-back may do.
   */
  granularity?: 'write' | 'sector';
  /** Sector size for `granularity: 'sector'` and `tearSectorAligned`. Default 512. */
  sectorBytes?: number;
  /**
   * Decides exactly which un-synced pieces survive instead of `keepUnsyncedFraction`: called
   * per write ('write' granularity) or per sector piece ('sector'); positions are absolute.
   */
  keep?: (piece: {
    seq: number;
    position: number;
    length: number;
    write: { position: number; length: number };
  }) => boolean;
  /** Apply surviving writes in a random order instead of issue order (matters only where they overlap). */
  reorder?: boolean;
  /**
   * Tear the last un-synced write (in issue order): its first `tearAt` bytes survive (clamped to
   * its length; 'random' picks uniformly in [0, length]); the rest is `tornFill`. The torn write
   * is applied last, whatever `keepUnsyncedFraction` decided for it.
   */
  tearAt?: number | 'random';
  /** Round the tear position down to an absolute sector boundary. */
  tearSectorAligned?: boolean;
  /** What the torn part holds after the crash: the old durable bytes (default), zeros or garbage. */
  tornFill?: 'old' | 'zero' | 'garbage';
}

/** What {@link buildCrashImage} decided, for diagnostics. */
export interface CrashReport {
  unsynced: number;
  kept: number;
  torn?: { position: number; length: number; keptBytes: number };
}

/**
 * Builds the durable image after a simulated power loss: `durable` plus the surviving parts of
 * `unsynced` (which must be in issue order). Does not modify its inputs.
 */
export function buildCrashImage(
  durable: Uint8Array,
  unsynced: readonly UnsyncedWrite[],
  options: CrashOptions = {},
): { image: Buffer; report: CrashReport } {
  const rng = new Rng(options.seed ?? 0);
  const keep = options.keepUnsyncedFraction ?? 0;
  const sectorBytes = options.sectorBytes ?? 512;
  if (!(sectorBytes > 0)) throw new RangeError('sectorBytes must be positive');
  const image = Buffer.from(durable);
  const report: CrashReport = { unsynced: unsynced.length, kept: 0 };

  const tearing = options.tearAt !== undefined && unsynced.length > 0;
  const torn = tearing ? unsynced[unsynced.length - 1] : undefined;
  const rest = torn === undefined ? unsynced : unsynced.slice(0, -1);

  // Pieces that survive: [position, bytes] in application order.
  const pieces: Array<{ position: number; bytes: Uint8Array }> = [];
  for (const w of rest) {
    const survives = (position: number, length: number): boolean =>
      options.keep
        ? options.keep({
            seq: w.seq,
            position,
            length,
            write: { position: w.position, length: w.bytes.length },
          })
        : rng.chance(keep);
    if ((options.granularity ?? 'write') === 'write') {
      if (survives(w.position, w.bytes.length)) {
        pieces.push({ position: w.position, bytes: w.bytes });
        report.kept++;
      }
      continue;
    }
    let keptAny = false;
    forEachSector(w.position, w.bytes.length, sectorBytes, (from, to) => {
      if (survives(w.position + from, to - from)) {
        pieces.push({ position: w.position + from, bytes: w.bytes.subarray(from, to) });
        keptAny = true;
      }
    });
    if (keptAny) report.kept++;
  }
  if (options.reorder) rng.shuffle(pieces);
  for (const p of pieces) image.set(p.bytes, p.position);

  if (torn !== undefined) {
    const len = torn.bytes.length;
    let at =
      options.tearAt === 'random' ? rng.int(0, len) : Math.max(0, Math.min(len, options.tearAt ?? len));
    if (options.tearSectorAligned) {
      const abs = torn.position + at;
      at = Math.max(0, abs - (abs % sectorBytes) - torn.position);
    }
    image.set(torn.bytes.subarray(0, at), torn.position);
    const fill = options.tornFill ?? 'old';
    if (fill === 'zero') image.fill(0, torn.position + at, torn.position + len);
    else if (fill === 'garbage') image.set(rng.bytes(len - at), torn.position + at);
    report.torn = { position: torn.position, length: len, keptBytes: at };
    report.kept++;
  }
  return { image, report };
}

/** Calls `fn(from, to)` for each piece of [position, position + length) split at sector boundaries (offsets relative to `position`). */
function forEachSector(
  position: number,
  length: number,
  sectorBytes: number,
  fn: (from: number, to: number) => void,
): void {
  let from = 0;
  while (from < length) {
    const abs = position + from;
    const to = Math.min(length, from + (sectorBytes - (abs % sectorBytes)));
    fn(from, to);
    from = to;
  }
}
