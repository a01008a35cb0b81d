/**
 * The fixed record set every golden producer sends, so tests can compare decoded records
 * field by field. 20 records on partition 0: record 5 has a null key, record 7 a null value,
 * every record carries the same two headers (kcat can only set run-wide headers), and
 * timestamps are `BASE_TIMESTAMP_MS + i` (kcat cannot set timestamps, so its records are
 * compared without them).
 */
export interface FixtureHeader {
  key: string;
  value: string;
}

/** One record of the golden set, with strings for key/value (null where Kafka has null). */
export interface FixtureRecord {
  key: string | null;
  value: string | null;
  headers: FixtureHeader[];
  timestampMs: number;
}

/** Number of records in the golden set. */
export const RECORD_COUNT = 20;
/** Index of the record whose key is null. */
export const NULL_KEY_INDEX = 5;
/** Index of the record whose value is null. */
export const NULL_VALUE_INDEX = 7;
/** Timestamp of record 0; record i has `BASE_TIMESTAMP_MS + i`. */
export const BASE_TIMESTAMP_MS = 1_700_000_000_000;
/** Headers carried by every record, in order. */
export const FIXTURE_HEADERS: readonly FixtureHeader[] = [
  { key: 'golden', value: 'yes' },
  { key: 'trace-id', value: 'abc-123' },
];

/** Builds the value of record `i`: repetitive text so that every codec actually compresses. */
function fixtureValue(i: number): string {
  return `value-${String(i).padStart(2, '0')} ${'the quick brown fox jumps over the lazy dog '.repeat(3).trim()}`;
}

/** The golden record set (a fresh copy each call). */
export function fixtureRecords(): FixtureRecord[] {
  const out: FixtureRecord[] = [];
  for (let i = 0; i < RECORD_COUNT; i++) {
    out.push({
      key: i === NULL_KEY_INDEX ? null : `key-${String(i).padStart(2, '0')}`,
      value: i === NULL_VALUE_INDEX ? null : fixtureValue(i),
      headers: FIXTURE_HEADERS.map((h) => ({ ...h })),
      timestampMs: BASE_TIMESTAMP_MS + i,
    });
  }
  return out;
}
