/** Code for writing and reading one field value (body or tagged), for a known version context. */
import type { FieldSpec, FieldType, PrimitiveType } from './model.ts';
import { isNullableEver, tsPrimitive } from './types.ts';
import { cond, type Range } from './versions.ts';

/** How a field is coded at the versions where it is present. */
export interface FieldMode {
  /** 'true', 'false' or '_flex': whether compact (flexible) encodings are used. */
  flex: string;
  /** 'true', 'false' or a version condition: whether null is allowed. */
  nullable: string;
}

/** Works out compactness and nullability of `f` over `present` (the versions being coded). */
export function fieldMode(
  f: FieldSpec,
  present: Range,
  flexible: Range | null,
  forceFlex: boolean,
): FieldMode {
  let flex: string;
  if (forceFlex) flex = 'true';
  else {
    const fr = f.flexibleOverride === undefined ? flexible : f.flexibleOverride;
    const c = cond(fr, present);
    flex = c === 'true' || c === 'false' ? c : '_flex';
    // A per-field override is not the struct's flexibility: spell its condition out.
    if (flex === '_flex' && f.flexibleOverride !== undefined) flex = `(${c})`;
  }
  return { flex, nullable: cond(f.nullableVersions, present) };
}

function pick(flex: string, compact: string, classic: string): string {
  if (flex === 'true') return compact;
  if (flex === 'false') return classic;
  return `${flex} ? ${compact} : ${classic}`;
}

const FIXED_WRITE: Partial<Record<PrimitiveType, string>> = {
  int8: 'writeInt8',
  int16: 'writeInt16',
  int32: 'writeInt32',
  int64: 'writeInt64',
  uint16: 'writeUint16',
  float64: 'writeFloat64',
  bool: 'writeBoolean',
  uuid: 'writeUuid',
};

const FIXED_READ: Partial<Record<PrimitiveType, string>> = {
  int8: 'readInt8',
  int16: 'readInt16',
  int32: 'readInt32',
  int64: 'readInt64',
  uint16: 'readUint16',
  float64: 'readFloat64',
  bool: 'readBoolean',
  uuid: 'readUuid',
};

function lenKind(p: PrimitiveType): 'String' | 'Bytes' {
  return p === 'string' ? 'String' : 'Bytes';
}

/** Statements writing a non-null-checked primitive `x` to writer `w`. */
function writePrimitive(p: PrimitiveType, x: string, w: string, flex: string, nullable: boolean): string {
  const fixed = FIXED_WRITE[p];
  if (fixed) return `${w}.${fixed}(${x});`;
  const k = lenKind(p);
  const n = nullable ? 'Nullable' : '';
  return `${pick(flex, `${w}.writeCompact${n}${k}(${x})`, `${w}.write${n}${k}(${x})`)};`;
}

function readPrimitive(p: PrimitiveType, flex: string, nullable: boolean): string {
  const fixed = FIXED_READ[p];
  if (fixed) return `r.${fixed}()`;
  const k = lenKind(p);
  const n = nullable ? 'Nullable' : '';
  return pick(flex, `r.readCompact${n}${k}()`, `r.read${n}${k}()`);
}

/** Guards against null where the version does not allow it; '' when no guard is needed. */
function nullGuard(f: FieldSpec, owner: string, x: string, mode: FieldMode): string {
  if (mode.nullable === 'true') return '';
  if (mode.nullable === 'false') {
    return isNullableEver(f) ? `if (${x} === null) throw nullField('${owner}', '${f.key}', v);\n` : '';
  }
  return `if (${x} === null && !(${mode.nullable})) throw nullField('${owner}', '${f.key}', v);\n`;
}

/** Statements that encode `x` (the field's value) into writer `w`. */
export function encodeValue(f: FieldSpec, owner: string, x: string, w: string, mode: FieldMode): string {
  const t: FieldType = f.type;
  const canNull = mode.nullable !== 'false';
  if (t.kind === 'primitive') {
    return nullGuard(f, owner, x, mode) + writePrimitive(t.name, x, w, mode.flex, canNull);
  }
  if (t.kind === 'struct') {
    const call = `encode${t.struct.tsName}(${w}, ${x}, v);`;
    if (!canNull) return nullGuard(f, owner, x, mode) + call;
    const inner = `if (${x} === null) {\n${w}.writeInt8(-1);\n} else {\n${w}.writeInt8(1);\n${call}\n}`;
    if (mode.nullable === 'true') return inner;
    return `if (${mode.nullable}) {\n${inner}\n} else {\n${call}\n}`;
  }
  const e = t.element;
  const elem =
    e.kind === 'primitive'
      ? writePrimitive(e.name, '_a[_i]', w, mode.flex, false)
      : `encode${e.struct.tsName}(${w}, _a[_i], v);`;
  const len = (n: string) =>
    `${pick(mode.flex, `${w}.writeCompactArrayLength(${n})`, `${w}.writeArrayLength(${n})`)};`;
  const loop = `${len('_a.length')}\nfor (let _i = 0; _i < _a.length; _i++) ${elem}`;
  if (!canNull) return `{\nconst _a = ${x};\n${nullGuard(f, owner, '_a', mode)}${loop}\n}`;
  return `{\nconst _a = ${x};\n${nullGuard(f, owner, '_a', mode)}if (_a === null) ${len('-1')}\nelse {\n${loop}\n}\n}`;
}

/** Statements that decode the field's value from reader `r` and assign it to `dst`. */
export function decodeValue(f: FieldSpec, owner: string, dst: string, mode: FieldMode): string {
  const t: FieldType = f.type;
  if (t.kind === 'primitive') {
    const p = t.name;
    if (FIXED_READ[p] || mode.nullable === 'false' || mode.nullable === 'true') {
      return `${dst} = ${readPrimitive(p, mode.flex, mode.nullable === 'true')};`;
    }
    return `${dst} = ${mode.nullable} ? ${readPrimitive(p, mode.flex, true)} : ${readPrimitive(p, mode.flex, false)};`;
  }
  if (t.kind === 'struct') {
    const call = `decode${t.struct.tsName}(r, v)`;
    if (mode.nullable === 'false') return `${dst} = ${call};`;
    const withByte = `r.readInt8() < 0 ? null : ${call}`;
    if (mode.nullable === 'true') return `${dst} = ${withByte};`;
    return `${dst} = ${mode.nullable} ? ${withByte} : ${call};`;
  }
  const e = t.element;
  const elem =
    e.kind === 'primitive' ? readPrimitive(e.name, mode.flex, false) : `decode${e.struct.tsName}(r, v)`;
  const elemType = e.kind === 'primitive' ? tsPrimitive(e.name) : e.struct.tsName;
  const onNull =
    mode.nullable === 'false'
      ? `throw nullField('${owner}', '${f.key}', v);`
      : mode.nullable === 'true'
        ? `${dst} = null;`
        : `{\nif (!(${mode.nullable})) throw nullField('${owner}', '${f.key}', v);\n${dst} = null;\n}`;
  return [
    '{',
    `const _n = ${pick(mode.flex, 'r.readCompactArrayLength()', 'r.readArrayLength()')};`,
    `if (_n < 0) ${onNull}`,
    'else {',
    `const _a: ${elemType}[] = [];`,
    `for (let _i = 0; _i < _n; _i++) _a.push(${elem});`,
    `${dst} = _a;`,
    '}',
    '}',
  ].join('\n');
}
