/** Emits the interface, defaults and codec functions of one struct. */
import { decodeValue, encodeValue, fieldMode } from './field-io.ts';
import type { FieldSpec, MessageSpec, StructSpec } from './model.ts';
import { defaultLiteral, nonDefaultExpr, tsType } from './types.ts';
import { cond, intersect, type Range, rangeText } from './versions.ts';

/** Identifiers a field key may not be used as a local variable. */
const RESERVED = new Set(['r', 'v', 'w', 'm', 'default', 'delete', 'new', 'class', 'function', 'in', 'of']);

function local(f: FieldSpec): string {
  return RESERVED.has(f.key) || f.key.startsWith('_') ? `${f.key}_` : f.key;
}

/** The versions in which the field is a tagged field, or null. */
function taggedRange(f: FieldSpec): Range | null {
  return f.tag === null ? null : intersect(f.versions, f.taggedVersions);
}

function not(c: string): string {
  if (c === 'true') return 'false';
  if (c === 'false') return 'true';
  return `!(${c})`;
}

function and(a: string, b: string): string {
  if (a === 'true') return b;
  if (b === 'true') return a;
  return `${a} && ${b}`;
}

function fieldDoc(f: FieldSpec): string {
  const parts = [`v${rangeText(f.versions)}`];
  if (f.nullableVersions) parts.push(`nullable v${rangeText(f.nullableVersions)}`);
  if (f.tag !== null) parts.push(`tag ${f.tag}`);
  if (f.ignorable) parts.push('ignorable');
  if (f.defaultRaw !== undefined && f.defaultRaw !== '') parts.push(`default ${f.defaultRaw}`);
  return parts.join(', ');
}

export function emitInterface(s: StructSpec, doc: string): string {
  const lines = [`/** ${doc} */`, `export interface ${s.tsName} {`];
  for (const f of s.fields) {
    lines.push(`/** ${fieldDoc(f)} */`, `${f.key}: ${tsType(f)};`);
  }
  lines.push('}');
  return lines.join('\n');
}

/** `defaultX()` and `isDefaultX()` for structs used as single (non-array) fields. */
export function emitDefaults(s: StructSpec): string {
  const fields = s.fields.map((f) => `${f.key}: ${defaultLiteral(f)},`);
  const tests = s.fields.map((f) => `!(${nonDefaultExpr(f, `m.${f.key}`)})`);
  return [
    `/** ${s.tsName} with every field at its default. */`,
    `export function default${s.tsName}(): ${s.tsName} {`,
    `return {\n${fields.join('\n')}\n};`,
    '}',
    `/** Whether every field of \`m\` is at its default. */`,
    `export function isDefault${s.tsName}(m: ${s.tsName}): boolean {`,
    `return ${tests.length === 0 ? 'true' : tests.join(' &&\n')};`,
    '}',
  ].join('\n');
}

interface Ctx {
  msg: MessageSpec;
  s: StructSpec;
  /** Versions this struct's functions can run with. */
  ctx: Range;
  /** Whether a top-level version check is emitted. */
  root: boolean;
}

function versionCheck(c: Ctx): string {
  if (!c.root) return '';
  const { min, max } = c.msg.validVersions;
  return `if (v < ${min} || v > ${max}) throw unsupportedVersion('${c.msg.name}', v);\n`;
}

function flexDecl(body: string, c: Ctx): string {
  if (!body.includes('_flex')) return '';
  return `const _flex = ${cond(c.msg.flexibleVersions, c.ctx)};\n`;
}

