/**
 * Builds a stream object in memory as a list of buffers, without copying batch bytes.
 */
import { crc32c, crc32cv } from '@tributary/crc32c';
import {
  BATCH_FRAME_BYTES,
  BLOCK_BYTES_MAX,
  BLOCK_CRC_AT,
  BLOCK_HEADER_BYTES,
  BLOCK_MAGIC,
  DEFAULT_BLOCK_BYTES_TARGET,
  FLAG_MULTI_STREAM,
  FOOTER_BYTES,
  FOOTER_CRC_AT,
  FOOTER_MAGIC,
  INDEX_ENTRY_BYTES,
  INDEX_HEADER_BYTES,
  INDEX_MAGIC,
  isOffset,
  OBJECT_FORMAT_VERSION,
  type ObjectIndexEntry,
  writeU64,
} from './format.ts';

/** Options of an {@link ObjectWriter}. */
export interface ObjectWriterOptions {
  /** Target size of a data block in bytes, header included (default 512 KiB). */
  blockBytesTarget?: number;
}

/** The range of one stream held by an object: what gets committed to metadata. */
export interface StreamRange {
  readonly streamId: number;
  readonly startOffset: number;
  /** Exclusive. */
  readonly endOffset: number;
  /** Bytes of this stream's blocks (headers included). */
  readonly size: number;
  /** Position of the stream's first block in the object. */
  readonly position: number;
}

/** What {@link ObjectWriter.finish} returns. */
export interface ObjectWriteResult {
  /**
   * The object's bytes in order. Batch buffers passed to `add` appear here as they are (not
   * copied), so the caller must not modify them until the upload is done.
   */
  readonly buffers: Buffer[];
  /** Total bytes (sum of the buffers' lengths). */
  readonly size: number;
  /** One entry per data block, sorted by (stream id, start offset). */
  readonly blocks: ObjectIndexEntry[];
  /**
   * One range per contiguous run of a stream's offsets, sorted by (stream id, start offset):
   * usually one per stream; more when a stream was added with gaps (compaction output).
   */
  readonly streams: StreamRange[];
}

interface OpenBlock {
  streamId: number;
  startOffset: number;
  endOffset: number;
  parts: Buffer[];
  bodyBytes: number;
  batchCount: number;
}

/**
 * Writes one object: call {@link add} for every batch in (stream id, offset) order, then
 * {@link finish} once. Consecutive batches of a stream are packed into blocks of about
 * `blockBytesTarget` bytes; a block never mixes streams. Per stream, a batch must not start
 * below the previous one's end (an overlap throws); a gap closes the block and starts a new
 * range of the stream.
 */
export class ObjectWriter {
  private readonly blockBytesTarget: number;
  private readonly buffers: Buffer[] = [];
  private readonly blocks: ObjectIndexEntry[] = [];
  private readonly streams: StreamRange[] = [];
  private position = 0;
  private block: OpenBlock | undefined;
  private lastStreamId = -1;
  private lastEndOffset = 0;
  private streamStart = 0;
  private streamPosition = 0;
  private rangeOpen = false;
  private finished = false;

  constructor(options: ObjectWriterOptions = {}) {
    const target = options.blockBytesTarget ?? DEFAULT_BLOCK_BYTES_TARGET;
    if (!Number.isSafeInteger(target) || target < 1) {
      throw new RangeError(`blockBytesTarget must be a positive integer, got ${target}`);
    }
    this.blockBytesTarget = Math.min(target, BLOCK_BYTES_MAX);
  }

  /** Bytes written so far (closed blocks and the open block; index and footer excluded). */
  get bytes(): number {
    const open = this.block;
    return this.position + (open === undefined ? 0 : BLOCK_HEADER_BYTES + open.bodyBytes);
  }

