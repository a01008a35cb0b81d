/**
 * zstd via the native `zstd-napi` module (Node 20's zlib has no zstd).
 *
 * Decompression streams into chunks and stops as soon as the output passes `maxOutputBytes`,
 * so a frame that lies about (or omits) its content size cannot grow memory past the bound.
 * The decoder's window is capped (see `windowLogMaxFor`) so a hostile header cannot make the
 * decoder allocate a huge window either.
 */
import { CompressionError, tooLarge, wrapNative } from './errors.ts';
import { type ZstdBinding, zstdNative } from './native.ts';

/** Java's zstd-jni and librdkafka default level. */
const LEVEL = 3;
const OUT_CHUNK_BYTES = 128 * 1024;

type DCtx = InstanceType<ZstdBinding['DCtx']>;
let dctx: DCtx | undefined;

/**
 * Window log limit: large enough for any level up to 19 (window 2^23) and for outputs up to
 * the caller's bound, never above zstd's default limit of 2^27.
 */
export function windowLogMaxFor(maxOutputBytes: number): number {
  const needed = Math.ceil(Math.log2(Math.max(2, maxOutputBytes)));
  return Math.min(27, Math.max(24, needed));
}

function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Compresses `buf` into one zstd frame (level 3, content size recorded). */
export function zstdCompress(buf: Uint8Array): Buffer {
  const z = zstdNative();
  const out = Buffer.allocUnsafe(z.compressBound(buf.length));
  const n = z.compress(out, buf, LEVEL);
  return out.subarray(0, n);
}

/** Decompresses one or more concatenated zstd frames, producing at most `maxOutputBytes`. */
export function zstdDecompress(buf: Uint8Array, maxOutputBytes: number): Buffer {
  const z = zstdNative();
  if (buf.length === 0) throw new CompressionError('zstd', 'empty input');
  const src = asBuffer(buf);
  dctx ??= new z.DCtx();
  const ctx = dctx;
  ctx.reset(z.ResetDirective.sessionAndParameters);
  ctx.setParameter(z.DParameter.windowLogMax, windowLogMaxFor(maxOutputBytes));
  const chunks: Buffer[] = [];
  let total = 0;
  let pos = 0;
  try {
    for (;;) {
      // One byte past the bound is enough to detect an oversized output.
      const size = Math.max(1, Math.min(OUT_CHUNK_BYTES, maxOutputBytes - total + 1));
      const out = Buffer.allocUnsafe(size);
      const [hint, produced, consumed] = ctx.decompressStream(out, src.subarray(pos));
      pos += consumed;
      total += produced;
      if (total > maxOutputBytes) throw tooLarge('zstd', maxOutputBytes);
      if (produced > 0) chunks.push(out.subarray(0, produced));
      if (pos >= src.length) {
        if (hint === 0) break; // the last frame is complete
        if (produced < size) throw new CompressionError('zstd', 'truncated frame');
      } else if (produced === 0 && consumed === 0) {
        throw new CompressionError('zstd', 'decoder made no progress');
      }
    }
  } catch (err) {
    ctx.reset(z.ResetDirective.sessionOnly);
    throw wrapNative('zstd', err);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}
