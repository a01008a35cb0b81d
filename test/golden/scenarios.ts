/**
 * Names shared by the recorder and the tests: which clients exist, which scenarios each runs,
 * and the topic each scenario uses, so a test can tell what a recorded frame must contain.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Clients whose frames are recorded (directory names under frames/). */
export const CLIENTS = ['kcat', 'kafkajs', 'platformatic', 'java'] as const;
export type ClientName = (typeof CLIENTS)[number];

/** Compression codecs, by their Kafka names. */
export const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type CodecName = (typeof CODECS)[number];

/** Kafka's attribute value (bits 0-2) for each codec. */
export const CODEC_ID: Record<CodecName, number> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

/** Partition count the admin scenarios create. */
export const ADMIN_PARTITIONS = 3;
/** Partition count of topics the listener creates on demand (Metadata, Produce). */
export const AUTO_PARTITIONS = 1;

/** Topic the admin scenario of `client` creates with ADMIN_PARTITIONS partitions. */
export function adminTopic(client: ClientName): string {
  return `golden-${client}-admin`;
}

/** Topic the admin scenario of `client` creates and deletes again. */
export function scratchTopic(client: ClientName): string {
  return `golden-${client}-scratch`;
}

/** Topic the produce scenario of `client` with `codec` writes to (partition 0). */
export function produceTopic(client: ClientName, codec: CodecName): string {
  return `golden-${client}-${codec}`;
}

/** Scenario label of a produce run; `produceCodec` parses it back. */
export function produceScenario(codec: CodecName): string {
  return `produce-${codec}`;
}

/** The codec of a produce scenario label, or null for other scenarios. */
export function produceCodec(scenario: string): CodecName | null {
  const m = /^produce-(\w+)$/.exec(scenario);
  return m !== null && (CODECS as readonly string[]).includes(m[1]) ? (m[1] as CodecName) : null;
}

/** One recorded frame as listed in frames/index.json. */
export interface IndexEntry {
  client: ClientName;
  clientVersion: string;
  scenario: string;
  seq: number;
  apiKey: number;
  apiName: string;
  apiVersion: number;
  clientId: string | null;
  /** Path relative to frames/ (the frame payload without its 4-byte size prefix). */
  file: string;
  size: number;
}

/** Directory holding the committed frames. */
export const FRAMES_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'frames');

/** Reads frames/index.json (empty list when nothing was recorded yet). */
export function readIndex(): IndexEntry[] {
  try {
    return JSON.parse(readFileSync(path.join(FRAMES_DIR, 'index.json'), 'utf8')) as IndexEntry[];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Reads the bytes of one recorded frame. */
export function readFrame(entry: IndexEntry): Buffer {
  return readFileSync(path.join(FRAMES_DIR, entry.file));
}
