/**
 * Measurement 2: cold catch-up reads from S3 (moto_server on 127.0.0.1) against the same
 * server's raw ranged-GET throughput, measured in the same run.
 *
 * Setup: one stream gets `totalBytes` of 16–64 KiB batches through a StreamStore whose object
 * store is `openObjectStore(s3://…)` (retries included, as a broker would open it), then a
 * flush. Each round reads it all, in `segments` consecutive pieces; each piece is a pair
 * measured back to back, in alternating order:
 *  - stream: a NEW StreamStore (empty log, block and index caches; a fresh S3 client) over
 *    the same metadata reads the piece's offsets with sequential `fetch(offset,
 *    fetchMaxBytes)`; MB/s of batch bytes returned;
 *  - raw: a fresh store from the same URI GETs the piece's share of the objects the writer
 *    put, sequentially, in ranged GETs of `fetchMaxBytes`; MB/s of object bytes.
 * A piece starting inside an object costs the stream side an extra tail GET, and its
 * read-ahead starts small again: the pieces favour the raw side slightly.
 * Reported: the median MB/s of each side over the pairs and their ratio (goal >= 0.8),
 * plus GETs, GET sizes and GETs in flight per side, to tell where the stream side loses
 * time. The store reads ahead with parallel GETs while the raw side is sequential, so an
 * extra raw side with `rawConcurrency` GETs in flight shows the server's ceiling.
 */

import { MemoryMetadataStore, openObjectStore, StreamStore } from '../../packages/stream/src/index.ts';
import { createMemoryWalStore, MemoryWal } from '../../packages/wal/src/index.ts';
import { batchSizes, median, payload, recordsOf, round, secondsSince, windowed } from './common.ts';
import { CountingObjectStore, type ObjectStoreCounts } from './counting.ts';
import { type BenchS3Server, startBenchS3Server } from './s3-server.ts';

export interface CatchupParams {
  totalBytes: number;
  batchMinBytes: number;
  batchMaxBytes: number;
  uploadBytesThreshold: number;
  /** Log cache of the reading stores (the writer's holds all the data). */
  cacheBytesMax: number;
  /** maxBytes of each fetch, and the chunk size of the raw ranged GETs. */
  fetchMaxBytes: number;
  rounds: number;
  /**
   * Each round reads the stream in this many consecutive segments (offset ranges; the raw
   * side the matching share of the objects), each a stream/raw pair with a NEW store: the
   * two sides are measured seconds apart, not a whole read apart (the machine is shared).
   */
  segments: number;
  seed: number;
  /**
   * GETs in flight of an extra raw side (informational: the server's ceiling with
   * concurrency, for comparison with the store's parallel read-ahead); 0 = not measured.
   */
  rawConcurrency: number;
}

export interface CatchupSide {
  mbPerSec: number;
  seconds: number;
  bytes: number;
  gets: number;
  avgGetBytes: number;
  /** Fraction of the wall time with at least one GET outstanding. */
  getBusyFraction: number;
  /** GET time summed / time with a GET outstanding: the mean number of GETs in flight. */
  avgGetsInFlight: number;
  getsInFlightMax: number;
  /** fetch calls (stream side) or ranged GETs (raw side). */
  calls: number;
}

/** One segment of one round: the stream side and the raw side back to back. */
export interface CatchupPair {
  round: number;
  segment: number;
  order: 'stream-first' | 'raw-first';
  stream: CatchupSide;
  raw: CatchupSide;
  /** stream / raw */
  ratio: number;
  /** Raw GETs with `rawConcurrency` in flight (when measured). */
  rawParallel?: CatchupSide;
}

export interface CatchupResult {
  params: CatchupParams;
  server: string;
  objects: number;
  objectBytes: number;
  dataBytes: number;
  batches: number;
  writeMbPerSec: number;
  pairs: CatchupPair[];
  /** Medians over the pairs. */
  streamMbPerSec: number;
  rawMbPerSec: number;
  /** median stream MB/s / median raw MB/s (goal >= 0.8). */
  ratio: number;
  /** The median of the per-pair ratios (drift-resistant). */
  medianPairRatio: number;
  /** All stream bytes / all stream seconds over all raw bytes / all raw seconds. */
  pooledRatio: number;
  /** Median MB/s of the parallel raw side and stream / it (informational). */
  rawParallelMbPerSec?: number;
  ratioToParallel?: number;
  goal: string;
  met: boolean;
}

const STREAM_ID = 1;

