/**
 * Compression codecs as numbered in RecordBatch attributes bits 0–2.
 */

/** Codec ids as stored in the RecordBatch attributes (bits 0–2). */
export const CompressionCodec = {
  none: 0,
  gzip: 1,
  snappy: 2,
  lz4: 3,
  zstd: 4,
} as const;

/** A codec id: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. */
export type CompressionCodec = (typeof CompressionCodec)[keyof typeof CompressionCodec];

/** A codec name, as in the `compression.type` config. */
export type CompressionName = keyof typeof CompressionCodec;

const NAMES: readonly CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** The name of codec `id`, or undefined for ids 5–7 (reserved). */
export function compressionName(id: number): CompressionName | undefined {
  return NAMES[id];
}

/** True when `id` is a codec this package knows (0–4). */
export function isCompressionCodec(id: number): id is CompressionCodec {
  return Number.isInteger(id) && id >= 0 && id <= 4;
}
