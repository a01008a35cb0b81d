/**
 * Test helpers: turn the record batches of a Produce request into fixture-shaped records,
 * using the protocol package's RecordBatch reader and decompression.
 */
import type { ProduceRequest } from '../../packages/protocol/src/generated/index.ts';
import {
  type RecordBatchHeader,
  readBatchHeader,
  readRecords,
  splitBatches,
  validateRecords,
} from '../../packages/protocol/src/records/index.ts';
import type { FixtureRecord } from './fixture.ts';

/** Records and batch headers found in one partition's records blob. */
export interface DecodedBatches {
  batches: RecordBatchHeader[];
  records: FixtureRecord[];
}

/** Validates (CRC, framing) and decodes every batch of a records blob. */
export function decodeBatches(blob: Buffer): DecodedBatches {
  validateRecords(blob);
  const batches: RecordBatchHeader[] = [];
  const records: FixtureRecord[] = [];
  for (const batch of splitBatches(blob)) {
    batches.push(readBatchHeader(batch));
    for (const r of readRecords(batch)) {
      records.push({
        key: r.key === null ? null : r.key.toString('utf8'),
        value: r.value === null ? null : r.value.toString('utf8'),
        headers: r.headers.map((h) => ({
          key: h.key,
          value: h.value === null ? '' : h.value.toString('utf8'),
        })),
        timestampMs: r.timestamp,
      });
    }
  }
  return { batches, records };
}

/** The single records blob of a Produce request (one topic, one partition expected). */
export function produceBlob(req: ProduceRequest): { topic: string; partition: number; blob: Buffer } {
  if (req.topicData.length !== 1) throw new Error(`expected 1 topic, got ${req.topicData.length}`);
  const td = req.topicData[0];
  if (td.partitionData.length !== 1) throw new Error(`expected 1 partition, got ${td.partitionData.length}`);
  const pd = td.partitionData[0];
  if (pd.records === null) throw new Error('null records');
  return { topic: td.name, partition: pd.index, blob: pd.records };
}

/** Drops timestamps (for clients that cannot set them, i.e. kcat). */
export function withoutTimestamps(records: FixtureRecord[]): Omit<FixtureRecord, 'timestampMs'>[] {
  return records.map(({ timestampMs: _t, ...rest }) => rest);
}
