/** Parsing Kafka's message JSON into a resolved model the emitters walk. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hull, intersect, parseRange, type Range } from './versions.ts';

export type PrimitiveType =
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint16'
  | 'float64'
  | 'bool'
  | 'string'
  | 'bytes'
  | 'records'
  | 'uuid';

const PRIMITIVES = new Set<string>([
  'int8',
  'int16',
  'int32',
  'int64',
  'uint16',
  'float64',
  'bool',
  'string',
  'bytes',
  'records',
  'uuid',
]);

export type FieldType =
  | { kind: 'primitive'; name: PrimitiveType }
  | { kind: 'struct'; struct: StructSpec }
  | {
      kind: 'array';
      element: { kind: 'primitive'; name: PrimitiveType } | { kind: 'struct'; struct: StructSpec };
    };

export interface FieldSpec {
  /** Kafka's PascalCase name. */
  name: string;
  /** camelCase property name. */
  key: string;
  type: FieldType;
  versions: Range | null;
  nullableVersions: Range | null;
  /** Versions in which the field is a tagged field (null when never tagged). */
  taggedVersions: Range | null;
  tag: number | null;
  ignorable: boolean;
  /** The raw "default" string, if any. */
  defaultRaw: string | undefined;
  /** A per-field "flexibleVersions" override (strings and bytes only). */
  flexibleOverride: Range | null | undefined;
}

export interface StructSpec {
  /** Kafka's struct type name (or the message name for the top level). */
  name: string;
  /** TypeScript interface name, unique within the output. */
  tsName: string;
  fields: FieldSpec[];
  /** Hull of the versions in which this struct can be encoded or decoded. */
  used: Range | null;
}

export interface MessageSpec {
  file: string;
  name: string;
  type: 'request' | 'response' | 'header' | 'data';
  apiKey: number | null;
  listeners: string[];
  validVersions: Range;
  flexibleVersions: Range | null;
  deprecatedVersions: Range | null;
  latestVersionUnstable: boolean;
  root: StructSpec;
  /** Every struct of the message, children before parents. */
  structs: StructSpec[];
}

