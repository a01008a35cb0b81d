/** Emits generated/schema.ts: the parsed field trees, for tests and tools. */
import { HEADER } from './emit-message.ts';
import type { FieldSpec, MessageSpec, StructSpec } from './model.ts';
import { defaultLiteral } from './types.ts';
import { rangeLiteral } from './versions.ts';

function structConst(s: StructSpec): string {
  return `S_${s.tsName}`;
}

/** The default as a literal, or undefined for "empty" ([] / empty bytes / default struct). */
function schemaDefault(f: FieldSpec): string {
  const d = defaultLiteral(f);
  if (d === '[]' || d === 'EMPTY_BYTES' || d.startsWith('default')) return 'undefined';
  return d;
}

function fieldLiteral(f: FieldSpec): string {
  const t = f.type;
  const parts = [`name: '${f.name}'`, `key: '${f.key}'`];
  if (t.kind === 'primitive') parts.push(`type: '${t.name}'`);
  else if (t.kind === 'struct') parts.push(`type: 'struct'`, `struct: ${structConst(t.struct)}`);
  else {
    const e = t.element;
    parts.push(`type: 'array'`);
    if (e.kind === 'primitive') parts.push(`element: '${e.name}'`);
    else parts.push(`element: 'struct'`, `struct: ${structConst(e.struct)}`);
  }
  parts.push(`versions: ${rangeLiteral(f.versions)}`);
  // Absent optional properties mean: never nullable, never tagged, not ignorable, empty default.
  if (f.nullableVersions !== null) parts.push(`nullableVersions: ${rangeLiteral(f.nullableVersions)}`);
  if (f.tag !== null) parts.push(`taggedVersions: ${rangeLiteral(f.taggedVersions)}`, `tag: ${f.tag}`);
  if (f.ignorable) parts.push('ignorable: true');
  const d = schemaDefault(f);
  if (d !== 'undefined') parts.push(`default: ${d}`);
  if (f.flexibleOverride !== undefined) parts.push(`flexibleVersions: ${rangeLiteral(f.flexibleOverride)}`);
  return `    { ${parts.join(', ')} },`;
}

export function emitSchema(messages: MessageSpec[]): string {
  const out: string[] = [];
  for (const m of messages) {
    for (const s of m.structs) {
      out.push(
        `const ${structConst(s)}: StructSchema = {`,
        `  name: '${s.name}',`,
        `  tsName: '${s.tsName}',`,
        '  fields: [',
        ...s.fields.map(fieldLiteral),
        '  ],',
        '};',
      );
    }
  }
  const msgs = messages.map((m) =>
    [
      '  {',
      `    name: '${m.name}',`,
      `    type: '${m.type}',`,
      `    apiKey: ${m.apiKey},`,
      `    validVersions: ${rangeLiteral(m.validVersions)},`,
      `    flexibleVersions: ${rangeLiteral(m.flexibleVersions)},`,
      `    struct: ${structConst(m.root)},`,
      '  },',
    ].join('\n'),
  );
  return `${HEADER}

/** Kafka's primitive field types. */
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

/** An inclusive version range; "N+" ends at 32767. */
export type VersionRange = readonly [number, number];

/** One field of a message or struct. */
export interface FieldSchema {
  /** Kafka's name (PascalCase). */
  readonly name: string;
  /** The property name in the generated interfaces (camelCase). */
  readonly key: string;
  readonly type: PrimitiveType | 'struct' | 'array';
  /** Element type of an array. */
  readonly element?: PrimitiveType | 'struct';
  /** The struct of a struct field or of a struct array's elements. */
  readonly struct?: StructSchema;
  readonly versions: VersionRange | null;
  /** Versions in which null is allowed; absent when never. */
  readonly nullableVersions?: VersionRange | null;
  /** Versions in which the field is tagged (already limited to flexible versions); absent when never. */
  readonly taggedVersions?: VersionRange | null;
  /** The tag of a tagged field. */
  readonly tag?: number;
  /** Whether a non-default value may be silently dropped at versions without the field. */
  readonly ignorable?: boolean;
  /** The default value; absent means empty (empty array, empty bytes, default struct). */
  readonly default?: number | bigint | boolean | string | null;
  /** A per-field flexibleVersions override (RequestHeader.ClientId: none). */
  readonly flexibleVersions?: VersionRange | null;
}

export interface StructSchema {
  /** Kafka's struct name. */
  readonly name: string;
  /** The generated interface name. */
  readonly tsName: string;
  readonly fields: readonly FieldSchema[];
}

export interface MessageSchema {
  /** Also the generated interface name, and the suffix of its encode/decode functions. */
  readonly name: string;
  readonly type: 'request' | 'response' | 'header' | 'data';
  readonly apiKey: number | null;
  readonly validVersions: VersionRange;
  readonly flexibleVersions: VersionRange | null;
  readonly struct: StructSchema;
}

${out.join('\n')}

/** Every message definition the codecs were generated from, sorted by name. */
export const messageSchemas: readonly MessageSchema[] = [
${msgs.join('\n')}
];

/** Message schemas by name. */
export const messageSchemaByName: ReadonlyMap<string, MessageSchema> = new Map(
  messageSchemas.map((m): [string, MessageSchema] => [m.name, m]),
);
`;
}
