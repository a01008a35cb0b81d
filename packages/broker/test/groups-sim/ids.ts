/**
 * Deterministic UUIDs for the simulation: the test file mocks node:crypto's randomUUID with
 * {@link nextUuid} (member ids handed out by the coordinator decide the assignors' order), and
 * each seed starts the sequence over, so a seed replays the same run alone or among others.
 */
const state = { n: 0, prefix: 0 };

export function resetUuids(seed: number): void {
  state.n = 0;
  state.prefix = seed >>> 0;
}

export function nextUuid(): `${string}-${string}-${string}-${string}-${string}` {
  state.n++;
  const a = state.prefix.toString(16).padStart(8, '0');
  const b = state.n.toString(16).padStart(12, '0');
  return `${a}-5eed-4000-8000-${b}`;
}
