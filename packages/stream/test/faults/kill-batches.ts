/**
 * The deterministic batch sequences of the SIGKILL scenario: batch `index` of stream `id`
 * under `seed` always has the same bytes and record count, in the writer process and in the
 * checking test alike.
 */
import { Rng } from '@tributary/wal/testing';

/** The streams the writer appends to. */
export const KILL_STREAMS = [1, 2, 3] as const;

/** Batch `index` of stream `id`: 1..3000 seeded bytes starting with a readable tag, 1..5 records. */
export function killBatch(seed: number, id: number, index: number): { data: Buffer; count: number } {
  const rng = new Rng((seed * 1_000_003 + id * 7_919 + index * 104_729) >>> 0);
  const head = Buffer.from(`k${seed}-${id}-${index};`);
  const size = rng.int(head.length, 3000);
  return { data: Buffer.concat([head, rng.bytes(size - head.length)]), count: rng.int(1, 5) };
}
