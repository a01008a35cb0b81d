/**
 * Topic configurations: Kafka's names, types and defaults (the subset a client or tool can
 * set and describe), with validation. One source of truth for DescribeConfigs, CreateTopics,
 * AlterConfigs and IncrementalAlterConfigs.
 */

/** Config value types as DescribeConfigs v3+ reports them (ConfigType in Kafka). */
export const ConfigType = {
  UNKNOWN: 0,
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  SHORT: 4,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
  CLASS: 8,
  PASSWORD: 9,
} as const;

interface ConfigDef {
  readonly type: number;
  readonly default: string;
  readonly doc: string;
  /** Returns an error message for a bad value, or undefined. */
  validate(value: string): string | undefined;
  /** Applied by this broker (false: accepted and described, not acted on yet). */
  readonly enforced: boolean;
}

const LONG_MAX = '9223372036854775807';

function long(min: bigint): (v: string) => string | undefined {
  return (v) => {
    if (!/^-?\d+$/.test(v)) return `must be an integer, got '${v}'`;
    const n = BigInt(v);
    if (n < min || n > BigInt(LONG_MAX)) return `must be at least ${min}`;
    return undefined;
  };
}

function int(min: number, max = 2147483647): (v: string) => string | undefined {
  return (v) => {
    if (!/^-?\d+$/.test(v)) return `must be an integer, got '${v}'`;
    const n = Number(v);
    if (n < min || n > max) return `must be in [${min}, ${max}]`;
    return undefined;
  };
}

function oneOf(...values: string[]): (v: string) => string | undefined {
  return (v) => (values.includes(v) ? undefined : `must be one of ${values.join(', ')}`);
}

function listOf(...values: string[]): (v: string) => string | undefined {
  return (v) => {
    const parts = v.split(',').map((s) => s.trim());
    if (parts.length === 0 || parts.some((p) => !values.includes(p))) {
      return `must be a list of ${values.join(', ')}`;
    }
    return undefined;
  };
}

function ratio(v: string): string | undefined {
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 && n <= 1 ? undefined : 'must be a number in [0, 1]';
}

function bool(v: string): string | undefined {
  return v === 'true' || v === 'false' ? undefined : 'must be true or false';
}

/** Every topic config this broker knows, by Kafka name. */
export const TOPIC_CONFIGS: ReadonlyMap<string, ConfigDef> = new Map<string, ConfigDef>([
  [
    'cleanup.policy',
    {
      type: ConfigType.LIST,
      default: 'delete',
      doc: 'delete or compact',
      validate: listOf('delete', 'compact'),
      enforced: false,
    },
  ],
  [
    'compression.type',
    {
      type: ConfigType.STRING,
      default: 'producer',
      doc: 'final compression',
      validate: oneOf('producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'),
      enforced: false,
    },
  ],
  [
    'delete.retention.ms',
    { type: ConfigType.LONG, default: '86400000', doc: '', validate: long(0n), enforced: false },
  ],
  [
    'file.delete.delay.ms',
    { type: ConfigType.LONG, default: '60000', doc: '', validate: long(0n), enforced: false },
  ],
  [
    'flush.messages',
    {
      type: ConfigType.LONG,
      default: LONG_MAX,
      doc: 'every append is fsynced by the WAL',
      validate: long(1n),
      enforced: false,
    },
  ],
  [
    'flush.ms',
    {
      type: ConfigType.LONG,
      default: LONG_MAX,
      doc: 'every append is fsynced by the WAL',
      validate: long(0n),
      enforced: false,
    },
  ],
  [
    'index.interval.bytes',
    { type: ConfigType.INT, default: '4096', doc: '', validate: int(0), enforced: false },
  ],
  [
    'max.compaction.lag.ms',
    { type: ConfigType.LONG, default: LONG_MAX, doc: '', validate: long(1n), enforced: false },
  ],
  [
    'max.message.bytes',
    {
      type: ConfigType.INT,
      default: '1048588',
      doc: 'largest record batch',
      validate: int(0),
      enforced: true,
    },
  ],
  [
    'message.timestamp.type',
    {
      type: ConfigType.STRING,
      default: 'CreateTime',
      doc: 'CreateTime or LogAppendTime',
      validate: oneOf('CreateTime', 'LogAppendTime'),
      enforced: true,
    },
  ],
  [
    'min.cleanable.dirty.ratio',
    { type: ConfigType.DOUBLE, default: '0.5', doc: '', validate: ratio, enforced: false },
  ],
  [
    'min.compaction.lag.ms',
    { type: ConfigType.LONG, default: '0', doc: '', validate: long(0n), enforced: false },
  ],
  [
    'min.insync.replicas',
    {
      type: ConfigType.INT,
      default: '1',
      doc: 'the object store replicates',
      validate: int(1),
      enforced: false,
    },
  ],
  ['preallocate', { type: ConfigType.BOOLEAN, default: 'false', doc: '', validate: bool, enforced: false }],
  [
    'retention.bytes',
    {
      type: ConfigType.LONG,
      default: '-1',
      doc: 'per partition; -1 = unlimited',
      validate: long(-1n),
      enforced: true,
    },
  ],
  [
    'retention.ms',
    {
      type: ConfigType.LONG,
      default: '604800000',
      doc: '-1 = unlimited',
      validate: long(-1n),
      enforced: true,
    },
  ],
  [
    'segment.bytes',
    { type: ConfigType.INT, default: '1073741824', doc: '', validate: int(14), enforced: false },
  ],
  [
    'segment.index.bytes',
    { type: ConfigType.INT, default: '10485760', doc: '', validate: int(4), enforced: false },
  ],
  [
    'segment.jitter.ms',
    { type: ConfigType.LONG, default: '0', doc: '', validate: long(0n), enforced: false },
  ],
  [
    'segment.ms',
    { type: ConfigType.LONG, default: '604800000', doc: '', validate: long(1n), enforced: false },
  ],
  [
    'unclean.leader.election.enable',
    { type: ConfigType.BOOLEAN, default: 'false', doc: '', validate: bool, enforced: false },
  ],
]);

/** Thrown for an unknown config name or a bad value (INVALID_CONFIG). */
export class InvalidConfigError extends Error {
  override name = 'InvalidConfigError';
}

/** Checks one (name, value) pair; throws InvalidConfigError. */
export function validateTopicConfig(name: string, value: string | null): void {
  const def = TOPIC_CONFIGS.get(name);
  if (def === undefined) throw new InvalidConfigError(`unknown topic config '${name}'`);
  if (value === null) return;
  const problem = def.validate(value);
  if (problem !== undefined) throw new InvalidConfigError(`invalid value '${value}' for ${name}: ${problem}`);
}

/** The effective value of a config of a topic (its override, else the default). */
export function topicConfigValue(overrides: Readonly<Record<string, string>>, name: string): string {
  const v = overrides[name];
  if (v !== undefined) return v;
  const def = TOPIC_CONFIGS.get(name);
  if (def === undefined) throw new InvalidConfigError(`unknown topic config '${name}'`);
  return def.default;
}

/** The numeric value of a config (longs beyond 2^53 become Infinity). */
export function topicConfigNumber(overrides: Readonly<Record<string, string>>, name: string): number {
  const v = topicConfigValue(overrides, name);
  return v === LONG_MAX ? Number.POSITIVE_INFINITY : Number(v);
}
