export { CompressionCodec, type CompressionName, compressionName, isCompressionCodec } from './codec.ts';
export { compress, decompress, describeCodec } from './compress.ts';
export { CompressionError } from './errors.ts';
export { gzipCompress, gzipDecompress } from './gzip.ts';
export { LZ4_FRAME_MAGIC, lz4Compress, lz4Decompress } from './lz4.ts';
export { codecAvailable } from './native.ts';
export {
  isXerialFramed,
  snappyCompress,
  snappyCompressRaw,
  snappyDecompress,
  snappyUncompressedLength,
  XERIAL_MAGIC,
} from './snappy.ts';
export { xxhash32 } from './xxhash32.ts';
export { zstdCompress, zstdDecompress } from './zstd.ts';
