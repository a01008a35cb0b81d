/**
 * FileWal superblock (format version 1): two slots, slot 0 at byte 0 and slot 1 at byte
 * `alignBytes`, each `alignBytes` long; the ring starts at `2 * alignBytes`. Sequence number
 * `seq` is written to slot `seq % 2`, so an update never overwrites the newest valid copy; the
 * valid slot with the highest `seq` wins (never a clock). Little-endian:
 *
 * ```
 * offset size field
 *  0     4   magic        0x42535754 ("TWSB" as bytes 54 57 53 42)
 *  4     2   version      1
 *  6     2   reserved     0
 *  8     4   alignBytes   group alignment and slot size
 * 12     4   incarnation  bumped durably at every open
 * 16     8   sizeBytes    file or device size when formatted
 * 24     8   ringStart    = 2 * alignBytes
 * 32     8   ringBytes    ring size, a multiple of alignBytes
 * 40     8   seq          sequence number of this copy (>= 1)
 * 48     8   trimOffset   durable trim: records below it are gone
 * 56     8   incStart     logical offset where `incarnation` starts appending
 * 64     4   crc          CRC-32C of bytes 0..63
 * 68         zero up to alignBytes
 * ```
 */
import { crc32c } from './crc32c.ts';
import { readU64, writeU64 } from './format.ts';
import type { WalFile } from './io.ts';
import { WalError } from './types.ts';

export const SUPERBLOCK_MAGIC = 0x42535754;
export const FORMAT_VERSION = 1;
/** Encoded bytes of a superblock (the slot is zero-filled beyond them). */
export const SUPERBLOCK_BYTES = 68;

export interface Superblock {
  alignBytes: number;
  incarnation: number;
  sizeBytes: number;
  ringStart: number;
  ringBytes: number;
  seq: number;
  trimOffset: number;
  incStart: number;
}

/** Encodes `sb` into a zero-filled buffer of `slotBytes` bytes. */
export function encodeSuperblock(sb: Superblock, slotBytes: number): Buffer {
  const b = Buffer.alloc(slotBytes);
  b.writeUInt32LE(SUPERBLOCK_MAGIC, 0);
  b.writeUInt16LE(FORMAT_VERSION, 4);
  b.writeUInt32LE(sb.alignBytes, 8);
  b.writeUInt32LE(sb.incarnation, 12);
  writeU64(b, 16, sb.sizeBytes);
  writeU64(b, 24, sb.ringStart);
  writeU64(b, 32, sb.ringBytes);
  writeU64(b, 40, sb.seq);
  writeU64(b, 48, sb.trimOffset);
  writeU64(b, 56, sb.incStart);
  b.writeUInt32LE(crc32c(b.subarray(0, 64)), 64);
  return b;
}

/** Result of decoding one slot. */
export type SlotState =
  | { kind: 'valid'; sb: Superblock }
  | { kind: 'empty' }
  | { kind: 'invalid'; reason: string };

/** Decodes one slot: 'empty' when all zero, 'invalid' on bad magic/CRC/version/fields. */
export function decodeSuperblock(b: Buffer): SlotState {
  if (b.readUInt32LE(0) !== SUPERBLOCK_MAGIC) {
    return b.every((x) => x === 0) ? { kind: 'empty' } : { kind: 'invalid', reason: 'bad magic' };
  }
  if (crc32c(b.subarray(0, 64)) !== b.readUInt32LE(64)) return { kind: 'invalid', reason: 'bad CRC' };
  const version = b.readUInt16LE(4);
  if (version !== FORMAT_VERSION) return { kind: 'invalid', reason: `unsupported format version ${version}` };
  const sb: Superblock = {
    alignBytes: b.readUInt32LE(8),
    incarnation: b.readUInt32LE(12),
    sizeBytes: readU64(b, 16),
    ringStart: readU64(b, 24),
    ringBytes: readU64(b, 32),
    seq: readU64(b, 40),
    trimOffset: readU64(b, 48),
    incStart: readU64(b, 56),
  };
  const sane =
    sb.alignBytes >= 512 &&
    sb.ringStart === 2 * sb.alignBytes &&
    sb.ringBytes > 0 &&
    sb.ringBytes % sb.alignBytes === 0 &&
    sb.ringStart + sb.ringBytes <= sb.sizeBytes &&
    sb.seq >= 1 &&
    Number.isSafeInteger(sb.trimOffset) &&
    Number.isSafeInteger(sb.incStart);
  return sane ? { kind: 'valid', sb } : { kind: 'invalid', reason: 'inconsistent fields' };
}

