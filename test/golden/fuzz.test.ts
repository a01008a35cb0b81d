/**
 * Seeded fuzzing of the request decoders with mutated golden frames (bit flips, truncation,
 * length-field corruption, splices): only ProtocolError may escape, and memory stays
 * bounded. Runs ~3 s by default; FUZZ_SECONDS=60 runs longer; FUZZ_SEED=<n> replays a seed.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { ProduceRequest } from '../../packages/protocol/src/generated/index.ts';
import { apiByKey } from '../../packages/protocol/src/generated/index.ts';
import { ProtocolError } from '../../packages/protocol/src/primitives/index.ts';
import {
  readRecords,
  splitBatches,
  updateBatchCrc,
  validateRecords,
} from '../../packages/protocol/src/records/index.ts';
import { decodeRequestAs } from './capture/protocol.ts';
import { readFrame, readIndex } from './scenarios.ts';

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 3);
const SEED =
  process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
/** Retained heap + array-buffer growth allowed over the whole run (after a full GC). */
const MEMORY_GROWTH_MAX_BYTES = 64 * 1024 * 1024;
/** Bound on the decompressed size of a fuzzed batch. */
const DECOMPRESSED_MAX_BYTES = 8 * 1024 * 1024;

/** A full GC, so that samples measure retained memory rather than garbage. */
v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as () => void;

/** mulberry32: a small, fast, seedable PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING_INT32 = [
  0, 1, -1, -2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -0x80000000, 0x10000000,
];

/** Applies one random mutation; returns the mutated copy and a description. */
function mutate(rand: () => number, frame: Buffer, corpus: Buffer[]): [Buffer, string] {
  const pick = (n: number) => Math.floor(rand() * n);
  const b = Buffer.from(frame);
  switch (pick(6)) {
    case 0: {
      const flips = 1 + pick(8);
      for (let i = 0; i < flips && b.length > 0; i++) b[pick(b.length)] ^= 1 << pick(8);
      return [b, `flip ${flips} bit(s)`];
    }
    case 1: {
      const n = pick(b.length + 1);
      return [b.subarray(0, n), `truncate to ${n}`];
    }
    case 2: {
      if (b.length < 4) return [b, 'noop'];
      const at = pick(b.length - 3);
      const v = INTERESTING_INT32[pick(INTERESTING_INT32.length)];
      if (rand() < 0.5) b.writeInt32BE(v | 0, at);
      else b.writeInt16BE((v << 16) >> 16, at);
      return [b, `length field ${v} at ${at}`];
    }
    case 3: {
      const other = corpus[pick(corpus.length)];
      const at = pick(b.length + 1);
      const from = pick(other.length + 1);
      const len = pick(Math.min(64, other.length - from) + 1);
      return [
        Buffer.concat([b.subarray(0, at), other.subarray(from, from + len), b.subarray(at)]),
        `splice ${len}B at ${at}`,
      ];
    }
    case 4: {
      if (b.length === 0) return [b, 'noop'];
      const at = pick(b.length);
      const len = 1 + pick(Math.min(32, b.length - at));
      return [Buffer.concat([b.subarray(0, at), b.subarray(at + len)]), `delete ${len}B at ${at}`];
    }
    default: {
      const at = pick(b.length + 1);
      const v = 0x80 | pick(0x80);
      const run = Buffer.alloc(1 + pick(6), v);
      return [Buffer.concat([b.subarray(0, at), run, b.subarray(at)]), `varint run ${run.length} at ${at}`];
    }
  }
}

/** Decodes `frame` as `apiKey` at every version; Produce bodies also get their batches read. */
function decodeEverything(frame: Buffer, apiKey: number, fixCrc: boolean): void {
  const spec = apiByKey.get(apiKey)!;
  for (let v = spec.minVersion; v <= spec.maxVersion; v++) {
    try {
      const { body } = decodeRequestAs(frame, apiKey, v);
      if (apiKey === 0) {
        for (const td of (body as ProduceRequest).topicData) {
          for (const pd of td.partitionData) {
            if (pd.records === null) continue;
            // Fix the CRC half the time so that mutations reach the record and codec readers.
            if (fixCrc) for (const batch of splitBatches(pd.records)) updateBatchCrc(batch);
            validateRecords(pd.records);
            for (const batch of splitBatches(pd.records))
              readRecords(batch, { maxDecompressedBytes: DECOMPRESSED_MAX_BYTES });
          }
        }
      }
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
    }
  }
}

describe('fuzz: mutated golden frames through every request decoder', () => {
  const entries = readIndex();
  const corpus = entries.map((e) => readFrame(e));

  it('only ProtocolError escapes, memory stays bounded', { timeout: SECONDS * 1000 + 60_000 }, async () => {
    console.log(`fuzz: FUZZ_SEED=${SEED} FUZZ_SECONDS=${SECONDS}`);
    expect(corpus.length).toBeGreaterThan(0);
    const apiKeys = [...apiByKey.keys()];
    // Native codecs free their buffers in finalizers that run on the event loop: let it turn.
    const mem = async () => {
      await new Promise((resolve) => setImmediate(resolve));
      collect();
      await new Promise((resolve) => setImmediate(resolve));
      collect();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const baseline = await mem();
    let peak = baseline;
    const deadline = Date.now() + SECONDS * 1000;
    let iterations = 0;
    for (let i = 0; Date.now() < deadline; i++) {
      const caseSeed = (SEED + i) >>> 0;
      const rand = prng(caseSeed);
      const k = Math.floor(rand() * corpus.length);
      let [frame, what] = mutate(rand, corpus[k], corpus);
      if (rand() < 0.3) {
        const [again, what2] = mutate(rand, frame, corpus);
        frame = again;
        what = `${what}; ${what2}`;
      }
      const ownKey = entries[k].apiKey;
      const otherKey = apiKeys[Math.floor(rand() * apiKeys.length)];
      try {
        decodeEverything(frame, ownKey, rand() < 0.5);
        decodeEverything(frame, otherKey, false);
      } catch (err) {
        const msg = `FUZZ_SEED=${SEED} case ${i} (case seed ${caseSeed}): ${entries[k].file} mutated by ${what}: ${String(err)}`;
        console.error(msg, err);
        throw new Error(msg);
      }
      if (i % 4096 === 0) peak = Math.max(peak, await mem());
      iterations = i + 1;
    }
    peak = Math.max(peak, await mem());
    const u = process.memoryUsage();
    const mib = (n: number) => (n / 1048576).toFixed(1);
    console.log(
      `fuzz: seed ${SEED}, ${iterations} cases in ${SECONDS}s, retained growth ${mib(peak - baseline)} MiB (heap ${mib(u.heapUsed)} MiB, array buffers ${mib(u.arrayBuffers)} MiB)`,
    );
    expect(iterations).toBeGreaterThan(0);
    expect(peak - baseline, `FUZZ_SEED=${SEED}: memory grew by ${peak - baseline} bytes`).toBeLessThan(
      MEMORY_GROWTH_MAX_BYTES,
    );
  });
});
