/**
 * Micro-benchmarks for the produce-path work on record batches: CRC-32C (native and pure),
 * validating a `records` field (framing + CRC per batch), splitting it into batches, assigning
 * offsets in place, and (off the hot path) decoding records, plain and compressed.
 *
 * Run: pnpm tsx bench/protocol/records.bench.ts [--quick]
 * Writes bench/results/protocol-records.json. Other suites can reuse `recordsTasks` and the
 * fixtures in ./fixtures.ts and the harness in ./harness.ts.
 */
import { fileURLToPath } from 'node:url';
import type { CompressionCodec } from '../../packages/protocol/src/compression/index.ts';
import { crc32cImplementation, crc32cNative, crc32cPure } from '../../packages/protocol/src/crc32c.ts';
import {
  iterateBatches,
  iterateRecords,
  setBaseOffset,
  setPartitionLeaderEpoch,
  validateRecords,
} from '../../packages/protocol/src/records/index.ts';
import { makeRecordsBuffer, ONE_MIB_RECORDS, type RecordsFixtureParams, randomBytes } from './fixtures.ts';
import {
  printResults,
  runThroughputSuite,
  type SuiteOptions,
  type ThroughputTask,
  writeResults,
} from './harness.ts';

/** Sizes for the suite; the smoke test passes tiny ones. */
export interface RecordsBenchParams {
  crcBytes: number;
  records: RecordsFixtureParams;
  /** Codecs to benchmark record decoding with (besides none). */
  codecs: CompressionCodec[];
}

export const DEFAULT_PARAMS: RecordsBenchParams = {
  crcBytes: 1 << 20,
  records: ONE_MIB_RECORDS,
  codecs: [3, 4],
};

const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** Builds the tasks of this suite (fixtures are built once, here). */
export function recordsTasks(params: RecordsBenchParams = DEFAULT_PARAMS): ThroughputTask[] {
  const tasks: ThroughputTask[] = [];
  const data = randomBytes(params.crcBytes);
  const native = crc32cNative();
  if (native !== null) tasks.push({ name: 'crc32c native', bytes: data.length, fn: () => native(data) });
  tasks.push({ name: 'crc32c pure-ts', bytes: data.length, fn: () => crc32cPure(data) });

  const records = makeRecordsBuffer(params.records);
  tasks.push({
    name: 'validate records (framing + CRC)',
    bytes: records.length,
    fn: () => validateRecords(records),
  });
  tasks.push({
    name: 'iterate batches',
    bytes: records.length,
    fn: () => {
      let n = 0;
      for (const _ of iterateBatches(records)) n++;
      return n;
    },
  });
  let next = 0n;
  tasks.push({
    name: 'assign offsets in place',
    bytes: records.length,
    fn: () => {
      for (const b of iterateBatches(records)) {
        setBaseOffset(b, next);
        setPartitionLeaderEpoch(b, 1);
        next += 64n;
      }
    },
  });
  for (const codec of [0, ...params.codecs] as CompressionCodec[]) {
    const buf = codec === 0 ? records : makeRecordsBuffer({ ...params.records, compression: codec });
    tasks.push({
      name: `decode records (${CODEC_NAMES[codec]})`,
      bytes: records.length, // uncompressed bytes, so codecs compare on the same payload
      fn: () => {
        let n = 0;
        for (const b of iterateBatches(buf)) for (const _ of iterateRecords(b)) n++;
        return n;
      },
    });
  }
  return tasks;
}

/** Runs the suite and returns its results. */
export async function runRecordsBench(
  params: RecordsBenchParams = DEFAULT_PARAMS,
  options: SuiteOptions = {},
) {
  return runThroughputSuite(recordsTasks(params), options);
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const results = await runRecordsBench(DEFAULT_PARAMS, quick ? { timeMs: 200, warmupMs: 50 } : {});
  printResults(`protocol records (crc32c: ${crc32cImplementation()})`, results);
  const out = fileURLToPath(new URL('../results/protocol-records.json', import.meta.url));
  writeResults(out, 'protocol-records', results, { crc32c: crc32cImplementation(), params: DEFAULT_PARAMS });
  console.log(`wrote ${out}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
