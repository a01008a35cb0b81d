import {
  type Compare,
  KEY_BYTES_MAX,
  type KeyValue,
  MetadataError,
  RANGE_LIMIT_MAX,
  type RangeOptions,
  TXN_OPS_MAX,
  type Txn,
  type TxnOp,
  VALUE_BYTES_MAX,
} from './types.ts';

/** Throws MetadataError('invalid') unless `key` is a non-empty string within the size limit. */
export function checkKey(key: unknown, what = 'key'): asserts key is string {
  if (typeof key !== 'string' || key.length === 0)
    throw new MetadataError('invalid', `${what} must be a non-empty string`);
  if (Buffer.byteLength(key) > KEY_BYTES_MAX)
    throw new MetadataError('invalid', `${what} is longer than ${KEY_BYTES_MAX} bytes`);
}

/** Throws MetadataError('invalid') unless `prefix` is a string within the key size limit ('' allowed). */
export function checkPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string') throw new MetadataError('invalid', 'prefix must be a string');
  if (Buffer.byteLength(prefix) > KEY_BYTES_MAX)
    throw new MetadataError('invalid', `prefix is longer than ${KEY_BYTES_MAX} bytes`);
}

/** Validated page size of a range call. */
export function rangeLimit(options: RangeOptions | undefined): number {
  const limit = options?.limit ?? 1000;
  if (!Number.isInteger(limit) || limit < 1 || limit > RANGE_LIMIT_MAX) {
    throw new MetadataError(
      'invalid',
      `range limit must be an integer in [1, ${RANGE_LIMIT_MAX}], got ${limit}`,
    );
  }
  if (options?.after !== undefined && typeof options.after !== 'string') {
    throw new MetadataError('invalid', 'range after must be a string');
  }
  return limit;
}

function checkCompare(c: Compare): void {
  checkKey(c.key, 'compare key');
  switch (c.target) {
    case 'revision':
    case 'createRevision':
    case 'version':
      if (typeof c.value !== 'number' || !Number.isInteger(c.value)) {
        throw new MetadataError('invalid', `compare ${c.target} needs an integer value`);
      }
      break;
    case 'value':
      if (!Buffer.isBuffer(c.value)) throw new MetadataError('invalid', 'compare value needs a Buffer');
      break;
    case 'exists':
      if (typeof c.value !== 'boolean') throw new MetadataError('invalid', 'compare exists needs a boolean');
      if (c.op !== '==' && c.op !== '!=')
        throw new MetadataError('invalid', 'compare exists supports only == and !=');
      return;
    default:
      throw new MetadataError('invalid', `unknown compare target ${(c as { target: unknown }).target}`);
  }
  if (!['==', '!=', '<', '>'].includes(c.op))
    throw new MetadataError('invalid', `unknown compare op ${c.op}`);
}

function checkBranch(ops: readonly TxnOp[] | undefined, name: string): void {
  if (ops === undefined) return;
  if (!Array.isArray(ops)) throw new MetadataError('invalid', `txn ${name} must be an array`);
  if (ops.length > TXN_OPS_MAX)
    throw new MetadataError('invalid', `txn ${name} has more than ${TXN_OPS_MAX} ops`);
  const written = new Set<string>();
  const prefixes: string[] = [];
  const read: string[] = [];
  for (const op of ops) {
    switch (op.type) {
      case 'put':
        checkKey(op.key);
        if (!Buffer.isBuffer(op.value))
          throw new MetadataError('invalid', `put ${op.key}: value must be a Buffer`);
        if (op.value.length > VALUE_BYTES_MAX) {
          throw new MetadataError('invalid', `put ${op.key}: value larger than ${VALUE_BYTES_MAX} bytes`);
        }
        if (op.lease !== undefined && typeof op.lease !== 'string') {
          throw new MetadataError('invalid', `put ${op.key}: lease must be a string`);
        }
        if (written.has(op.key)) throw new MetadataError('invalid', `txn ${name} writes ${op.key} twice`);
        written.add(op.key);
        break;
      case 'delete':
        checkKey(op.key);
        if (written.has(op.key)) throw new MetadataError('invalid', `txn ${name} writes ${op.key} twice`);
        written.add(op.key);
        break;
      case 'deleteRange':
        checkPrefix(op.prefix);
        prefixes.push(op.prefix);
        break;
      case 'get':
        checkKey(op.key);
        read.push(op.key);
        break;
      default:
        throw new MetadataError('invalid', `unknown txn op ${(op as { type: unknown }).type}`);
    }
  }
  const covered = (key: string) => prefixes.some((p) => key.startsWith(p));
  for (const key of written) {
    if (covered(key)) throw new MetadataError('invalid', `txn ${name} writes ${key} twice (deleteRange)`);
  }
  for (let i = 0; i < prefixes.length; i++) {
    for (let j = 0; j < prefixes.length; j++) {
      if (i !== j && prefixes[j]!.startsWith(prefixes[i]!)) {
        throw new MetadataError('invalid', `txn ${name} has overlapping deleteRange prefixes`);
      }
    }
  }
  for (const key of read) {
    if (written.has(key) || covered(key))
      throw new MetadataError('invalid', `txn ${name} both reads and writes ${key}`);
  }
}

/** Throws MetadataError('invalid') unless the transaction follows the rules of {@link Txn}. */
export function checkTxn(txn: Txn): void {
  if (txn === null || typeof txn !== 'object') throw new MetadataError('invalid', 'txn must be an object');
  if (txn.compare !== undefined) {
    if (!Array.isArray(txn.compare)) throw new MetadataError('invalid', 'txn compare must be an array');
    if (txn.compare.length > TXN_OPS_MAX)
      throw new MetadataError('invalid', `txn has more than ${TXN_OPS_MAX} compares`);
    for (const c of txn.compare) checkCompare(c);
  }
  checkBranch(txn.success, 'success');
  checkBranch(txn.failure, 'failure');
}

function ordered(diff: number, op: Compare['op']): boolean {
  switch (op) {
    case '==':
      return diff === 0;
    case '!=':
      return diff !== 0;
    case '<':
      return diff < 0;
    case '>':
      return diff > 0;
  }
}

/** Evaluate one (validated) comparison against the current value of its key. */
export function evalCompare(c: Compare, kv: KeyValue | undefined): boolean {
  switch (c.target) {
    case 'exists':
      return (kv !== undefined) === (c.op === '==' ? c.value : !c.value);
    case 'value':
      return kv !== undefined && ordered(Buffer.compare(kv.value, c.value), c.op);
    case 'revision':
      return ordered((kv?.revision ?? 0) - c.value, c.op);
    case 'createRevision':
      return ordered((kv?.createRevision ?? 0) - c.value, c.op);
    case 'version':
      return ordered((kv?.version ?? 0) - c.value, c.op);
  }
}
