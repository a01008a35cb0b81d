/**
 * Log compaction of a partition of the group log, on its {@link Shard}: when to start one
 * ({@link maybeCompact}, after appends and after loading), one at a time per shard
 * ({@link runCompaction}), and the compaction itself ({@link compact}).
 */
import type { GroupLogRecord } from './log.ts';
import type { Shard } from './shard.ts';

/** Starts a compaction in the background once enough was appended since the last one. */
export function maybeCompact(s: Shard): void {
  const { log, options } = s.env;
  if (s.compacting || s.unloaded || s.env.closed() || !log.trim || !log.endOffset) return;
  if (s.appendedBytes < Math.max(options.logCompactMinBytes, s.keptBytes)) return;
  runCompaction(s).catch((err: unknown) =>
    options.logger.warn({ partition: s.partition, err: String(err) }, 'group log compaction failed'),
  );
}

/** One compaction at a time per shard. */
export async function runCompaction(s: Shard): Promise<{ before: number; kept: number } | undefined> {
  while (s.compacting) await s.compacting;
  const run = compact(s);
  s.compacting = run.then(
    () => {},
    () => {},
  );
  try {
    return await run;
  } finally {
    s.compacting = undefined;
  }
}

/**
 * Compacts a partition of the group log as Kafka's cleaner would (the latest record of each
 * key, no tombstones), without rewriting it in place: the latest values below an offset X are
 * appended again at the end, then everything below X is removed. X is the end offset at a
 * moment with no append in flight; keys appended from then on are left out of the copy
 * (their newer record is at X or later). The copy is durable before the trim, so a crash in
 * between only leaves duplicates that replay to the same state.
 */
async function compact(s: Shard): Promise<{ before: number; kept: number } | undefined> {
  const log = s.env.log;
  if (!log.endOffset || !log.trim) return undefined;
  // 1. A moment with nothing in flight (new appends wait a few ms behind a pause): everything
  //    issued so far is durable and below X; what is issued from now on lands at X or later.
  let x: number | undefined;
  let release!: () => void;
  const pause = new Promise<void>((r) => {
    release = r;
  });
  s.pause = pause;
  try {
    while (s.issued.size > 0) await Promise.all([...s.issued]);
    x = s.unloaded ? undefined : log.endOffset(s.partition);
    if (x === undefined) return undefined;
    s.dirty = new Set();
  } finally {
    void pause.then(() => {
      if (s.pause === pause) s.pause = undefined;
    });
    release();
  }
  const written = s.appendedBytes;
  try {
    // 2. The latest value of every key below X.
    const latest = new Map<string, GroupLogRecord>();
    for await (const r of log.replay(s.partition, x)) {
      const k = r.key.toString('latin1');
      latest.delete(k); // keep the order of last writes
      latest.set(k, { key: r.key, value: r.value });
    }
    // 3. Live values whose key was not written since X, appended again (in chunks of ≤ 1 MiB).
    const chunks: GroupLogRecord[][] = [[]];
    let chunkBytes = 0;
    let kept = 0;
    let count = 0;
    for (const [k, r] of latest) {
      if (r.value === null || s.dirty.has(k)) continue;
      const size = r.key.length + r.value.length;
      if (chunkBytes + size > 1 << 20 && chunks[chunks.length - 1]!.length > 0) {
        chunks.push([]);
        chunkBytes = 0;
      }
      chunks[chunks.length - 1]!.push(r);
      chunkBytes += size;
      kept += size;
      count++;
    }
    s.dirty = undefined;
    await Promise.all(chunks.filter((c) => c.length > 0).map((c) => s.write(c)));
    // 4. Everything below X is now redundant.
    await log.trim(s.partition, x);
    s.keptBytes = kept;
    s.appendedBytes -= written;
    s.env.options.logger.info(
      { partition: s.partition, before: x, records: count, bytes: kept },
      'group log compacted',
    );
    return { before: x, kept: count };
  } finally {
    s.dirty = undefined;
  }
}
