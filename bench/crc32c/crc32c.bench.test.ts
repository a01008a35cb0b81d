import { describe, expect, it } from 'vitest';
import { crc32cTasks, runCrc32cBench } from './crc32c.bench.ts';

const TINY = { sizes: [64, 1000], minBytesPerCall: 128, chunks: 3, chunkBytes: 100 };

describe('crc32c bench (smoke)', () => {
  it('every task runs', () => {
    for (const t of crc32cTasks(TINY)) t.fn();
  });

  it('the suite produces throughput numbers', async () => {
    const results = await runCrc32cBench(TINY, { timeMs: 5, warmupMs: 0, iterations: 2 });
    expect(results.length).toBeGreaterThanOrEqual(2 * 3 + 2);
    for (const r of results) expect(r.gbPerSec).toBeGreaterThan(0);
  });
});
