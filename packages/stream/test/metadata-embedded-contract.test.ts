import { join } from 'node:path';
import { EmbeddedMetadataStore } from '../src/metadata/embedded.ts';
import { metadataContract } from './metadata-contract.ts';
import { tempDir } from './metadata-fs.ts';

metadataContract('embedded', async ({ clock, watchBufferEventsMax }) =>
  EmbeddedMetadataStore.open(join(await tempDir(), 'meta'), {
    clock,
    watchBufferEventsMax,
    leaseCheckIntervalMs: 0,
  }),
);

// The same contract with a snapshot after almost every write.
metadataContract('embedded, snapshot every 256 log bytes', async ({ clock, watchBufferEventsMax }) =>
  EmbeddedMetadataStore.open(await tempDir(), {
    clock,
    watchBufferEventsMax,
    leaseCheckIntervalMs: 0,
    snapshotLogBytes: 256,
  }),
);
