/**
 * CRC-32C throughput by input size: this repository's N-API addon (its chosen engine, and each
 * engine the CPU has), the dispatching `crc32c()` (pure TS below 64 bytes), `@node-rs/crc32`,
 * and pure TypeScript; plus `crc32cv` over a chunk list. Small sizes are looped inside one task
 * call so tinybench's own per-call cost does not dominate.
 *
 * Run: pnpm tsx bench/crc32c/crc32c.bench.ts [--quick]
 * Writes bench/results/crc32c.json.
 */
import { fileURLToPath } from 'node:url';
import {
  crc32c,
  crc32cImplementation,
  crc32cPure,
  crc32cv,
  loadNativeAddon,
  loadNodeRs,
} from '../../packages/crc32c/src/index.ts';
import { randomBytes } from '../protocol/fixtures.ts';
import {
  printResults,
  runThroughputSuite,
  type SuiteOptions,
  type ThroughputTask,
  writeResults,
} from '../protocol/harness.ts';

/** Sizes for the suite; the smoke test passes tiny ones. */
export interface Crc32cBenchParams {
  sizes: number[];
  /** Bytes processed per task call at least (small sizes repeat). */
  minBytesPerCall: number;
  /** crc32cv task: this many chunks of `chunkBytes`. */
  chunks: number;
  chunkBytes: number;
}

export const DEFAULT_PARAMS: Crc32cBenchParams = {
  sizes: [64, 1024, 16 * 1024, 1 << 20],
  minBytesPerCall: 64 * 1024,
  chunks: 64,
  chunkBytes: 16 * 1024,
};

function sizeName(n: number): string {
  if (n >= 1 << 20) return `${n / (1 << 20)} MiB`;
  if (n >= 1024) return `${n / 1024} KiB`;
  return `${n} B`;
}

/** Builds the tasks of this suite (inputs are built once, here). */
export function crc32cTasks(params: Crc32cBenchParams = DEFAULT_PARAMS): ThroughputTask[] {
  const addon = loadNativeAddon();
  const nodeRs = loadNodeRs();
  const impls: [string, (b: Uint8Array) => number][] = [];
  if (addon !== null) {
    impls.push([`own addon (${addon.engine})`, (b) => addon.crc32c(b, 0)]);
    for (const e of addon.engines)
      if (e !== addon.engine && e !== 'table')
        impls.push([`own addon (${e})`, (b) => addon.withEngine(e, b, 0)]);
  }
  impls.push([`crc32c() [${crc32cImplementation()}]`, (b) => crc32c(b)]);
  if (nodeRs !== null) impls.push(['@node-rs/crc32', (b) => nodeRs(b)]);
  impls.push(['pure-ts', (b) => crc32cPure(b)]);

  const tasks: ThroughputTask[] = [];
  for (const size of params.sizes) {
    const reps = Math.max(1, Math.ceil(params.minBytesPerCall / size));
    // Offset by 1 so the unaligned head path is part of every measurement.
    const data = randomBytes(size + 1).subarray(1);
    for (const [name, fn] of impls) {
      tasks.push({
        name: `${sizeName(size)}: ${name}`,
        bytes: size * reps,
        fn: () => {
          let c = 0;
          for (let i = 0; i < reps; i++) c ^= fn(data);
          return c;
        },
      });
    }
  }
  const chunks = Array.from({ length: params.chunks }, () => randomBytes(params.chunkBytes));
  const total = params.chunks * params.chunkBytes;
  const label = `${params.chunks} x ${sizeName(params.chunkBytes)}`;
  tasks.push({ name: `${label}: crc32cv`, bytes: total, fn: () => crc32cv(chunks) });
  tasks.push({
    name: `${label}: crc32c chained`,
    bytes: total,
    fn: () => {
      let c = 0;
      for (const b of chunks) c = crc32c(b, c);
      return c;
    },
  });
  return tasks;
}

/** Runs the suite and returns its results. */
export async function runCrc32cBench(params: Crc32cBenchParams = DEFAULT_PARAMS, options: SuiteOptions = {}) {
  return runThroughputSuite(crc32cTasks(params), options);
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const results = await runCrc32cBench(DEFAULT_PARAMS, quick ? { timeMs: 200, warmupMs: 50 } : {});
  const engine = loadNativeAddon()?.engine ?? 'none';
  printResults(`crc32c (implementation: ${crc32cImplementation()}, addon engine: ${engine})`, results);
  const out = fileURLToPath(new URL('../results/crc32c.json', import.meta.url));
  writeResults(out, 'crc32c', results, {
    implementation: crc32cImplementation(),
    addonEngine: engine,
    params: DEFAULT_PARAMS,
  });
  console.log(`wrote ${out}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
