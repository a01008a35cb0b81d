/**
 * A crash tearing the very first superblock write of a fresh WAL file (seq 1, slot 1) must not
 * leave a WAL that can only be opened by hand: nothing was ever acknowledged, so it reopens as
 * fresh. If records were written, a bad only-copy superblock still fails as corrupt.
 */
import { describe, expect, it } from 'vitest';
import { FileWal, WalError } from '../../src/index.ts';
import { FaultyFile } from '../../src/testing/index.ts';

const A = 4096;
const SIZE = 64 * A;

async function drain(wal: FileWal): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const r of wal.recover()) out.push(r.data);
  return out;
}

async function formattedImage(appendOne: boolean): Promise<Buffer> {
  const file = new FaultyFile({ size: SIZE });
  const wal = await FileWal.open({ path: 'mem', file, alignBytes: A });
  await drain(wal);
  if (appendOne) await wal.append(Buffer.from('acknowledged'));
  const image = file.crash({});
  return Buffer.from(image);
}

/** Keeps the first `kept` bytes of the seq-1 superblock: the rest of the write never landed. */
function tearSlot1(image: Buffer, kept = 20): void {
  image.fill(0, A + kept, 2 * A);
}

describe('regression: torn first format', () => {
  it.each([2, 20, 60])(
    'reopens as fresh when slot 1 kept %i bytes and the ring is untouched',
    async (kept) => {
      const image = await formattedImage(false);
      tearSlot1(image, kept);
      const wal = await FileWal.open({ path: 'mem', file: FaultyFile.fromImage(image), alignBytes: A });
      expect(await drain(wal)).toEqual([]);
      const r = await wal.append(Buffer.from('after'));
      expect(r.offset).toBe(0);
      await wal.close();
    },
  );

  it('still fails as corrupt when records were written under the lost superblock', async () => {
    const image = await formattedImage(true);
    tearSlot1(image);
    const err = await FileWal.open({ path: 'mem', file: FaultyFile.fromImage(image), alignBytes: A }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WalError);
    expect((err as WalError).kind).toBe('corrupt');
  });
});
