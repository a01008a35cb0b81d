/**
 * Splits a TCP byte stream into Kafka frames (int32 size prefix + payload), with a bound on
 * the frame size so a hostile or broken peer cannot make the listener allocate without limit.
 */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** Accumulates chunks and yields whole frame payloads (without the 4-byte size prefix). */
export class FrameSplitter {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes = MAX_FRAME_BYTES) {}

  /** Adds a chunk; returns the frames completed by it (payload copies, prefix stripped). */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const head = this.peek(4);
      const size = head.readInt32BE(0);
      if (size < 0 || size > this.maxFrameBytes) {
        throw new Error(`frame size ${size} out of bounds (max ${this.maxFrameBytes})`);
      }
      if (this.buffered < 4 + size) break;
      const whole = this.take(4 + size);
      frames.push(Buffer.from(whole.subarray(4)));
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    return Buffer.concat(this.chunks).subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }
}

/** Prefixes a frame payload (given as chunks) with its int32 size. */
export function sizePrefixed(parts: Buffer[]): Buffer {
  let size = 0;
  for (const p of parts) size += p.length;
  const head = Buffer.allocUnsafe(4);
  head.writeInt32BE(size, 0);
  return Buffer.concat([head, ...parts], size + 4);
}
