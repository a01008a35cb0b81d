/**
 * The produce and fetch paths at the wire level, against bare CRC-32C in the same run:
 *  - decode + validate a Produce request (v9, flexible) carrying 1 MiB of records: header and
 *    body decoding with the generated codecs, then framing + CRC-32C of every batch;
 *  - the same plus offset assignment in place and re-encoding the request (records by
 *    reference, so the output is a buffer list that shares the input's memory);
 *  - encode and decode + validate a Fetch response (v12) carrying 1 MiB of records.
 * Goal (issue 2): decode + validate of the Produce request >= 50% of bare CRC-32C throughput.
 *
 * Run: pnpm tsx bench/protocol/wire.bench.ts [--quick]   → bench/results/protocol-wire.json
 */
import { fileURLToPath } from 'node:url';
import {
  crc32c,
  crc32cImplementation,
  decodeRequest,
  decodeResponse,
  defaultFetchResponseEpochEndOffset,
  defaultFetchResponseLeaderIdAndEpoch,
  defaultFetchResponseSnapshotId,
  encodeRequest,
  encodeResponse,
  type FetchResponse,
  iterateBatches,
  type ProduceRequest,
  setBaseOffset,
  setPartitionLeaderEpoch,
  validateRecords,
} from '../../packages/protocol/src/index.ts';
import { makeRecordsBuffer, ONE_MIB_RECORDS, type RecordsFixtureParams } from './fixtures.ts';
import {
  printResults,
  runThroughputSuite,
  type SuiteOptions,
  type ThroughputResult,
  type ThroughputTask,
  writeResults,
} from './harness.ts';

export interface WireBenchParams {
  records: RecordsFixtureParams;
  /** Partitions the records are spread over (each gets the whole fixture / partitions). */
  partitions: number;
}

export const DEFAULT_WIRE_PARAMS: WireBenchParams = { records: ONE_MIB_RECORDS, partitions: 1 };

const PRODUCE_VERSION = 9;
const FETCH_VERSION = 12;

/** A Produce request frame (without its size prefix) and the record bytes it carries. */
export function makeProduceFrame(params: WireBenchParams): { frame: Buffer; recordBytes: number } {
  const perPartition = {
    ...params.records,
    batches: Math.max(1, Math.floor(params.records.batches / params.partitions)),
  };
  const partitionData = [];
  let recordBytes = 0;
  for (let p = 0; p < params.partitions; p++) {
    const records = makeRecordsBuffer({ ...perPartition, seed: 100 + p });
    recordBytes += records.length;
    partitionData.push({ index: p, records });
  }
  const body: ProduceRequest = {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30_000,
    topicData: [{ name: 'bench-topic', partitionData }],
  };
  const header = {
    requestApiKey: 0,
    requestApiVersion: PRODUCE_VERSION,
    correlationId: 7,
    clientId: 'bench',
  };
  const frame = Buffer.concat(encodeRequest(header, body)).subarray(4);
  return { frame, recordBytes };
}

/** Decodes a Produce frame and validates every batch; returns the decoded request. */
export function decodeAndValidateProduce(frame: Buffer): ProduceRequest {
  const { body } = decodeRequest<ProduceRequest>(frame);
  for (const t of body.topicData) for (const p of t.partitionData) if (p.records) validateRecords(p.records);
  return body;
}

/** Decode + validate + assign offsets in place + re-encode (zero-copy buffer list). */
export function produceRoundTrip(frame: Buffer, nextOffset: { value: bigint }): Buffer[] {
  const decoded = decodeRequest<ProduceRequest>(frame);
  for (const t of decoded.body.topicData) {
    for (const p of t.partitionData) {
      if (!p.records) continue;
      const summary = validateRecords(p.records);
      let i = 0;
      for (const b of iterateBatches(p.records)) {
        setBaseOffset(b, nextOffset.value);
        setPartitionLeaderEpoch(b, 3);
        nextOffset.value += BigInt(summary.headers[i++].lastOffsetDelta + 1);
      }
    }
  }
  return encodeRequest(decoded.header, decoded.body);
}

