/**
 * Faults on the wire to a real S3-compatible server: a {@link FaultProxy} between the S3
 * client and moto answers 503, resets connections before forwarding, or forwards and then
 * resets (the request took effect, the answer is lost) — on every kind of request, the parts
 * of multipart uploads included. Large objects (multipart), small ones, reads, compaction
 * (whole-object GETs, multipart PUTs), a crash and garbage collection (DELETEs) all go through
 * it; every acknowledged batch must read back exactly once.
 */
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { expect } from 'vitest';
import { type S3TestServer, TEST_CREDENTIALS } from '../s3-server.ts';
import { Proc, tempDir } from './env.ts';
import { FaultProxy, type ProxyFaultRates } from './http-proxy.ts';
import { expectCommittedExactly, listKeys, references, unreferencedKeys } from './inspect.ts';
import { appendMany, expectStreamMatches, Ledger, openAll, readAll, rngOf } from './workload.ts';

const IDS = [1, 2, 3] as const;
const MiB = 1024 * 1024;

/** Runs the scenario on `server` under `prefix`; returns the proxy's counters. */
export async function s3NetworkFaults(
  server: S3TestServer,
  prefix: string,
  seed: number,
  rates: ProxyFaultRates = { slowDown: 0.08, resetBefore: 0.06, resetAfter: 0.06, maxLatencyMs: 3 },
  requestTimeoutMs = 20_000,
): Promise<FaultProxy['counters'] & { lingeringMultipartUploads: number }> {
  let lingering = 0;
  const proxy = await FaultProxy.start(server.endpoint, rates, seed);
  const multipart = { multipartThresholdBytes: 6 * MiB, partSizeBytes: 5 * MiB };
  const s3 = server.store({ endpoint: proxy.endpoint, prefix, requestTimeoutMs, ...multipart });
  const direct = server.store({ prefix });
  const dir = await tempDir('net');
  const rng = rngOf(seed);
  const ledger = new Ledger();
  const options = {
    dir,
    objectStore: s3,
    walBytes: 64 * MiB,
    store: {
      cacheBytesMax: 32 * MiB,
      uploadBytesThreshold: 16 * MiB,
      blockBytesTarget: 512 * 1024,
      uploadIntervalMs: 0,
      garbageRetentionMs: 0,
    },
  };
  let proc = await Proc.start(options);
  try {
    const streams = await openAll(proc.store, IDS, 1);
    // A large object (multipart: > 6 MiB), then small ones.
    await appendMany(streams, rng, ledger, {
      batches: 50,
      window: 8,
      minBytes: 150 * 1024,
      maxBytes: 250 * 1024,
      tag: 'big',
    });
    await proc.store.flush();
    for (let round = 0; round < 3; round++) {
      await appendMany(streams, rng, ledger, {
        batches: 60,
        window: 8,
        minBytes: 1,
        maxBytes: 4000,
        tag: `small${round}`,
      });
      await proc.store.flush();
    }
    expect(ledger.failures).toEqual([]);
    for (const s of streams) await expectStreamMatches(s, ledger);
    expect(proc.store.error).toBeUndefined();
    // Merge everything (whole-object GETs; the output is multipart again); inputs deleted at once.
    const st = await proc.store.compact();
    expect(st.inputObjects).toBeGreaterThan(1);
    for (const s of streams) await expectStreamMatches(s, ledger);
    await appendMany(streams, rng, ledger, {
      batches: 40,
      window: 8,
      minBytes: 1,
      maxBytes: 4000,
      tag: 'late',
    });
    await proc.crash();
    proc = await Proc.start(options);
    expect(proc.store.recovery.replayed).toBeGreaterThan(0);
    for (const s of await openAll(proc.store, IDS, 2)) {
      await expectStreamMatches(s, ledger);
      await expectCommittedExactly(proc.metaStore, s.id, ledger.end(s.id));
    }
    await proc.store.compact();
    const have = new Set(await listKeys(direct));
    for (const k of (await references(proc.metaStore)).live) expect(have.has(k), `missing ${k}`).toBe(true);
    expect(await unreferencedKeys(direct, proc.metaStore)).toEqual([]);
    const c = proxy.counters;
    // Multipart uploads the store started and neither completed nor aborted (a lost abort).
    const client = new S3Client({
      region: 'us-east-1',
      endpoint: server.endpoint,
      forcePathStyle: true,
      credentials: TEST_CREDENTIALS,
    });
    try {
      const open = await client.send(
        new ListMultipartUploadsCommand({ Bucket: server.bucket, Prefix: `${prefix}/` }),
      );
      lingering = open.Uploads?.length ?? 0;
    } finally {
      client.destroy();
    }
    expect(c.byKind['PUT part'] ?? 0).toBeGreaterThan(1);
    expect(c.slowDown + c.resetBefore + c.resetAfter + c.blackHole).toBeGreaterThan(3);
    return { ...c, lingeringMultipartUploads: lingering };
  } finally {
    await proc.stop().catch(() => {});
    await s3.close();
    await direct.close();
    await proxy.close();
  }
}

