/**
 * The writer process of the SIGKILL scenario (scenarios-kill.ts), run with `node --import tsx`.
 * Args: <dir> <object store URI> <seed> <epoch>. Starts a StreamStore on a FileWal and an
 * EmbeddedMetadataStore in <dir>, opens the streams of {@link KILL_STREAMS} at <epoch> and
 * appends their deterministic batch sequences ({@link killBatch}) until killed, writing
 * `ACK <stream> <index> <baseOffset>` to stdout (synchronously) for every acknowledged batch.
 */
import { writeSync } from 'node:fs';
import { join } from 'node:path';
import { FileWal } from '@tributary/wal';
import { EmbeddedMetadataStore } from '../../src/metadata/embedded.ts';
import { openObjectStore } from '../../src/object-store/uri.ts';
import { StreamStore } from '../../src/stream/store.ts';
import { KILL_STREAMS, killBatch } from './kill-batches.ts';

const [dir, uri, seedArg, epochArg] = process.argv.slice(2);
if (dir === undefined || uri === undefined || seedArg === undefined || epochArg === undefined) {
  throw new Error('usage: child-writer.ts <dir> <uri> <seed> <epoch>');
}
const seed = Number(seedArg);
const wal = await FileWal.open({ path: join(dir, 'wal'), sizeBytes: 16 * 1024 * 1024 });
const metadata = await EmbeddedMetadataStore.open(join(dir, 'meta'));
const store = await StreamStore.start({
  wal,
  objectStore: openObjectStore(uri),
  metadata,
  nodeId: 'n1',
  cacheBytesMax: 512 * 1024,
  uploadBytesThreshold: 32 * 1024,
  blockBytesTarget: 8 * 1024,
  uploadIntervalMs: 20,
});
const streams = [];
for (const id of KILL_STREAMS) {
  const s = await store.open(id, Number(epochArg));
  // Continue each stream's sequence where the committed (recovered) data ends.
  streams.push({ s, next: killIndexAt(id, s.endOffset) });
}
writeSync(1, 'READY\n');
// Appends in flight per stream, for ever (until SIGKILL).
await Promise.all(
  streams.map(async (st) => {
    const inflight = new Set<Promise<void>>();
    for (;;) {
      while (inflight.size >= 4) await Promise.race(inflight);
      const index = st.next++;
      const b = killBatch(seed, st.s.id, index);
      const p = st.s.append(b.data, b.count).then(({ baseOffset }) => {
        writeSync(1, `ACK ${st.s.id} ${index} ${baseOffset}\n`);
      });
      inflight.add(p);
      p.finally(() => inflight.delete(p));
    }
  }),
);

/** The index of the batch of stream `id` that starts at `offset` (batch offsets are fixed). */
function killIndexAt(id: number, offset: number): number {
  let at = 0;
  for (let i = 0; ; i++) {
    if (at === offset) return i;
    if (at > offset) throw new Error(`stream ${id}: offset ${offset} is inside batch ${i - 1}`);
    at += killBatch(seed, id, i).count;
  }
}
