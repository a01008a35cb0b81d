/**
 * Fits a response body to the version it is sent at: fields the version does not have, and
 * which Kafka's schema marks as not ignorable, are reset to their defaults (the encoder
 * refuses non-default values there, as Kafka's does). Handlers can then fill every field
 * without version checks. Walks only what is needed and copies only changed objects.
 */
import { type FieldSchema, messageSchemas, type StructSchema } from '@tributary/protocol';

const responseStructs = new Map<number, StructSchema>();
for (const m of messageSchemas) {
  if (m.type === 'response' && m.apiKey !== null) responseStructs.set(m.apiKey, m.struct);
}

function inRange(r: readonly [number, number] | null, v: number): boolean {
  return r !== null && v >= r[0] && v <= r[1];
}

function defaultOf(f: FieldSchema): unknown {
  if (f.default !== undefined) return f.default;
  switch (f.type) {
    case 'array':
      return [];
    case 'struct':
      return f.struct ? defaultStruct(f.struct) : {};
    case 'string':
      return '';
    case 'bytes':
    case 'records':
      return Buffer.alloc(0);
    case 'bool':
      return false;
    case 'int64':
      return 0n;
    case 'uuid':
      return 'AAAAAAAAAAAAAAAAAAAAAA';
    default:
      return 0;
  }
}

function defaultStruct(s: StructSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of s.fields) out[f.key] = defaultOf(f);
  return out;
}

function isDefault(value: unknown, f: FieldSchema): boolean {
  const d = defaultOf(f);
  if (Array.isArray(value)) return value.length === 0 && Array.isArray(d);
  if (Buffer.isBuffer(value)) return value.length === 0;
  if (value === null || typeof value !== 'object') return value === d || (value === undefined && d === null);
  return false;
}

function fitStruct(
  s: StructSchema,
  value: Record<string, unknown>,
  version: number,
): Record<string, unknown> {
  let out = value;
  const set = (key: string, v: unknown) => {
    if (out === value) out = { ...value };
    out[key] = v;
  };
  for (const f of s.fields) {
    const cur = value[f.key];
    if (!inRange(f.versions, version)) {
      if (!f.ignorable && !isDefault(cur, f)) set(f.key, defaultOf(f));
      continue;
    }
    if (f.type === 'struct' && f.struct && cur !== null && typeof cur === 'object') {
      const next = fitStruct(f.struct, cur as Record<string, unknown>, version);
      if (next !== cur) set(f.key, next);
    } else if (f.type === 'array' && f.element === 'struct' && f.struct && Array.isArray(cur)) {
      let changed = false;
      const next = cur.map((e) => {
        const n = fitStruct(f.struct!, e as Record<string, unknown>, version);
        if (n !== e) changed = true;
        return n;
      });
      if (changed) set(f.key, next);
    }
  }
  return out;
}

/** The response body of `apiKey` made valid for `version` (the same object when it already is). */
export function fitResponse<T>(apiKey: number, version: number, body: T): T {
  const s = responseStructs.get(apiKey);
  if (s === undefined || body === null || typeof body !== 'object') return body;
  return fitStruct(s, body as Record<string, unknown>, version) as T;
}
