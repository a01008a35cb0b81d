/**
 * Measurement 1: object-storage requests (and metadata transactions) per GiB ingested, for
 * 1, 100 and 1000 streams at equal bytes. A StreamStore on a MemoryWal, a counting
 * MemoryMetadataStore and a counting object store (by default over a store that discards the
 * bodies, so a GiB of ingest does not stay in memory) takes the same seeded list of 16–64 KiB
 * batches, dealt round-robin over the N streams with a bounded number of appends in flight,
 * then a flush. Objects are sealed by bytes, not by stream, so the PUT count must not grow
 * with N.
 */

import {
  MemoryMetadataStore,
  MemoryObjectStore,
  type ObjectStore,
  type Stream,
  StreamStore,
} from '../../packages/stream/src/index.ts';
import { createMemoryWalStore, MemoryWal } from '../../packages/wal/src/index.ts';
import { batchSizes, errorText, GiB, payload, recordsOf, round, secondsSince, windowed } from './common.ts';
import {
  CountingMetadataStore,
  CountingObjectStore,
  DiscardingObjectStore,
  type MetadataCounts,
  type ObjectStoreCounts,
  type PutThrottle,
  totalRequests,
} from './counting.ts';

export interface RequestsParams {
  streamCounts: number[];
  /** Bytes of batch data ingested per stream count. */
  totalBytes: number;
  batchMinBytes: number;
  batchMaxBytes: number;
  uploadBytesThreshold: number;
  cacheBytesMax: number;
  /** Appends in flight at once. */
  window: number;
  seed: number;
  /** `discard` keeps only object sizes; `memory` keeps the data and reads a sample back. */
  objectStore: 'discard' | 'memory';
  /**
   * Extra cells on a discarding store whose PUTs are slow (fixed latency + bandwidth), so the
   * appends outrun the uploads and the log cache applies backpressure, as with real S3.
   */
  throttled?: { streamCounts: number[]; put: PutThrottle; totalBytes: number };
}

export interface RequestsCell {
  streams: number;
  /** Simulated PUT cost of the cell, if any. */
  putThrottle?: PutThrottle;
  bytes: number;
  batches: number;
  seconds: number;
  mbPerSec: number;
  objectStore: ObjectStoreCounts;
  /** Metadata calls during the ingest and flush (the opens are counted apart). */
  metadata: MetadataCounts;
  /** Metadata transactions of the N opens. */
  openTxns: number;
  avgObjectBytes: number;
  putsPerGiB: number;
  requestsPerGiB: number;
  metadataTxnsPerGiB: number;
  /** Set when the cell failed (e.g. a commit of too many streams); the counts are partial. */
  error?: string;
}

export interface RequestsResult {
  params: RequestsParams;
  cells: RequestsCell[];
  /** The slow-PUT cells (backpressure), if configured. */
  throttledCells: RequestsCell[];
  /** PUTs per GiB at the largest N that ran / at 1 stream (goal: ~1). */
  putGrowth: number;
}

function innerStore(kind: RequestsParams['objectStore'], throttle?: PutThrottle): ObjectStore {
  if (throttle !== undefined) return new DiscardingObjectStore(throttle);
  return kind === 'memory' ? new MemoryObjectStore() : new DiscardingObjectStore();
}

