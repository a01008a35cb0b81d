/**
 * Deterministic fixtures for protocol benchmarks: realistic record batches and `records`
 * fields. Exported so other benchmarks (Produce request / Fetch response codecs) can wrap the
 * same payloads.
 */
import type { CompressionCodec } from '../../packages/protocol/src/compression/index.ts';
import { buildRecordBatch, type RecordInput } from '../../packages/protocol/src/records/index.ts';

/** Shape of a `records` fixture. */
export interface RecordsFixtureParams {
  batches: number;
  recordsPerBatch: number;
  /** Value bytes per record (keys are 16 bytes, one 8-byte header each). */
  valueBytes: number;
  compression?: CompressionCodec;
  seed?: number;
}

/** 16 batches × 64 records × 1 KiB values: ~1 MiB of realistic uncompressed batches. */
export const ONE_MIB_RECORDS: RecordsFixtureParams = { batches: 16, recordsPerBatch: 64, valueBytes: 1000 };

/** A small xorshift generator so fixtures are identical from run to run. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const WORDS = [
  'order',
  'user',
  'id',
  'amount',
  'status',
  'created',
  'shipped',
  'eur',
  'usd',
  'sku',
  'true',
  'null',
];

/** JSON-ish text of `n` bytes: compresses like typical event payloads (roughly 3–5×). */
export function payload(n: number, next: () => number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let i = 0;
  while (i < n) {
    const r = next();
    const piece = r & 1 ? `"${WORDS[r % WORDS.length]}":` : `${(r >>> 8) % 100000},`;
    i += b.write(piece, i, 'latin1');
  }
  return b;
}

/** Deterministic records for one batch. */
export function makeRecords(count: number, valueBytes: number, next: () => number): RecordInput[] {
  const out: RecordInput[] = [];
  for (let i = 0; i < count; i++) {
    const key = Buffer.alloc(16);
    key.write(`key-${next().toString(16)}`.slice(0, 16), 'latin1');
    out.push({
      key,
      value: payload(valueBytes, next),
      headers: [{ key: 'trace', value: Buffer.from(next().toString(16).padStart(8, '0').slice(0, 8)) }],
      timestamp: 1_700_000_000_000 + i,
    });
  }
  return out;
}

/** One batch per element, as a producer would send them. */
export function makeBatches(params: RecordsFixtureParams): Buffer[] {
  const next = prng(params.seed ?? 42);
  const batches: Buffer[] = [];
  for (let b = 0; b < params.batches; b++) {
    batches.push(
      buildRecordBatch(makeRecords(params.recordsPerBatch, params.valueBytes, next), {
        compression: params.compression ?? 0,
        producerId: 1000n,
        producerEpoch: 0,
        baseSequence: b * params.recordsPerBatch,
        baseOffset: BigInt(b * params.recordsPerBatch),
        timestamp: 1_700_000_000_000,
      }),
    );
  }
  return batches;
}

/** A `records` field: the batches concatenated into one Buffer. */
export function makeRecordsBuffer(params: RecordsFixtureParams = ONE_MIB_RECORDS): Buffer {
  return Buffer.concat(makeBatches(params));
}

/** `n` pseudo-random bytes (incompressible), for checksum benchmarks. */
export function randomBytes(n: number, seed = 7): Buffer {
  const next = prng(seed);
  const b = Buffer.allocUnsafe(n);
  let i = 0;
  for (; i + 4 <= n; i += 4) b.writeUInt32LE(next(), i);
  for (; i < n; i++) b[i] = next() & 0xff;
  return b;
}
