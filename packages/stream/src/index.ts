export { LocalMetadataStore, type LocalStoreOptions } from './metadata/base.ts';
export { ManualMetadataClock, systemMetadataClock } from './metadata/clock.ts';
export {
  EmbeddedMetadataStore,
  type EmbeddedMetadataStoreOptions,
  type EmbeddedOpenInfo,
} from './metadata/embedded.ts';
export { MemoryMetadataStore, type MemoryMetadataStoreOptions } from './metadata/memory.ts';
export * from './metadata/types.ts';
export {
  type GetOptions,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  type ObjectStore,
  ObjectStoreError,
  type ObjectStoreErrorKind,
  type PutOptions,
} from './object-store/types.ts';
