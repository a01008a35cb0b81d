import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryWalStore, FileWal, MemoryWal } from '../src/index.ts';
import { walContract } from './contract.ts';

const MiB = 1024 * 1024;

walContract('MemoryWal', async (o) => {
  const store = createMemoryWalStore();
  return {
    open: async () => new MemoryWal({ store, capacityBytes: o.capacityBytes ?? MiB, full: o.full }),
    cleanup: async () => {},
  };
});

walContract('FileWal', async (o) => {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-wal-contract-'));
  const path = join(dir, 'wal');
  // Two 4 KiB superblock slots precede the ring.
  const sizeBytes = 8192 + (o.capacityBytes ?? MiB);
  return {
    open: async () => FileWal.open({ path, sizeBytes, full: o.full }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
