/** The in-memory MetadataStore, for unit tests and simulations: nothing survives `close`. */
import { LocalMetadataStore, type LocalStoreOptions } from './base.ts';
import type { CommitRecord } from './model.ts';

export type MemoryMetadataStoreOptions = LocalStoreOptions;

export class MemoryMetadataStore extends LocalMetadataStore {
  readonly description = 'memory:';

  constructor(options: MemoryMetadataStoreOptions = {}) {
    super(LocalMetadataStore.newModel(options), options);
  }

  protected async persist(_record: CommitRecord): Promise<void> {}

  protected async closeResources(): Promise<void> {}
}