/** Removes // and /* comments outside string literals. */
export function stripComments(text: string): string {
  let out = '';
  let i = 0;
  let inString = false;
  while (i < text.length) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') {
        out += text[i + 1] ?? '';
        i += 2;
        continue;
      }
      if (c === '"') inString = false;
      i++;
    } else if (c === '"') {
      inString = true;
      out += c;
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function camel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

interface RawField {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  ignorable?: boolean;
  default?: string | number | boolean;
  flexibleVersions?: string;
  fields?: RawField[];
}

interface RawMessage {
  name: string;
  type: string;
  apiKey?: number;
  listeners?: string[];
  validVersions: string;
  flexibleVersions: string;
  deprecatedVersions?: string;
  latestVersionUnstable?: boolean;
  fields: RawField[];
  commonStructs?: { name: string; versions?: string; fields: RawField[] }[];
}

/** Parses one message definition. */
export function parseMessage(file: string, raw: RawMessage): MessageSpec {
  const where = raw.name;
  const validVersions = parseRange(raw.validVersions, `${where}.validVersions`);
  if (validVersions === null) throw new Error(`${where}: no valid versions`);
  const flexibleVersions = parseRange(raw.flexibleVersions, `${where}.flexibleVersions`);
  const structs = new Map<string, StructSpec>();
  const rawStructs = new Map<string, RawField[]>();

  // Register every named struct (common and inline) before resolving references.
  const register = (name: string, fields: RawField[]) => {
    if (rawStructs.has(name)) throw new Error(`${where}: struct ${name} defined twice`);
    rawStructs.set(name, fields);
    structs.set(name, { name, tsName: `${raw.name}${name}`, fields: [], used: null });
  };
  const collect = (fields: RawField[]) => {
    for (const f of fields) {
      if (f.fields) {
        register(f.type.replace(/^\[\]/, ''), f.fields);
        collect(f.fields);
      }
    }
  };
  for (const cs of raw.commonStructs ?? []) register(cs.name, cs.fields);
  for (const cs of raw.commonStructs ?? []) collect(cs.fields);
  collect(raw.fields);

  const resolveType = (t: string, fieldWhere: string): FieldType => {
    if (t.startsWith('[]')) {
      const inner = resolveType(t.slice(2), fieldWhere);
      if (inner.kind === 'array') throw new Error(`${fieldWhere}: nested arrays`);
      return { kind: 'array', element: inner };
    }
    if (PRIMITIVES.has(t)) return { kind: 'primitive', name: t as PrimitiveType };
    const s = structs.get(t);
    if (!s) throw new Error(`${fieldWhere}: unknown type ${t}`);
    return { kind: 'struct', struct: s };
  };
  const parseFields = (fields: RawField[], owner: string): FieldSpec[] =>
    fields.map((f) => {
      const fw = `${owner}.${f.name}`;
      const versions = parseRange(f.versions, `${fw}.versions`);
      const taggedVersions =
        f.taggedVersions === undefined ? null : parseRange(f.taggedVersions, `${fw}.taggedVersions`);
      if ((f.tag === undefined) !== (taggedVersions === null)) {
        throw new Error(`${fw}: tag and taggedVersions must come together`);
      }
      return {
        name: f.name,
        key: camel(f.name),
        type: resolveType(f.type, fw),
        versions,
        nullableVersions:
          f.nullableVersions === undefined ? null : parseRange(f.nullableVersions, `${fw}.nullableVersions`),
        taggedVersions: intersect(taggedVersions, flexibleVersions),
        tag: f.tag ?? null,
        ignorable: f.ignorable === true,
        defaultRaw: f.default === undefined ? undefined : String(f.default),
        flexibleOverride:
          f.flexibleVersions === undefined
            ? undefined
            : parseRange(f.flexibleVersions, `${fw}.flexibleVersions`),
      };
    });
  for (const [name, fields] of rawStructs) structs.get(name)!.fields = parseFields(fields, name);

  const root: StructSpec = {
    name: raw.name,
    tsName: raw.name,
    fields: parseFields(raw.fields, raw.name),
    used: validVersions,
  };
  computeUsage(root);
  const ordered: StructSpec[] = [];
  const seen = new Set<StructSpec>();
  const visit = (s: StructSpec) => {
    if (seen.has(s)) return;
    seen.add(s);
    for (const f of s.fields) {
      const t = f.type.kind === 'array' ? f.type.element : f.type;
      if (t.kind === 'struct') visit(t.struct);
    }
    ordered.push(s);
  };
  visit(root);

  const type = raw.type;
  if (type !== 'request' && type !== 'response' && type !== 'header' && type !== 'data') {
    throw new Error(`${where}: unknown message type ${type}`);
  }
  return {
    file,
    name: raw.name,
    type,
    apiKey: raw.apiKey ?? null,
    listeners: raw.listeners ?? [],
    validVersions,
    flexibleVersions,
    deprecatedVersions:
      raw.deprecatedVersions === undefined ? null : parseRange(raw.deprecatedVersions, `${where}.deprecated`),
    latestVersionUnstable: raw.latestVersionUnstable === true,
    root,
    structs: ordered,
  };
}

/** Propagates the versions each struct can be used in, from the root down (to a fixed point). */
function computeUsage(root: StructSpec): void {
  const work: StructSpec[] = [root];
  while (work.length > 0) {
    const s = work.pop()!;
    for (const f of s.fields) {
      const t = f.type.kind === 'array' ? f.type.element : f.type;
      if (t.kind !== 'struct') continue;
      const present = intersect(f.versions, s.used);
      const next = hull(t.struct.used, present);
      const before = t.struct.used;
      if (next !== null && (before === null || next.min !== before.min || next.max !== before.max)) {
        t.struct.used = next;
        work.push(t.struct);
      }
    }
  }
}

/** Reads every *.json message definition in `dir`, sorted by file name. */
export function loadMessages(dir: string): MessageSpec[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  return files.map((f) => {
    const text = readFileSync(join(dir, f), 'utf8');
    let raw: RawMessage;
    try {
      raw = JSON.parse(stripComments(text)) as RawMessage;
    } catch (e) {
      throw new Error(`${f}: ${(e as Error).message}`);
    }
    return parseMessage(f, raw);
  });
}
