/**
 * Random sequences of reserve/append/seal/free/fetch against a simple model of the log cache.
 * Checks after every step: fetch results (same Buffer objects), stream ranges, stats, the
 * cache's own invariants, and that held + reserved bytes never exceed bytesMax.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CachedBatch, LogCache } from '../src/cache/log-cache.ts';

const BYTES_MAX = 200;

type Cmd =
  | { t: 'append'; stream: number; count: number; size: number }
  | { t: 'seal' }
  | { t: 'free' }
  | { t: 'freeWrong'; skip: number }
  | { t: 'fetch'; stream: number; back: number; maxBytes: number; exactK: number | null };

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    arbitrary: fc.record({
      t: fc.constant('append' as const),
      stream: fc.integer({ min: 0, max: 3 }),
      count: fc.integer({ min: 1, max: 3 }),
      size: fc.integer({ min: 0, max: 90 }),
    }),
    weight: 5,
  },
  { arbitrary: fc.constant({ t: 'seal' as const }), weight: 1 },
  { arbitrary: fc.constant({ t: 'free' as const }), weight: 1 },
  {
    arbitrary: fc.record({ t: fc.constant('freeWrong' as const), skip: fc.integer({ min: 1, max: 3 }) }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      t: fc.constant('fetch' as const),
      stream: fc.integer({ min: 0, max: 4 }),
      back: fc.integer({ min: -2, max: 12 }),
      maxBytes: fc.integer({ min: 0, max: 150 }),
      // When set, maxBytes is exactly the size of the first k batches (boundary case).
      exactK: fc.option(fc.integer({ min: 1, max: 4 })),
    }),
    weight: 3,
  },
);

interface ModelBatch {
  entry: CachedBatch;
  block: number;
}

/** Resolves after pending promise callbacks have run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

class Model {
  readonly batches = new Map<number, ModelBatch[]>(); // per stream, not yet freed
  readonly ends = new Map<number, number>();
  readonly starts = new Map<number, number>();
  readonly sealedIds: number[] = [];
  readonly blockBytes = new Map<number, number>();
  readonly blockWalEnd = new Map<number, number>();
  activeBlock = 1;
  nextBlock = 2;
  used = 0;

  expectedFetch(stream: number, start: number, maxBytes: number): CachedBatch[] | undefined {
    const list = this.batches.get(stream) ?? [];
    const s = this.starts.get(stream);
    if (s === undefined || start < s) return undefined;
    const out: CachedBatch[] = [];
    let bytes = 0;
    for (const { entry } of list) {
      if (entry.baseOffset + entry.count <= start) continue;
      if (out.length > 0 && bytes + entry.batch.length > maxBytes) break;
      out.push(entry);
      bytes += entry.batch.length;
    }
    return out;
  }

  free(): number {
    const id = this.sealedIds.shift()!;
    this.used -= this.blockBytes.get(id)!;
    for (const [stream, list] of this.batches) {
      const kept = list.filter((b) => b.block !== id);
      const gone = list.filter((b) => b.block === id);
      if (gone.length > 0) {
        const last = gone[gone.length - 1]!.entry;
        this.starts.set(stream, last.baseOffset + last.count);
      }
      this.batches.set(stream, kept);
    }
    return this.blockWalEnd.get(id)!;
  }
}

async function run(cmds: Cmd[]): Promise<void> {
  const cache = new LogCache({ bytesMax: BYTES_MAX, blockBytesTarget: 80 });
  const model = new Model();
  let wal = 0;
  const check = (): void => {
    cache.assertInvariants();
    const st = cache.stats();
    expect(st.bytes).toBe(model.used);
    expect(st.bytes + st.reservedBytes).toBeLessThanOrEqual(BYTES_MAX);
    expect(st.sealedCount).toBe(model.sealedIds.length);
    for (const [stream, end] of model.ends) {
      expect(cache.streamEnd(stream)).toBe(end);
      expect(cache.streamStart(stream)).toBe(model.starts.get(stream));
    }
  };
  for (const cmd of cmds) {
    if (cmd.t === 'append') {
      const reserved = cache.reserve(cmd.size);
      let ready = false;
      reserved.then(() => {
        ready = true;
      });
      await settle();
      // The reservation waits exactly while the held bytes leave no room; freeing sealed
      // blocks (sealing first if needed) in order eventually makes room.
      while (!ready) {
        expect(model.used + cmd.size).toBeGreaterThan(BYTES_MAX);
        if (model.sealedIds.length === 0) {
          const s = cache.seal()!;
          model.sealedIds.push(s.id);
          model.activeBlock = model.nextBlock++;
        }
        expect(cache.free(model.sealedIds[0]!)).toBe(model.blockWalEnd.get(model.sealedIds[0]!));
        model.free();
        await settle();
        check();
      }
      expect(model.used + cmd.size).toBeLessThanOrEqual(BYTES_MAX);
      const base = model.ends.get(cmd.stream) ?? cmd.stream * 1000;
      const batch = Buffer.alloc(cmd.size, cmd.stream);
      const walNext = wal + cmd.size + 1;
      cache.append(cmd.stream, base, cmd.count, batch, wal, walNext);
      const entry = cache.fetch(cmd.stream, base, 0)![0]!;
      expect(entry.batch).toBe(batch);
      const list = model.batches.get(cmd.stream) ?? [];
      list.push({ entry, block: model.activeBlock });
      model.batches.set(cmd.stream, list);
      if (!model.starts.has(cmd.stream)) model.starts.set(cmd.stream, base);
      model.ends.set(cmd.stream, base + cmd.count);
      model.used += cmd.size;
      model.blockBytes.set(model.activeBlock, (model.blockBytes.get(model.activeBlock) ?? 0) + cmd.size);
      model.blockWalEnd.set(model.activeBlock, walNext);
      wal = walNext;
    } else if (cmd.t === 'seal') {
      const s = cache.seal();
      if (!model.blockWalEnd.has(model.activeBlock)) {
        expect(s).toBeUndefined();
      } else {
        expect(s!.id).toBe(model.activeBlock);
        expect(s!.bytes).toBe(model.blockBytes.get(model.activeBlock));
        expect(s!.walEnd).toBe(model.blockWalEnd.get(model.activeBlock));
        model.sealedIds.push(s!.id);
        model.activeBlock = model.nextBlock++;
      }
    } else if (cmd.t === 'free') {
      if (model.sealedIds.length === 0) continue;
      expect(cache.free(model.sealedIds[0]!)).toBe(model.free());
    } else if (cmd.t === 'freeWrong') {
      const wrong = (model.sealedIds[0] ?? model.activeBlock) + cmd.skip;
      expect(() => cache.free(wrong)).toThrow(/out of order/);
    } else {
      const end = model.ends.get(cmd.stream) ?? 0;
      const start = Math.max(0, end - cmd.back);
      let maxBytes = cmd.maxBytes;
      if (cmd.exactK !== null) {
        const all = model.expectedFetch(cmd.stream, start, Number.MAX_SAFE_INTEGER) ?? [];
        maxBytes = all.slice(0, cmd.exactK).reduce((n, b) => n + b.batch.length, 0);
      }
      const got = cache.fetch(cmd.stream, start, maxBytes);
      const want = model.expectedFetch(cmd.stream, start, maxBytes);
      if (want !== undefined && cmd.exactK !== null) {
        const avail = model.expectedFetch(cmd.stream, start, Number.MAX_SAFE_INTEGER)!.length;
        // Zero-byte batches past the k-th still fit, so at least k come back.
        expect(want.length).toBeGreaterThanOrEqual(Math.min(cmd.exactK, avail));
      }
      if (want === undefined) expect(got).toBeUndefined();
      else expect(got?.map((b) => b.batch)).toEqual(want.map((b) => b.batch));
      // Identity, not just equal contents.
      for (const [i, b] of (got ?? []).entries()) expect(b.batch).toBe(want![i]!.batch);
    }
    check();
  }
}

describe('LogCache against a model', () => {
  it('random append/seal/free/fetch sequences keep order, continuity and the memory bound', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmdArb, { minLength: 1, maxLength: 80 }), (cmds) => run(cmds)),
      { numRuns: 200 },
    );
  });
});
