export { ProtocolError, type ProtocolErrorKind, truncated } from './errors.ts';
export { MAX_TAGGED_FIELDS, Reader } from './reader.ts';
export { Writer, ZERO_COPY_THRESHOLD } from './writer.ts';