/**
 * The S3 endpoint goes away (connection refused) for `outageMs` while appends go on: uploads
 * retry, the store does not fail, reads of cached data still work; when it comes back on the
 * same address everything commits.
 */
export async function s3ConnectionRefused(
  server: S3TestServer,
  prefix: string,
  seed: number,
  outageMs: number,
): Promise<{ requests: number; recoverMs: number }> {
  const proxy = await FaultProxy.start(server.endpoint, {}, seed);
  const s3 = server.store({ endpoint: proxy.endpoint, prefix, connectionTimeoutMs: 1_000 });
  const dir = await tempDir('refused');
  const rng = rngOf(seed);
  const ledger = new Ledger();
  const options = { dir, objectStore: s3, store: { uploadIntervalMs: 20 } };
  let proc = await Proc.start(options);
  try {
    const streams = await openAll(proc.store, IDS, 1);
    await appendMany(streams, rng, ledger, { batches: 60, window: 8, minBytes: 1, maxBytes: 2000, tag: 'a' });
    await proc.store.flush();
    await proxy.goAway();
    await appendMany(streams, rng, ledger, { batches: 60, window: 8, minBytes: 1, maxBytes: 2000, tag: 'b' });
    let flushError: unknown;
    const flush = proc.store.flush().catch((err: unknown) => {
      flushError = err;
    });
    const until = Date.now() + outageMs;
    while (Date.now() < until) {
      expect(proc.store.error).toBeUndefined();
      await new Promise((r) => setTimeout(r, 50));
    }
    // The batches not uploaded yet are served from the log cache meanwhile (no retries here:
    // a read that needs the object store would fail).
    for (const s of streams) {
      const cached = (ledger.byStream.get(s.id) ?? []).filter((a) => a.baseOffset >= s.committedOffset);
      const got = await readAll(s, s.committedOffset, 8 * 1024, 0);
      expect(got.map((a) => a.data.toString('hex'))).toEqual(cached.map((a) => a.data.toString('hex')));
    }
    const back = Date.now();
    await proxy.comeBack();
    await flush;
    const recoverMs = Date.now() - back;
    expect(flushError).toBeUndefined();
    for (const s of streams) expect(s.committedOffset).toBe(s.endOffset);
    await proc.crash();
    proc = await Proc.start(options);
    for (const s of await openAll(proc.store, IDS, 2)) {
      await expectStreamMatches(s, ledger);
      await expectCommittedExactly(proc.metaStore, s.id, ledger.end(s.id));
    }
    return { requests: proxy.counters.requests, recoverMs };
  } finally {
    await proc.stop().catch(() => {});
    await s3.close();
    await proxy.close();
  }
}
