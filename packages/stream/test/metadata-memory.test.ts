import { MemoryMetadataStore } from '../src/metadata/memory.ts';
import { metadataContract } from './metadata-contract.ts';

metadataContract(
  'memory',
  async ({ clock, watchBufferEventsMax }) =>
    new MemoryMetadataStore({ clock, watchBufferEventsMax, leaseCheckIntervalMs: 0 }),
);
