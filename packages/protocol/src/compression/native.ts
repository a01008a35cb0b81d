/**
 * Lazy loaders for the native compression modules. Each module is required on first use; a
 * module that fails to load raises a CompressionError naming the codec and the package, and
 * the failure is remembered so the cost is paid once.
 */
import { createRequire } from 'node:module';
import type { CompressionName } from './codec.ts';
import { CompressionError } from './errors.ts';

const req = createRequire(import.meta.url);

type Loaded = { ok: true; mod: unknown } | { ok: false; message: string };
const cache = new Map<string, Loaded>();

/** Requires `pkg` for `codec`, raising a CompressionError naming both when it cannot load. */
export function loadNativeModule<T>(codec: CompressionName, pkg: string): T {
  let entry = cache.get(pkg);
  if (entry === undefined) {
    try {
      entry = { ok: true, mod: req(pkg) };
    } catch (err) {
      entry = { ok: false, message: err instanceof Error ? err.message.split('\n')[0] : String(err) };
    }
    cache.set(pkg, entry);
  }
  if (!entry.ok) {
    throw new CompressionError(
      codec,
      `codec unavailable: native module '${pkg}' failed to load (${entry.message})`,
      'unsupported',
    );
  }
  return entry.mod as T;
}

/** The subset of the `snappy` package used here (raw Snappy blocks). */
export interface SnappyNative {
  compressSync(input: Uint8Array): Buffer;
  uncompressSync(input: Uint8Array, options: { asBuffer: true }): Buffer;
}

/** The subset of `lz4-napi` used here: raw LZ4 block compression with a 4-byte LE size prefix. */
export interface Lz4Native {
  compressSync(data: Buffer): Buffer;
  /** Decodes [u32 LE capacity][raw block]; fails if the block decodes to more than capacity. */
  uncompressSync(data: Uint8Array): Buffer;
}

/** The subset of `zstd-napi`'s low-level binding used here. */
export interface ZstdBinding {
  DCtx: new () => {
    decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number];
    setParameter(param: number, value: number): void;
    reset(directive: number): void;
  };
  DParameter: { windowLogMax: number };
  ResetDirective: { sessionOnly: number; parameters: number; sessionAndParameters: number };
  compress(dst: Uint8Array, src: Uint8Array, level: number): number;
  compressBound(srcSize: number): number;
}

export const snappyNative = (): SnappyNative => loadNativeModule<SnappyNative>('snappy', 'snappy');
export const lz4Native = (): Lz4Native => loadNativeModule<Lz4Native>('lz4', 'lz4-napi');
export const zstdNative = (): ZstdBinding => loadNativeModule<ZstdBinding>('zstd', 'zstd-napi/binding');

/** lz4-napi, or null when it is missing (the pure-TypeScript decoder is used then). */
export function lz4NativeOrNull(): Lz4Native | null {
  try {
    return lz4Native();
  } catch {
    return null;
  }
}

/** Whether the native module behind `codec` loads (none and gzip need none). */
export function codecAvailable(codec: CompressionName): boolean {
  try {
    if (codec === 'snappy') snappyNative();
    else if (codec === 'lz4') lz4Native();
    else if (codec === 'zstd') zstdNative();
    return true;
  } catch {
    return false;
  }
}