/** One stream count (with a simulated slow object store when `throttle` is given). */
export async function runRequestsCell(
  streams: number,
  p: RequestsParams,
  throttle?: PutThrottle,
): Promise<RequestsCell> {
  const sizes = batchSizes(p.totalBytes, p.batchMinBytes, p.batchMaxBytes, p.seed);
  const data = payload(p.batchMaxBytes);
  const metadata = new CountingMetadataStore(new MemoryMetadataStore());
  const objects = new CountingObjectStore(innerStore(p.objectStore, throttle));
  const wal = new MemoryWal({
    store: createMemoryWalStore(),
    capacityBytes: 2 * p.cacheBytesMax,
    recordBytesMax: p.batchMaxBytes + 1024,
  });
  const store = await StreamStore.start({
    wal,
    objectStore: objects,
    metadata,
    nodeId: 'bench',
    cacheBytesMax: p.cacheBytesMax,
    uploadBytesThreshold: p.uploadBytesThreshold,
  });
  let error: string | undefined;
  let bytes = 0;
  let seconds = 0;
  let openTxns = 0;
  let ingestCounts: { os: ObjectStoreCounts; md: MetadataCounts } | undefined;
  try {
    const handles: Stream[] = [];
    for (let id = 0; id < streams; id++) handles.push(await store.open(id, 1));
    openTxns = metadata.reset().txn;
    objects.reset();
    const t0 = process.hrtime.bigint();
    try {
      await windowed(sizes.length, p.window, async (i) => {
        const size = sizes[i]!;
        await handles[i % streams]!.append(data.subarray(0, size), recordsOf(size));
        bytes += size;
      });
      await store.flush();
    } catch (err) {
      error = errorText(err);
    }
    seconds = secondsSince(t0);
    ingestCounts = { os: { ...objects.counts }, md: { ...metadata.counts } };
    if (error === undefined && p.objectStore === 'memory' && throttle === undefined) {
      // read the first batch of every stream back, to prove the objects hold the data
      for (const h of handles.slice(0, 8)) {
        const got = await h.fetch(0, 1);
        if (got.length === 0 || !got[0]!.data.equals(data.subarray(0, got[0]!.data.length))) {
          throw new Error(`stream ${h.id}: read back wrong data`);
        }
      }
    }
  } finally {
    await store.close().catch(() => {});
    await metadata.close();
  }
  // the counts of the ingest and flush (the read-back check and close come after)
  const os = ingestCounts?.os ?? objects.counts;
  const md = ingestCounts?.md ?? metadata.counts;
  // a failed cell's partial counts are kept, but its per-GiB figures would mislead
  const gib = error === undefined ? bytes / GiB : Number.NaN;
  return {
    streams,
    ...(throttle === undefined ? {} : { putThrottle: throttle }),
    bytes,
    batches: sizes.length,
    seconds: round(seconds),
    mbPerSec: round(bytes / seconds / 1e6, 1),
    objectStore: os,
    metadata: md,
    openTxns,
    avgObjectBytes: os.put > 0 ? Math.round(os.putBytes / os.put) : 0,
    putsPerGiB: round(os.put / gib, 2),
    requestsPerGiB: round(totalRequests(os) / gib, 2),
    metadataTxnsPerGiB: round(md.txn / gib, 2),
    ...(error === undefined ? {} : { error }),
  };
}

export async function runRequests(
  p: RequestsParams,
  log: (line: string) => void = () => {},
): Promise<RequestsResult> {
  const cells: RequestsCell[] = [];
  const throttledCells: RequestsCell[] = [];
  const show = (c: RequestsCell) =>
    log(
      `  ${c.streams} streams${c.putThrottle ? ' (slow PUTs)' : ''}: ${c.objectStore.put} PUTs ` +
        `(${c.putsPerGiB}/GiB, avg ${(c.avgObjectBytes / 2 ** 20).toFixed(2)} MiB), ${c.requestsPerGiB} requests/GiB, ` +
        `${c.metadataTxnsPerGiB} txns/GiB, ${c.mbPerSec} MB/s${c.error ? `; FAILED: ${c.error}` : ''}`,
    );
  for (const n of p.streamCounts) {
    const c = await runRequestsCell(n, p);
    cells.push(c);
    show(c);
  }
  if (p.throttled !== undefined) {
    for (const n of p.throttled.streamCounts) {
      const c = await runRequestsCell(n, { ...p, totalBytes: p.throttled.totalBytes }, p.throttled.put);
      throttledCells.push(c);
      show(c);
    }
  }
  const ok = cells.filter((c) => c.error === undefined);
  const one = ok.find((c) => c.streams === 1);
  const last = ok[ok.length - 1];
  return {
    params: p,
    cells,
    throttledCells,
    putGrowth: one && last ? round(last.putsPerGiB / one.putsPerGiB) : Number.NaN,
  };
}