/**
 * Picks the superblock from both slots: the valid one with the highest seq; `null` when both
 * are empty (a fresh file); a reason text when neither is valid.
 */
export function pickSuperblock(a: SlotState, b: SlotState): Superblock | null | string {
  const va = a.kind === 'valid' ? a.sb : null;
  const vb = b.kind === 'valid' ? b.sb : null;
  if (va !== null && vb !== null) return va.seq >= vb.seq ? va : vb;
  if (va !== null) return va;
  if (vb !== null) return vb;
  if (a.kind === 'empty' && b.kind === 'empty') return null;
  const why = (s: SlotState) => (s.kind === 'invalid' ? s.reason : s.kind);
  return `no valid superblock (slot 0: ${why(a)}, slot 1: ${why(b)})`;
}

/**
 * Reads both slots of `file` and returns the superblock to use: the valid copy with the highest
 * seq, or a fresh one (seq 0, incarnation 0) when both slots are all zero; WalError('corrupt')
 * otherwise. `align` is the alignment for a fresh WAL and the guess for slot 1's position.
 */
export async function loadSuperblock(file: WalFile, align: number): Promise<Superblock> {
  if (file.size < 3 * align) throw new WalError('invalid', `file of ${file.size} bytes is too small`);
  const s0 = decodeSuperblock(await file.read(0, align));
  const A = s0.kind === 'valid' ? s0.sb.alignBytes : align;
  const raw1 = await file.read(A, A);
  let s1 = decodeSuperblock(raw1);
  if (s1.kind === 'valid' && s1.sb.alignBytes !== A) s1 = { kind: 'invalid', reason: 'alignment mismatch' };
  let picked = pickSuperblock(s0, s1);
  if (typeof picked === 'string' && (await isTornFirstFormat(file, s0, s1, raw1, align))) picked = null;
  if (typeof picked === 'string') throw new WalError('corrupt', picked);
  if (picked !== null) {
    if (picked.ringStart + picked.ringBytes > file.size) {
      throw new WalError('corrupt', `superblock ring ends past the file (${file.size} bytes)`);
    }
    return picked;
  }
  const ringBytes = Math.floor((file.size - 2 * align) / align) * align;
  return {
    alignBytes: align,
    incarnation: 0,
    sizeBytes: file.size,
    ringStart: 2 * align,
    ringBytes,
    seq: 0,
    trimOffset: 0,
    incStart: 0,
  };
}

/**
 * The very first superblock write (seq 1, into slot 1) of a fresh file was torn: slot 0 was
 * never written, slot 1 holds the start of a superblock (its magic, or a prefix of it, and
 * whatever else landed) but fails its checks, and the first block of the ring is still all
 * zero, so no record was ever written (records are appended only after that superblock is
 * durable, and the first group starts at ring offset 0). Such a file is safely treated as
 * fresh. Garbage that is not the start of a superblock, and a WAL whose only superblock copy
 * went bad after records were written, still fail as corrupt.
 */
async function isTornFirstFormat(
  file: WalFile,
  s0: SlotState,
  s1: SlotState,
  raw1: Buffer,
  align: number,
): Promise<boolean> {
  if (s0.kind !== 'empty' || s1.kind !== 'invalid') return false;
  const magic = Buffer.alloc(4);
  magic.writeUInt32LE(SUPERBLOCK_MAGIC, 0);
  if (!raw1.subarray(0, 4).equals(magic)) {
    // fewer than 4 bytes landed: a prefix of the magic, then zeros
    let k = 0;
    while (k < 4 && raw1[k] === magic[k]) k++;
    if (!raw1.subarray(k).every((x) => x === 0)) return false;
  }
  const firstBlock = await file.read(2 * align, align);
  return firstBlock.every((x) => x === 0);
}
