/**
 * fast-check arbitraries for every generated message, built from the schema description.
 * Fields absent in the chosen version get their default, so a decoded message deep-equals
 * the one that was encoded.
 */
import fc from 'fast-check';
import * as generated from '../../src/generated/index.ts';
import type { FieldSchema, MessageSchema, PrimitiveType, StructSchema } from '../../src/generated/schema.ts';
import type { Reader } from '../../src/primitives/reader.ts';
import type { Writer } from '../../src/primitives/writer.ts';

type Encode = (w: Writer, msg: unknown, version: number) => void;
type Decode = (r: Reader, version: number) => unknown;

/** The generated encode/decode functions of a message, found by name. */
export function codecOf(m: MessageSchema): { encode: Encode; decode: Decode } {
  const mod = generated as unknown as Record<string, unknown>;
  const encode = mod[`encode${m.name}`] as Encode | undefined;
  const decode = mod[`decode${m.name}`] as Decode | undefined;
  if (!encode || !decode) throw new Error(`no codec for ${m.name}`);
  return { encode, decode };
}

export function inRange(r: readonly [number, number] | null | undefined, v: number): boolean {
  return r !== null && r !== undefined && v >= r[0] && v <= r[1];
}

/** Whether the field is carried on the wire at version v (in the body or as a tagged field). */
export function presentAt(f: FieldSchema, v: number): boolean {
  if (!inRange(f.versions, v)) return false;
  return f.tag === undefined || inRange(f.taggedVersions, v);
}

export function defaultStruct(s: StructSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of s.fields) out[f.key] = defaultValue(f);
  return out;
}

export function defaultValue(f: FieldSchema): unknown {
  if ('default' in f) return f.default;
  if (f.type === 'array') return [];
  if (f.type === 'bytes') return Buffer.alloc(0);
  if (f.type === 'struct') return defaultStruct(f.struct!);
  throw new Error(`${f.name}: no default`);
}

const uuid = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('base64url'));
const smallBytes = fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b));
// Now and then a buffer past the writer's zero-copy threshold.
const bytes = fc.oneof(
  { arbitrary: smallBytes, weight: 9 },
  { arbitrary: fc.uint8Array({ minLength: 512, maxLength: 700 }).map((b) => Buffer.from(b)), weight: 1 },
);
const text = fc.oneof(fc.string({ maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 4 }));

const PRIMITIVE_ARBS: Record<PrimitiveType, fc.Arbitrary<unknown>> = {
  int8: fc.integer({ min: -128, max: 127 }),
  int16: fc.integer({ min: -32768, max: 32767 }),
  int32: fc.integer({ min: -2147483648, max: 2147483647 }),
  int64: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
  uint16: fc.integer({ min: 0, max: 65535 }),
  float64: fc.double(),
  bool: fc.boolean(),
  string: text,
  bytes,
  records: bytes,
  uuid,
};

/** An arbitrary value for one field at version v (its default when absent). */
export function fieldArb(f: FieldSchema, v: number): fc.Arbitrary<unknown> {
  if (!presentAt(f, v)) return fc.constant(null).map(() => defaultValue(f));
  let arb: fc.Arbitrary<unknown>;
  if (f.type === 'struct') arb = structArb(f.struct!, v);
  else if (f.type === 'array') {
    const elem = f.element === 'struct' ? structArb(f.struct!, v) : PRIMITIVE_ARBS[f.element!];
    arb = fc.array(elem, { maxLength: 3 });
  } else arb = PRIMITIVE_ARBS[f.type];
  return inRange(f.nullableVersions, v) ? fc.option(arb, { nil: null, freq: 4 }) : arb;
}

const structCache = new Map<string, fc.Arbitrary<Record<string, unknown>>>();

export function structArb(s: StructSchema, v: number): fc.Arbitrary<Record<string, unknown>> {
  const key = `${s.tsName}@${v}`;
  let arb = structCache.get(key);
  if (arb === undefined) {
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    for (const f of s.fields) model[f.key] = fieldArb(f, v);
    arb = fc.record(model);
    structCache.set(key, arb);
  }
  return arb;
}

/** Every valid version of a message. */
export function versionsOf(m: MessageSchema): number[] {
  const out: number[] = [];
  for (let v = m.validVersions[0]; v <= m.validVersions[1]; v++) out.push(v);
  return out;
}
