/** Small helpers shared by the metadata store tests. */
import { expect } from 'vitest';
import { MetadataError, type Watch, type WatchEvent } from '../src/metadata/types.ts';

export const b = (s: string): Buffer => Buffer.from(s);

/** Take `n` events from a watch, failing after `timeoutMs`. */
export async function take(w: Watch, n: number, timeoutMs = 2000): Promise<WatchEvent[]> {
  const it = w[Symbol.asyncIterator]();
  const out: WatchEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const left = deadline - Date.now();
    const r = await Promise.race([
      it.next(),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`timed out after ${out.length}/${n} events`)), left),
      ),
    ]);
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

export async function expectKind(p: Promise<unknown>, kind: MetadataError['kind']): Promise<MetadataError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MetadataError);
  expect((err as MetadataError).kind).toBe(kind);
  return err as MetadataError;
}
