import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileWal, openNodeWalFileWith } from '../src/index.ts';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wal-dsync-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('node:fs WalFile with O_DSYNC', () => {
  it('appends survive a reopen, written through the O_DSYNC file', async () => {
    const path = join(dir, 'wal');
    const opener = (p: string, size: number) => openNodeWalFileWith(p, size, { sync: 'dsync' });
    const wal = await FileWal.open({ path, sizeBytes: 1 << 20, opener });
    for await (const _ of wal.recover());
    const payloads = Array.from({ length: 50 }, (_, i) => Buffer.alloc(100 + i * 37, i));
    await Promise.all(payloads.map((p, i) => wal.append(p, Buffer.from([i]))));
    await wal.close();

    const again = await FileWal.open({ path, opener });
    const got: Buffer[] = [];
    for await (const r of again.recover()) got.push(r.data);
    expect(got).toEqual(payloads);
    await again.close();
  });
});
