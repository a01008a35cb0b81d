/**
 * The stream fault suite on a real S3-compatible server (moto_server, see s3-server.ts) behind
 * a FaultyObjectStore, with a FileWal and an EmbeddedMetadataStore in temp directories
 * (scenarios in faults/scenarios.ts). Each test uses its own key prefix in the bucket.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs } from './faults/env.ts';
import { backpressureWhileStalled, errorsDuringUploads } from './faults/scenarios.ts';
import { useS3Server } from './s3-server.ts';

const server = useS3Server('tributary-faults');
afterAll(removeTempDirs);

describe('stream faults (moto S3)', () => {
  it('503/429, resets, failures after write and latency during uploads lose nothing', {
    timeout: 90_000,
  }, async () => {
    const s3 = server().store({ prefix: 'errors' });
    try {
      const r = await errorsDuringUploads(s3, 31, { batches: 200, maxBytes: 3000 });
      console.log(`s3 faults: ${JSON.stringify(r)}`);
    } finally {
      await s3.close();
    }
  });

  it('backpressure while uploads stall: bounded cache, nothing fails, all resolves on resume', {
    timeout: 90_000,
  }, async () => {
    const s3 = server().store({ prefix: 'stall' });
    try {
      const r = await backpressureWhileStalled(s3, 41, { appends: 150, holdMs: 1500 });
      console.log(`s3 backpressure: ${JSON.stringify(r)}`);
      expect(r.maxCacheBytes).toBeGreaterThan(32 * 1024);
    } finally {
      await s3.close();
    }
  });
});
