/** The fixed helper module the generated codecs import (emitted as generated/runtime.ts). */
export const RUNTIME_SOURCE = `import { ProtocolError } from '../primitives/errors.ts';
import { MAX_TAGGED_FIELDS, type Reader } from '../primitives/reader.ts';
import type { Writer } from '../primitives/writer.ts';

/** The shared empty default of non-nullable bytes fields. */
export const EMPTY_BYTES: Buffer = Buffer.alloc(0);

/** The all-zero UUID, Kafka's default for uuid fields. */
export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

export function unsupportedVersion(message: string, v: number): ProtocolError {
  return new ProtocolError(\`\${message} has no version \${v}\`, 'unsupported');
}

export function unsupportedField(owner: string, field: string, v: number): ProtocolError {
  return new ProtocolError(\`\${owner}.\${field} cannot be sent at version \${v} (non-default value)\`, 'unencodable');
}

export function nullField(owner: string, field: string, v: number): ProtocolError {
  return new ProtocolError(\`\${owner}.\${field} is not nullable at version \${v}\`, 'invalid');
}

export function tagOrder(tag: number, last: number): ProtocolError {
  return new ProtocolError(\`tagged fields out of order: \${tag} after \${last}\`);
}

/** Reads a tagged-field count, bounded by MAX_TAGGED_FIELDS and the bytes left. */
export function taggedCount(r: Reader): number {
  const n = r.readUnsignedVarint();
  if (n > MAX_TAGGED_FIELDS || n > r.remaining()) throw new ProtocolError(\`implausible tagged field count \${n}\`);
  return n;
}

/** Reads a tagged field's size and returns the offset where its data ends. */
export function taggedEnd(r: Reader): number {
  const size = r.readUnsignedVarint();
  const end = r.offset + size;
  if (end > r.end) throw new ProtocolError(\`tagged field of \${size} bytes overruns the input\`, 'truncated');
  return end;
}

/** Checks that a known tagged field consumed exactly its declared size. */
export function checkTaggedEnd(r: Reader, end: number, tag: number): void {
  if (r.offset !== end) throw new ProtocolError(\`tagged field \${tag}: size does not match its contents\`);
}

/** Appends a tagged field's encoded value (from its own writer) with its size prefix. */
export function writeTagged(w: Writer, t: Writer): void {
  const b = t.toBuffer();
  w.writeUnsignedVarint(b.length);
  w.writeRaw(b);
}
`;
