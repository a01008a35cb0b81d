/**
 * The stream fault suite on a MemoryObjectStore behind a FaultyObjectStore, with a FileWal
 * and an EmbeddedMetadataStore in temp directories (scenarios in faults/scenarios.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../src/object-store/memory.ts';
import { removeTempDirs } from './faults/env.ts';
import { backpressureWhileStalled, errorsDuringUploads } from './faults/scenarios.ts';

afterAll(removeTempDirs);

describe('stream faults (memory object store)', () => {
  for (const seed of [11, 12]) {
    it(`503/429, resets, failures after write and latency during uploads lose nothing (seed ${seed})`, {
      timeout: 60_000,
    }, async () => {
      const r = await errorsDuringUploads(new MemoryObjectStore(), seed, { batches: 400, maxBytes: 3000 });
      console.log(`faults seed ${seed}: ${JSON.stringify(r)}`);
    });
  }

  it('backpressure while uploads stall: bounded cache, nothing fails, all resolves on resume', {
    timeout: 60_000,
  }, async () => {
    const r = await backpressureWhileStalled(new MemoryObjectStore(), 21, { appends: 300, holdMs: 1500 });
    console.log(`backpressure: ${JSON.stringify(r)}`);
    expect(r.maxCacheBytes).toBeGreaterThan(32 * 1024);
  });
});
