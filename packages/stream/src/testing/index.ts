/**
 * Test helpers for @tributary/stream and the layers above it: a deterministic
 * fault-injecting ObjectStore, its fault spec parser and a virtual clock. Import from
 * `@tributary/stream/testing` (not exported by the package's main index).
 */
export {
  type FaultKind,
  type FaultOp,
  type FaultRates,
  type FaultRecord,
  type FaultRule,
  type FaultyObjectStoreOptions,
  faultOps,
  injectedFaultError,
  injectedFaultKind,
  type MsRange,
  mutatingOps,
  realSleep,
  type SleepFn,
} from './fault-options.ts';
export { FaultSpecError, faultSpecHelp, parseFaultSpec } from './fault-spec.ts';
export { FaultyObjectStore, type OpCounters } from './faulty-object-store.ts';
export { VirtualClock } from './virtual-clock.ts';