  /**
   * Appends a batch covering offsets [baseOffset, baseOffset + count) of `streamId`. The
   * buffer is referenced, not copied.
   */
  add(streamId: number, baseOffset: number, count: number, batch: Buffer): void {
    if (this.finished) throw new Error('ObjectWriter: add after finish');
    if (!isOffset(streamId)) throw new RangeError(`bad stream id ${streamId}`);
    if (!isOffset(baseOffset)) throw new RangeError(`bad base offset ${baseOffset}`);
    if (!Number.isSafeInteger(count) || count < 1 || count > 0xffff_ffff) {
      throw new RangeError(`bad batch count ${count}`);
    }
    if (!isOffset(baseOffset + count)) throw new RangeError('batch end offset is not below 2^53');
    const framed = BATCH_FRAME_BYTES + batch.length;
    if (BLOCK_HEADER_BYTES + framed > BLOCK_BYTES_MAX) {
      throw new RangeError(`batch of ${batch.length} bytes does not fit a block`);
    }
    if (streamId < this.lastStreamId) {
      throw new Error(`stream ${streamId} added after stream ${this.lastStreamId}`);
    }
    if (streamId === this.lastStreamId && baseOffset < this.lastEndOffset) {
      throw new Error(
        `stream ${streamId}: overlap, batch starts at ${baseOffset}, expected ${this.lastEndOffset}`,
      );
    }
    const newRange = streamId !== this.lastStreamId || baseOffset !== this.lastEndOffset;
    let open = this.block;
    if (
      open !== undefined &&
      (newRange || BLOCK_HEADER_BYTES + open.bodyBytes + framed > this.blockBytesTarget)
    ) {
      this.closeBlock(open);
      open = undefined;
    }
    if (newRange) {
      this.closeStream();
      this.lastStreamId = streamId;
      this.streamStart = baseOffset;
      this.streamPosition = this.position;
      this.rangeOpen = true;
    }
    if (open === undefined) {
      open = {
        streamId,
        startOffset: baseOffset,
        endOffset: baseOffset,
        parts: [],
        bodyBytes: 0,
        batchCount: 0,
      };
      this.block = open;
    }
    const frame = Buffer.allocUnsafe(BATCH_FRAME_BYTES);
    writeU64(frame, 0, baseOffset);
    frame.writeUInt32LE(count, 8);
    frame.writeUInt32LE(batch.length, 12);
    open.parts.push(frame, batch);
    open.bodyBytes += framed;
    open.batchCount += 1;
    open.endOffset = baseOffset + count;
    this.lastEndOffset = open.endOffset;
  }

  /** Closes the last block and appends index and footer. Call once. */
  finish(): ObjectWriteResult {
    if (this.finished) throw new Error('ObjectWriter: finish called twice');
    if (this.block !== undefined) this.closeBlock(this.block);
    this.closeStream();
    this.finished = true;
    const indexPosition = this.position;
    const index = encodeIndex(this.blocks);
    const indexCrc = crc32c(index);
    const objectSize = indexPosition + index.length + FOOTER_BYTES;
    const footer = Buffer.alloc(FOOTER_BYTES);
    writeU64(footer, 0, indexPosition);
    footer.writeUInt32LE(index.length, 8);
    footer.writeUInt32LE(indexCrc, 12);
    footer.writeUInt32LE(this.blocks.length, 16);
    footer.writeUInt32LE(this.streams.length > 1 ? FLAG_MULTI_STREAM : 0, 20);
    writeU64(footer, 24, objectSize);
    footer.writeUInt32LE(OBJECT_FORMAT_VERSION, 36);
    footer.writeUInt32LE(crc32c(footer.subarray(0, FOOTER_CRC_AT)), FOOTER_CRC_AT);
    footer.writeUInt32LE(FOOTER_MAGIC, 44);
    this.buffers.push(index, footer);
    return { buffers: this.buffers, size: objectSize, blocks: this.blocks, streams: this.streams };
  }

  private closeBlock(open: OpenBlock): void {
    const header = Buffer.alloc(BLOCK_HEADER_BYTES);
    header.writeUInt32LE(BLOCK_MAGIC, 0);
    header.writeUInt32LE(open.batchCount, 4);
    writeU64(header, 8, open.streamId);
    writeU64(header, 16, open.startOffset);
    writeU64(header, 24, open.endOffset);
    header.writeUInt32LE(open.bodyBytes, 32);
    const crc = crc32cv([header.subarray(0, BLOCK_CRC_AT), ...open.parts]);
    header.writeUInt32LE(crc, BLOCK_CRC_AT);
    const size = BLOCK_HEADER_BYTES + open.bodyBytes;
    this.blocks.push({
      streamId: open.streamId,
      startOffset: open.startOffset,
      endOffset: open.endOffset,
      position: this.position,
      size,
      batchCount: open.batchCount,
    });
    this.buffers.push(header, ...open.parts);
    this.position += size;
    this.block = undefined;
  }

  private closeStream(): void {
    if (!this.rangeOpen) return;
    this.rangeOpen = false;
    this.streams.push({
      streamId: this.lastStreamId,
      startOffset: this.streamStart,
      endOffset: this.lastEndOffset,
      size: this.position - this.streamPosition,
      position: this.streamPosition,
    });
  }
}

function encodeIndex(blocks: readonly ObjectIndexEntry[]): Buffer {
  const buf = Buffer.alloc(INDEX_HEADER_BYTES + blocks.length * INDEX_ENTRY_BYTES);
  buf.writeUInt32LE(INDEX_MAGIC, 0);
  buf.writeUInt32LE(blocks.length, 4);
  let at = INDEX_HEADER_BYTES;
  for (const b of blocks) {
    writeU64(buf, at, b.streamId);
    writeU64(buf, at + 8, b.startOffset);
    writeU64(buf, at + 16, b.endOffset);
    writeU64(buf, at + 24, b.position);
    buf.writeUInt32LE(b.size, at + 32);
    buf.writeUInt32LE(b.batchCount, at + 36);
    at += INDEX_ENTRY_BYTES;
  }
  return buf;
}
