/**
 * Cuts a byte stream into Kafka frames (int32 size prefix, then that many bytes).
 *
 * Chunks are kept in a list and never merged as they arrive, so a large frame that comes in many
 * chunks costs one copy when it is complete, and a frame inside one chunk costs none (it is a
 * `subarray` of that chunk). Bytes in a returned frame belong to the caller.
 */

/** A size prefix that is negative or larger than the limit. */
export class FrameSizeError extends Error {
  override readonly name = 'FrameSizeError';
  readonly size: number;

  constructor(size: number, maxFrameBytes: number) {
    super(
      size < 0
        ? `invalid frame size ${size}`
        : `frame of ${size} bytes is larger than the limit of ${maxFrameBytes} bytes`,
    );
    this.size = size;
  }
}

const SIZE_UNKNOWN = -1;

export class FrameReader {
  private readonly chunks: Buffer[] = [];
  /** Read position in chunks[0]. */
  private offset = 0;
  /** Unconsumed bytes over all chunks. */
  private total = 0;
  /** Size of the frame at the head, once its prefix has been read; SIZE_UNKNOWN before. */
  private frameSize = SIZE_UNKNOWN;
  private readonly maxFrameBytes: number;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /**
   * The size of the next frame (without its prefix), or -1 while fewer than 4 bytes are buffered.
   * Throws FrameSizeError for a negative or oversized prefix.
   */
  nextSize(): number {
    if (this.frameSize !== SIZE_UNKNOWN) return this.frameSize;
    if (this.total < 4) return SIZE_UNKNOWN;
    const head = this.chunks[0];
    let size: number;
    if (head.length - this.offset >= 4) {
      size = head.readInt32BE(this.offset);
    } else {
      size = this.copyOut(4).readInt32BE(0);
    }
    if (size < 0 || size > this.maxFrameBytes) throw new FrameSizeError(size, this.maxFrameBytes);
    this.frameSize = size;
    return size;
  }

  /** The size of the next frame if its prefix has been parsed by nextSize(), else -1. */
  knownSize(): number {
    return this.frameSize;
  }

  /** The next whole frame (without its size prefix), or null if it has not fully arrived. */
  next(): Buffer | null {
    const size = this.nextSize();
    if (size === SIZE_UNKNOWN || this.total < 4 + size) return null;
    const head = this.chunks[0];
    const start = this.offset + 4;
    let frame: Buffer;
    if (head.length - start >= size) {
      frame = head.subarray(start, start + size);
      this.offset = start + size;
      this.total -= 4 + size;
      if (this.offset === head.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    } else {
      this.skip(4);
      frame = this.copyOut(size);
      this.skip(size);
    }
    this.frameSize = SIZE_UNKNOWN;
    return frame;
  }

  /** Drops everything buffered. */
  clear(): void {
    this.chunks.length = 0;
    this.offset = 0;
    this.total = 0;
    this.frameSize = SIZE_UNKNOWN;
  }

  /** Copies the next `n` buffered bytes (n ≤ total) into a new buffer without consuming them. */
  private copyOut(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let written = 0;
    let offset = this.offset;
    for (let i = 0; written < n; i++) {
      const c = this.chunks[i];
      const take = Math.min(c.length - offset, n - written);
      c.copy(out, written, offset, offset + take);
      written += take;
      offset = 0;
    }
    return out;
  }

  /** Consumes `n` buffered bytes (n ≤ total). */
  private skip(n: number): void {
    this.total -= n;
    while (n > 0) {
      const c = this.chunks[0];
      const left = c.length - this.offset;
      if (n < left) {
        this.offset += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.offset = 0;
    }
  }
}
