import { describe, expect, it } from 'vitest';
import { validateRecords } from '../../packages/protocol/src/records/index.ts';
import { makeRecordsBuffer } from './fixtures.ts';
import { recordsTasks, runRecordsBench } from './records.bench.ts';

const TINY = {
  crcBytes: 4096,
  records: { batches: 2, recordsPerBatch: 4, valueBytes: 100 },
  codecs: [1, 2, 3, 4] as (1 | 2 | 3 | 4)[],
};

describe('protocol records bench (smoke)', () => {
  it('fixtures are valid record batches', () => {
    const buf = makeRecordsBuffer(TINY.records);
    expect(validateRecords(buf).recordCount).toBe(8);
  });

  it('every task runs', () => {
    for (const t of recordsTasks(TINY)) t.fn();
  });

  it('the suite produces throughput numbers', async () => {
    const results = await runRecordsBench(TINY, { timeMs: 5, warmupMs: 0, iterations: 2 });
    expect(results.length).toBeGreaterThanOrEqual(8);
    for (const r of results) expect(r.gbPerSec).toBeGreaterThan(0);
  });
});
