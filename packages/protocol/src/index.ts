/**
 * @tributary/protocol — Kafka wire codecs generated from Kafka's JSON message definitions,
 * whole-frame helpers, RecordBatch v2, CRC-32C and compression. No I/O.
 */
export * from './compression/index.ts';
export {
  type Crc32cImplementation,
  crc32c,
  crc32cImplementation,
  crc32cNative,
  crc32cPure,
} from './crc32c.ts';
export * from './frames.ts';
export * from './generated/index.ts';
export * from './primitives/index.ts';
export * from './records/index.ts';
