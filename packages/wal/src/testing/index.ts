/**
 * Test helpers for @tributary/wal and the layers above it: a deterministic fault-injecting
 * WalFile and a seeded random generator. Import from `@tributary/wal/src/testing/index.ts`
 * (not exported by the package's main index).
 */
export { buildCrashImage, type CrashOptions, type CrashReport, type UnsyncedWrite } from './crash-image.ts';
export {
  errnoError,
  FaultyFile,
  type FaultyFileOptions,
  type FaultyOp,
  type FaultyOpKind,
} from './faulty-file.ts';
export { Rng, seedFromEnv } from './rng.ts';
