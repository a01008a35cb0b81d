/** TypeScript types, default values and "is this the default" tests for fields. */
import type { FieldSpec, FieldType, PrimitiveType } from './model.ts';

export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

const TS_PRIMITIVE: Record<PrimitiveType, string> = {
  int8: 'number',
  int16: 'number',
  int32: 'number',
  int64: 'bigint',
  uint16: 'number',
  float64: 'number',
  bool: 'boolean',
  string: 'string',
  bytes: 'Buffer',
  records: 'Buffer',
  uuid: 'string',
};

export function tsPrimitive(p: PrimitiveType): string {
  return TS_PRIMITIVE[p];
}

export function isNullableEver(f: FieldSpec): boolean {
  return f.nullableVersions !== null || (f.type.kind === 'primitive' && f.type.name === 'records');
}

export function tsType(f: FieldSpec): string {
  const base = tsBaseType(f.type);
  return isNullableEver(f) ? `${base} | null` : base;
}

function tsBaseType(t: FieldType): string {
  if (t.kind === 'primitive') return TS_PRIMITIVE[t.name];
  if (t.kind === 'struct') return t.struct.tsName;
  const e = t.element;
  return `${e.kind === 'primitive' ? TS_PRIMITIVE[e.name] : e.struct.tsName}[]`;
}

function parseInteger(raw: string, where: string): bigint {
  const s = raw.trim();
  const neg = s.startsWith('-');
  const body = neg ? s.slice(1) : s;
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(body)) throw new Error(`${where}: bad integer default "${raw}"`);
  const v = BigInt(body);
  return neg ? -v : v;
}

const INT_BOUNDS: Partial<Record<PrimitiveType, [bigint, bigint]>> = {
  int8: [-128n, 127n],
  int16: [-32768n, 32767n],
  int32: [-2147483648n, 2147483647n],
  int64: [-(1n << 63n), (1n << 63n) - 1n],
  uint16: [0n, 65535n],
};

/**
 * The default value as a TS expression, or `null` for defaults built from nested structs
 * (callers emit `defaultX()`), following Kafka's rules.
 */
export function defaultLiteral(f: FieldSpec): string {
  const raw = f.defaultRaw;
  const where = f.name;
  const t = f.type;
  if (raw === 'null') {
    if (!isNullableEver(f)) throw new Error(`${where}: default null on a non-nullable field`);
    return 'null';
  }
  if (t.kind === 'array') {
    if (raw !== undefined && raw !== '') throw new Error(`${where}: arrays take no default`);
    return '[]';
  }
  if (t.kind === 'struct') {
    if (raw !== undefined && raw !== '') throw new Error(`${where}: structs take no default`);
    return `default${t.struct.tsName}()`;
  }
  switch (t.name) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint16':
    case 'int64': {
      const v = raw === undefined || raw === '' ? 0n : parseInteger(raw, where);
      const [lo, hi] = INT_BOUNDS[t.name]!;
      if (v < lo || v > hi) throw new Error(`${where}: default ${raw} out of range for ${t.name}`);
      return t.name === 'int64' ? `${v}n` : `${v}`;
    }
    case 'float64': {
      const v = raw === undefined || raw === '' ? 0 : Number(raw);
      if (Number.isNaN(v) && raw !== 'NaN') throw new Error(`${where}: bad float default ${raw}`);
      return Object.is(v, -0) ? '-0' : `${v}`;
    }
    case 'bool':
      if (raw === undefined || raw === '' || raw === 'false') return 'false';
      if (raw === 'true') return 'true';
      throw new Error(`${where}: bad bool default ${raw}`);
    case 'string':
      return JSON.stringify(raw ?? '');
    case 'uuid':
      if (raw !== undefined && raw !== '') throw new Error(`${where}: uuid defaults unsupported`);
      return `'${ZERO_UUID}'`;
    case 'bytes':
      if (raw !== undefined && raw !== '') throw new Error(`${where}: bytes defaults unsupported`);
      return 'EMPTY_BYTES';
    case 'records':
      return 'null';
  }
}

/** A boolean TS expression: `x` differs from the field's default (Kafka's "non-default"). */
export function nonDefaultExpr(f: FieldSpec, x: string): string {
  const d = defaultLiteral(f);
  const nullable = isNullableEver(f);
  if (d === 'null') return `${x} !== null`;
  const t = f.type;
  const orNull = (e: string) => (nullable ? `(${x} === null || ${e})` : e);
  if (t.kind === 'array') return orNull(`${x}.length !== 0`);
  if (t.kind === 'struct') return orNull(`!isDefault${t.struct.tsName}(${x})`);
  if (t.name === 'bytes') return orNull(`${x}.length !== 0`);
  if (t.name === 'float64') return `!Object.is(${x}, ${d})`;
  return `${x} !== ${d}`;
}