/** A Fetch response body carrying the given records in one partition per buffer. */
export function makeFetchResponse(recordSets: Buffer[]): FetchResponse {
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    nodeEndpoints: [],
    responses: [
      {
        topic: 'bench-topic',
        topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
        partitions: recordSets.map((records, partitionIndex) => ({
          partitionIndex,
          errorCode: 0,
          highWatermark: 1_000_000n,
          lastStableOffset: 1_000_000n,
          logStartOffset: 0n,
          divergingEpoch: defaultFetchResponseEpochEndOffset(),
          currentLeader: defaultFetchResponseLeaderIdAndEpoch(),
          snapshotId: defaultFetchResponseSnapshotId(),
          abortedTransactions: [],
          preferredReadReplica: -1,
          records,
        })),
      },
    ],
  };
}

export function decodeAndValidateFetch(frame: Buffer): FetchResponse {
  const { body } = decodeResponse<FetchResponse>(1, FETCH_VERSION, frame);
  for (const t of body.responses) for (const p of t.partitions) if (p.records) validateRecords(p.records);
  return body;
}

export function wireTasks(params: WireBenchParams = DEFAULT_WIRE_PARAMS): ThroughputTask[] {
  const { frame, recordBytes } = makeProduceFrame(params);
  const crcInput = Buffer.from(frame.subarray(0, recordBytes));
  const fetchRecords = decodeAndValidateProduce(frame).topicData[0].partitionData.map((p) => p.records!);
  const fetchBody = makeFetchResponse(fetchRecords);
  const fetchFrame = Buffer.concat(encodeResponse(1, FETCH_VERSION, 9, fetchBody)).subarray(4);
  const nextOffset = { value: 0n };
  return [
    { name: 'crc32c (baseline)', bytes: recordBytes, fn: () => crc32c(crcInput) },
    { name: 'produce: decode + validate', bytes: recordBytes, fn: () => decodeAndValidateProduce(frame) },
    {
      name: 'produce: decode + validate + offsets + re-encode',
      bytes: recordBytes,
      fn: () => produceRoundTrip(frame, nextOffset),
    },
    {
      name: 'fetch response: encode',
      bytes: recordBytes,
      fn: () => encodeResponse(1, FETCH_VERSION, 9, fetchBody),
    },
    {
      name: 'fetch response: decode + validate',
      bytes: recordBytes,
      fn: () => decodeAndValidateFetch(fetchFrame),
    },
  ];
}

/** GB/s of each task divided by the CRC-32C baseline's, from one run. */
export function ratiosToCrc(results: readonly ThroughputResult[]): Record<string, number> {
  const base = results.find((r) => r.name === 'crc32c (baseline)')!.gbPerSec;
  return Object.fromEntries(results.map((r) => [r.name, +(r.gbPerSec / base).toFixed(3)]));
}

export async function runWireBench(
  params: WireBenchParams = DEFAULT_WIRE_PARAMS,
  options: SuiteOptions = {},
) {
  return runThroughputSuite(wireTasks(params), options);
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const runs: Record<string, unknown> = {};
  const all: ThroughputResult[] = [];
  for (const partitions of [1, 8]) {
    const params = { ...DEFAULT_WIRE_PARAMS, partitions };
    const results = await runWireBench(params, quick ? { timeMs: 200, warmupMs: 50 } : {});
    const ratios = ratiosToCrc(results);
    printResults(
      `protocol wire, 1 MiB over ${partitions} partition(s) (crc32c: ${crc32cImplementation()})`,
      results,
    );
    console.log('ratio to crc32c:', ratios);
    runs[`partitions=${partitions}`] = { ratios };
    for (const r of results) all.push({ ...r, name: `[${partitions}p] ${r.name}` });
  }
  const out = fileURLToPath(new URL('../results/protocol-wire.json', import.meta.url));
  writeResults(out, 'protocol-wire', all, { crc32c: crc32cImplementation(), runs });
  console.log(`wrote ${out}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