function side(bytes: number, seconds: number, c: ObjectStoreCounts, calls: number): CatchupSide {
  return {
    mbPerSec: round(bytes / seconds / 1e6, 1),
    seconds: round(seconds),
    bytes,
    gets: c.get,
    avgGetBytes: c.get > 0 ? Math.round(c.getBytes / c.get) : 0,
    getBusyFraction: round(c.getBusySeconds / seconds),
    avgGetsInFlight: round(c.getBusySeconds > 0 ? c.getSeconds / c.getBusySeconds : 0, 2),
    getsInFlightMax: c.getsInFlightMax,
    calls,
  };
}

/** Runs measurement 2 on `server` (or on a moto_server it starts and stops itself). */
export async function runCatchup(
  p: CatchupParams,
  log: (line: string) => void = () => {},
  server?: BenchS3Server,
): Promise<CatchupResult> {
  const own = server === undefined;
  const s3 = server ?? (await startBenchS3Server());
  const metadata = new MemoryMetadataStore();
  try {
    const uri = s3.uri(`catchup-${Date.now()}`);
    // write
    const sizes = batchSizes(p.totalBytes, p.batchMinBytes, p.batchMaxBytes, p.seed);
    const data = payload(p.batchMaxBytes);
    const writer = new CountingObjectStore(openObjectStore(uri));
    // The writer's cache holds all the data: if the appends outran the PUTs, the log cache
    // would seal small blocks under backpressure (see docs/benchmarks.md) and the objects
    // would not be of the size a steady broker writes.
    const writeCacheBytes = p.totalBytes + 4 * p.uploadBytesThreshold;
    const wal = new MemoryWal({
      store: createMemoryWalStore(),
      capacityBytes: 2 * writeCacheBytes,
      recordBytesMax: p.batchMaxBytes + 1024,
    });
    const t0 = process.hrtime.bigint();
    const store = await StreamStore.start({
      wal,
      objectStore: writer,
      metadata,
      nodeId: 'bench',
      cacheBytesMax: writeCacheBytes,
      uploadBytesThreshold: p.uploadBytesThreshold,
    });
    let endOffset = 0;
    let dataBytes = 0;
    try {
      const s = await store.open(STREAM_ID, 1);
      await windowed(sizes.length, 64, (i) => s.append(data.subarray(0, sizes[i]), recordsOf(sizes[i]!)));
      await store.flush();
      endOffset = s.endOffset;
      dataBytes = sizes.reduce((a, b) => a + b, 0);
    } finally {
      await store.close();
      await writer.close();
    }
    const writeSeconds = secondsSince(t0);
    const objects = [...writer.putSizes.entries()];
    const objectBytes = objects.reduce((n, [, size]) => n + size, 0);
    log(
      `  wrote ${(dataBytes / 2 ** 20).toFixed(0)} MiB in ${objects.length} objects to ${s3.endpoint} ` +
        `(${(dataBytes / writeSeconds / 1e6).toFixed(0)} MB/s)`,
    );

    let epoch = 1;
    /** Offsets [from, to) through a NEW store (cold caches); counts the batches starting in it. */
    const readStream = async (from: number, to: number): Promise<CatchupSide> => {
      const os = new CountingObjectStore(openObjectStore(uri));
      const reader = await StreamStore.start({
        wal: new MemoryWal({ store: createMemoryWalStore() }),
        objectStore: os,
        metadata,
        nodeId: 'bench',
        cacheBytesMax: p.cacheBytesMax,
        uploadBytesThreshold: p.uploadBytesThreshold,
      });
      try {
        const s = await reader.open(STREAM_ID, ++epoch);
        os.reset();
        let offset = from;
        let bytes = 0;
        let calls = 0;
        const start = process.hrtime.bigint();
        while (offset < to) {
          const got = await s.fetch(offset, p.fetchMaxBytes);
          calls++;
          if (got.length === 0) break;
          for (const b of got) if (b.baseOffset >= from && b.baseOffset < to) bytes += b.data.length;
          const last = got[got.length - 1]!;
          offset = last.baseOffset + last.count;
        }
        const seconds = secondsSince(start);
        if (offset < to) throw new Error(`catch-up read of [${from}, ${to}) ended at ${offset}`);
        return side(bytes, seconds, os.counts, calls);
      } finally {
        await reader.close();
        await os.close();
      }
    };

    /** Ranged GETs of `fetchMaxBytes` over objects [first, last), `concurrency` in flight. */
    const readRaw = async (first: number, last: number, concurrency: number): Promise<CatchupSide> => {
      const chunks: { key: string; start: number; end: number }[] = [];
      for (const [key, size] of objects.slice(first, last)) {
        for (let pos = 0; pos < size; pos += p.fetchMaxBytes) {
          chunks.push({ key, start: pos, end: Math.min(size, pos + p.fetchMaxBytes) });
        }
      }
      const os = new CountingObjectStore(openObjectStore(uri));
      try {
        let bytes = 0;
        let calls = 0;
        const start = process.hrtime.bigint();
        await windowed(chunks.length, concurrency, async (i) => {
          const c = chunks[i]!;
          const buf = await os.get(c.key, { start: c.start, end: c.end });
          bytes += buf.length;
          calls++;
        });
        return side(bytes, secondsSince(start), os.counts, calls);
      } finally {
        await os.close();
      }
    };

    const segments = Math.max(1, Math.min(p.segments, objects.length));
    const pairs: CatchupPair[] = [];
    for (let r = 0; r < p.rounds; r++) {
      let streamBytes = 0;
      let rawBytes = 0;
      for (let k = 0; k < segments; k++) {
        const from = Math.floor((k * endOffset) / segments);
        const to = Math.floor(((k + 1) * endOffset) / segments);
        const first = Math.floor((k * objects.length) / segments);
        const last = Math.floor(((k + 1) * objects.length) / segments);
        const streamFirst = (r + k) % 2 === 0;
        let st: CatchupSide;
        let raw: CatchupSide;
        if (streamFirst) {
          st = await readStream(from, to);
          raw = await readRaw(first, last, 1);
        } else {
          raw = await readRaw(first, last, 1);
          st = await readStream(from, to);
        }
        streamBytes += st.bytes;
        rawBytes += raw.bytes;
        const ratio = round(st.mbPerSec / raw.mbPerSec);
        const rawParallel = p.rawConcurrency > 0 ? await readRaw(first, last, p.rawConcurrency) : undefined;
        pairs.push({
          round: r + 1,
          segment: k + 1,
          order: streamFirst ? 'stream-first' : 'raw-first',
          stream: st,
          raw,
          ratio,
          ...(rawParallel ? { rawParallel } : {}),
        });
        log(
          `  round ${r + 1} segment ${k + 1}/${segments}: stream ${st.mbPerSec} MB/s (${st.gets} GETs, ` +
            `${st.avgGetsInFlight} in flight on average, max ${st.getsInFlightMax}) vs raw ${raw.mbPerSec} MB/s ` +
            `(${raw.gets} GETs) = ${ratio}` +
            (rawParallel ? `; raw with ${p.rawConcurrency} in flight ${rawParallel.mbPerSec} MB/s` : ''),
        );
      }
      if (streamBytes !== dataBytes || rawBytes !== objectBytes) {
        throw new Error(
          `round ${r + 1} read ${streamBytes} stream bytes of ${dataBytes}, ${rawBytes} object bytes of ${objectBytes}`,
        );
      }
    }
    const streamMbPerSec = median(pairs.map((x) => x.stream.mbPerSec));
    const rawMbPerSec = median(pairs.map((x) => x.raw.mbPerSec));
    const ratio = round(streamMbPerSec / rawMbPerSec);
    const pooled = (get: (x: CatchupPair) => CatchupSide) => {
      const sides = pairs.map(get);
      const bytes = sides.reduce((n, x) => n + x.bytes, 0);
      const seconds = sides.reduce((n, x) => n + x.seconds, 0);
      return round(bytes / seconds / 1e6, 1);
    };
    const par = pairs.flatMap((x) => (x.rawParallel ? [x.rawParallel.mbPerSec] : []));
    const rawParallelMbPerSec = par.length > 0 ? median(par) : undefined;
    return {
      params: p,
      server: 'moto_server (127.0.0.1)',
      objects: objects.length,
      objectBytes,
      dataBytes,
      batches: sizes.length,
      writeMbPerSec: round(dataBytes / writeSeconds / 1e6, 1),
      pairs,
      streamMbPerSec,
      rawMbPerSec,
      ratio,
      medianPairRatio: round(median(pairs.map((x) => x.ratio))),
      pooledRatio: round(pooled((x) => x.stream) / pooled((x) => x.raw)),
      ...(rawParallelMbPerSec === undefined
        ? {}
        : { rawParallelMbPerSec, ratioToParallel: round(streamMbPerSec / rawParallelMbPerSec) }),
      goal: '>= 0.8',
      met: ratio >= 0.8,
    };
  } finally {
    await metadata.close();
    if (own) await s3.stop();
  }
}
