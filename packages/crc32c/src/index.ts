/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, pre/post inverted) as used by Kafka
 * RecordBatch v2 and the Tributary WAL.
 *
 * Implementations, tried in this order on first use:
 *   1. `tributary-native`: this package's N-API addon (build/Release/crc32c.node), which picks
 *      AVX-512 VPCLMULQDQ folding, 3-way interleaved SSE4.2 crc32, or slice-by-8 tables by CPU;
 *   2. `node-rs`: the optional dependency `@node-rs/crc32`;
 *   3. `pure`: slice-by-8 TypeScript.
 * Each native loader must pass known-answer checks before it is used. `TRIBUTARY_CRC32C=
 * native|node-rs|pure` forces one (and throws on first use when the forced one cannot load).
 * All give identical results.
 */
import { createRequire } from 'node:module';
import { crc32cPure, crc32cvPure } from './pure.ts';

export { crc32cPure, crc32cvPure } from './pure.ts';

/** Which implementation `crc32c` uses for inputs large enough to leave TypeScript. */
export type Crc32cImplementation = 'tributary-native' | 'node-rs' | 'pure';

/** The raw surface of this package's addon (for tests and benchmarks). */
export interface NativeAddon {
  crc32c(buf: Uint8Array, initial?: number): number;
  crc32cv(bufs: readonly Uint8Array[], initial?: number): number;
  /** Engine the addon chose for this CPU: 'avx512-fold', '3way' or 'table'. */
  readonly engine: string;
  /** Every engine this CPU can run, for `withEngine`. */
  readonly engines: readonly string[];
  /** CRC-32C with a named engine; throws when the CPU lacks it. */
  withEngine(engine: string, buf: Uint8Array, initial?: number): number;
}

type NodeRsCrc = (input: Buffer, initialState?: number) => number;

interface Active {
  impl: Crc32cImplementation;
  /** Inputs shorter than this go to the pure path (the N-API crossing costs more). */
  minBytes: number;
  one(buf: Uint8Array, initial: number): number;
  many(bufs: readonly Uint8Array[], initial: number): number;
}

const req = createRequire(import.meta.url);

/** Measured on a 2 vCPU EPYC: one own-addon call ≈ 35–40 ns ≈ pure TS on 48–64 bytes. */
const OWN_MIN_BYTES = 64;
/** @node-rs/crc32 calls cost ≈ 70 ns, the pure path's time for ≈ 128 bytes. */
const NODE_RS_MIN_BYTES = 128;

let ownAddon: NativeAddon | null | undefined;
let ownError: string | null = null;
let nodeRs: NodeRsCrc | null | undefined;
let active: Active | undefined;

/** Known answers every native loader must reproduce before it is used. */
function passesKnownAnswers(one: (b: Buffer, init: number) => number): boolean {
  const check = Buffer.from('123456789', 'latin1');
  if (one(check, 0) >>> 0 !== 0xe3069283) return false;
  if (one(Buffer.alloc(32), 0) >>> 0 !== 0x8a9136aa) return false;
  if (one(check.subarray(4), one(check.subarray(0, 4), 0) >>> 0) >>> 0 !== 0xe3069283) return false;
  // A few KiB of pseudo-random bytes at an odd offset reach the wide (3-way / folding) paths.
  const big = Buffer.alloc(5003);
  let x = 0x12345678;
  for (let i = 0; i < big.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    big[i] = x >>> 24;
  }
  for (const len of [200, 1000, 5000]) {
    const view = big.subarray(3, 3 + len);
    if (one(view, 0x9e3779b9) >>> 0 !== crc32cPure(view, 0x9e3779b9)) return false;
  }
  return true;
}

/** This package's addon, or null when it is missing or fails its checks (see `nativeLoadError`). */
export function loadNativeAddon(): NativeAddon | null {
  if (ownAddon !== undefined) return ownAddon;
  ownAddon = null;
  try {
    const mod = req('../build/Release/crc32c.node') as NativeAddon;
    const parts = [Buffer.from('12345', 'latin1'), Buffer.alloc(0), Buffer.from('6789', 'latin1')];
    if (!passesKnownAnswers((b, init) => mod.crc32c(b, init))) ownError = 'crc32c known answers failed';
    else if (mod.crc32cv(parts, 0) >>> 0 !== 0xe3069283) ownError = 'crc32cv known answer failed';
    else ownAddon = mod;
  } catch (e) {
    ownError = e instanceof Error ? e.message : String(e);
  }
  return ownAddon;
}

/** Why this package's addon did not load, or null if it loaded (or was not tried yet). */
export function nativeLoadError(): string | null {
  return ownError;
}

/** `@node-rs/crc32`'s crc32c, or null when it is missing or fails its checks. */
export function loadNodeRs(): ((buf: Uint8Array, initial?: number) => number) | null {
  if (nodeRs === undefined) {
    nodeRs = null;
    try {
      const fn = (req('@node-rs/crc32') as { crc32c?: NodeRsCrc }).crc32c;
      if (typeof fn === 'function' && passesKnownAnswers(fn)) nodeRs = fn;
    } catch {
      nodeRs = null;
    }
  }
  const fn = nodeRs;
  return fn === null ? null : (buf, initial = 0) => fn(asBuffer(buf), initial) >>> 0;
}

function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

function own(): Active | null {
  const m = loadNativeAddon();
  if (m === null) return null;
  return {
    impl: 'tributary-native',
    minBytes: OWN_MIN_BYTES,
    one: (buf, initial) => m.crc32c(buf, initial),
    many: (bufs, initial) => m.crc32cv(bufs, initial),
  };
}

function viaNodeRs(): Active | null {
  const fn = loadNodeRs();
  if (fn === null) return null;
  return {
    impl: 'node-rs',
    minBytes: NODE_RS_MIN_BYTES,
    one: fn,
    many: (bufs, initial) => {
      let c = initial;
      for (const b of bufs) c = b.length < NODE_RS_MIN_BYTES ? crc32cPure(b, c) : fn(b, c);
      return c;
    },
  };
}

const pure: Active = { impl: 'pure', minBytes: 0, one: crc32cPure, many: crc32cvPure };

function select(): Active {
  const forced = process.env.TRIBUTARY_CRC32C;
  if (forced === 'pure') return pure;
  if (forced === 'native' || forced === 'node-rs') {
    const a = forced === 'native' ? own() : viaNodeRs();
    if (a === null)
      throw new Error(
        `TRIBUTARY_CRC32C=${forced} but it did not load${forced === 'native' ? `: ${ownError}` : ''}`,
      );
    return a;
  }
  if (forced !== undefined && forced !== '')
    throw new Error(`TRIBUTARY_CRC32C must be native, node-rs or pure (got ${forced})`);
  return own() ?? viaNodeRs() ?? pure;
}

function current(): Active {
  if (active === undefined) active = select();
  return active;
}

/**
 * CRC-32C of `buf`, continuing from `initial` (the unsigned result of a previous call, or 0).
 * Returns an unsigned 32-bit integer; `crc32c(b, crc32c(a)) === crc32c(a ‖ b)`.
 */
export function crc32c(buf: Uint8Array, initial = 0): number {
  const a = current();
  return buf.length < a.minBytes ? crc32cPure(buf, initial) : a.one(buf, initial);
}

/** CRC-32C of the concatenation of `bufs` (one native crossing), continuing from `initial`. */
export function crc32cv(bufs: readonly Uint8Array[], initial = 0): number {
  const a = current();
  return a.many(bufs, initial);
}

/** The implementation `crc32c` uses (selecting it now if it was not yet). */
export function crc32cImplementation(): Crc32cImplementation {
  return current().impl;
}