export function emitEncode(c: Ctx): string {
  const { s, ctx, msg } = c;
  const out: string[] = [];
  const owner = s.tsName;
  for (const f of s.fields) {
    const x = `m.${f.key}`;
    const unsupported = `throw unsupportedField('${owner}', '${f.key}', v);`;
    if (f.tag === null) {
      const pc = cond(f.versions, ctx);
      if (pc === 'false') {
        if (!f.ignorable) out.push(`if (${nonDefaultExpr(f, x)}) ${unsupported}`);
        continue;
      }
      const present = intersect(f.versions, ctx)!;
      const enc = encodeValue(f, owner, x, 'w', fieldMode(f, present, msg.flexibleVersions, false));
      if (pc === 'true') out.push(enc);
      else if (f.ignorable) out.push(`if (${pc}) {\n${enc}\n}`);
      else out.push(`if (${pc}) {\n${enc}\n} else if (${nonDefaultExpr(f, x)}) ${unsupported}`);
    } else {
      const tc = cond(taggedRange(f), ctx);
      if (!f.ignorable && tc !== 'true')
        out.push(`if (${and(not(tc), nonDefaultExpr(f, x))}) ${unsupported}`);
    }
  }
  const flex = cond(msg.flexibleVersions, ctx);
  const fctx = intersect(msg.flexibleVersions, ctx);
  if (flex !== 'false' && fctx !== null) {
    const tagged = s.fields
      .filter((f) => f.tag !== null && cond(taggedRange(f), fctx) !== 'false')
      .sort((a, b) => a.tag! - b.tag!);
    let sec: string;
    if (tagged.length === 0) sec = 'w.writeEmptyTaggedFields();';
    else {
      const when = tagged.map((f) => and(cond(taggedRange(f), fctx), nonDefaultExpr(f, `m.${f.key}`)));
      const lines = ['let _nt = 0;', ...when.map((w) => `if (${w}) _nt++;`), 'w.writeUnsignedVarint(_nt);'];
      tagged.forEach((f, i) => {
        const present = intersect(taggedRange(f), fctx)!;
        const enc = encodeValue(
          f,
          owner,
          `m.${f.key}`,
          '_t',
          fieldMode(f, present, msg.flexibleVersions, true),
        );
        lines.push(
          `if (${when[i]}) {`,
          `w.writeUnsignedVarint(${f.tag});`,
          'const _t = new Writer(64);',
          enc,
          'writeTagged(w, _t);',
          '}',
        );
      });
      sec = lines.join('\n');
    }
    out.push(flex === 'true' ? sec : `if (_flex) {\n${sec}\n}`);
  }
  const body = out.join('\n');
  return [
    `/** Encodes ${s.tsName} at version \`v\`. */`,
    `export function encode${s.tsName}(w: Writer, m: ${s.tsName}, v: number): void {`,
    versionCheck(c) + flexDecl(body, c) + body,
    '}',
  ].join('\n');
}

export function emitDecode(c: Ctx): string {
  const { s, ctx, msg } = c;
  const out: string[] = [];
  const owner = s.tsName;
  for (const f of s.fields) {
    const name = local(f);
    const type = tsType(f);
    if (f.tag !== null) {
      out.push(`let ${name}: ${type} = ${defaultLiteral(f)};`);
      continue;
    }
    const pc = cond(f.versions, ctx);
    if (pc === 'false') {
      out.push(`const ${name}: ${type} = ${defaultLiteral(f)};`);
      continue;
    }
    const present = intersect(f.versions, ctx)!;
    const dec = decodeValue(f, owner, name, fieldMode(f, present, msg.flexibleVersions, false));
    const simple = /^[\w$]+ = ([^\n]*);$/.exec(dec);
    if (pc === 'true')
      out.push(simple ? `const ${name}: ${type} = ${simple[1]};` : `let ${name}: ${type};\n${dec}`);
    else out.push(`let ${name}: ${type} = ${defaultLiteral(f)};`, `if (${pc}) {\n${dec}\n}`);
  }
  const flex = cond(msg.flexibleVersions, ctx);
  const fctx = intersect(msg.flexibleVersions, ctx);
  if (flex !== 'false' && fctx !== null) {
    const tagged = s.fields
      .filter((f) => f.tag !== null && cond(taggedRange(f), fctx) !== 'false')
      .sort((a, b) => a.tag! - b.tag!);
    let sec: string;
    if (tagged.length === 0) sec = 'r.readTaggedFields();';
    else {
      const cases = tagged.map((f) => {
        const present = intersect(taggedRange(f), fctx)!;
        const dec = decodeValue(f, owner, local(f), fieldMode(f, present, msg.flexibleVersions, true));
        const tc = cond(taggedRange(f), fctx);
        const inner = `${dec}\ncheckTaggedEnd(r, _end, _tag);`;
        return `case ${f.tag}:\n${tc === 'true' ? inner : `if (${tc}) {\n${inner}\n}`}\nbreak;`;
      });
      sec = [
        'const _count = taggedCount(r);',
        'let _last = -1;',
        'for (let _k = 0; _k < _count; _k++) {',
        'const _tag = r.readUnsignedVarint();',
        'if (_tag <= _last) throw tagOrder(_tag, _last);',
        '_last = _tag;',
        'const _end = taggedEnd(r);',
        'switch (_tag) {',
        ...cases,
        '}',
        'r.offset = _end;',
        '}',
      ].join('\n');
    }
    out.push(flex === 'true' ? sec : `if (_flex) {\n${sec}\n}`);
  }
  const fields = s.fields.map((f) => (local(f) === f.key ? f.key : `${f.key}: ${local(f)}`));
  out.push(`return { ${fields.join(', ')} };`);
  const body = out.join('\n');
  return [
    `/** Decodes ${s.tsName} at version \`v\`. */`,
    `export function decode${s.tsName}(r: Reader, v: number): ${s.tsName} {`,
    versionCheck(c) + flexDecl(body, c) + body,
    '}',
  ].join('\n');
}

export function emitCodecs(msg: MessageSpec, s: StructSpec): string {
  const c: Ctx = { msg, s, ctx: s.used ?? msg.validVersions, root: s === msg.root };
  return `${emitEncode(c)}\n\n${emitDecode(c)}`;
}
