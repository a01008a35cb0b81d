/**
 * The configuration of `tributary start`: every setting has a flag, a TRIBUTARY_* environment
 * variable and a config-file key, with one table of defaults (BROKER_DEFAULTS of the broker).
 * Precedence: flag > environment > config file > default.
 */
import { readFileSync } from 'node:fs';
import { BROKER_DEFAULTS, type BrokerOptions, GROUP_BROKER_DEFAULTS } from '@tributary/broker';

/** A bad configuration: the CLI prints the message and exits with status 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Kind = 'int' | 'bool' | 'string' | 'hostport' | 'bytes';

interface Setting {
  /** Config-file key and flag name (`--<key>`). */
  key: string;
  kind: Kind;
  /** Default as printed (undefined: derived, see the description). */
  default: string | undefined;
  description: string;
}

export const SETTINGS: readonly Setting[] = [
  {
    key: 'broker-id',
    kind: 'int',
    default: String(BROKER_DEFAULTS.brokerId),
    description: 'broker (node) id',
  },
  {
    key: 'listen',
    kind: 'hostport',
    default: `${BROKER_DEFAULTS.host}:${BROKER_DEFAULTS.port}`,
    description: 'Kafka listener HOST:PORT',
  },
  {
    key: 'advertise',
    kind: 'hostport',
    default: undefined,
    description: 'HOST:PORT given to clients (default: the listener)',
  },
  { key: 'data-dir', kind: 'string', default: BROKER_DEFAULTS.dataDir, description: 'data directory' },
  {
    key: 'wal',
    kind: 'string',
    default: undefined,
    description: 'WAL URI: file://<path> (default file://<data-dir>/wal) or memory://',
  },
  {
    key: 'wal-bytes',
    kind: 'bytes',
    default: String(BROKER_DEFAULTS.walBytes),
    description: 'size of a new file WAL',
  },
  {
    key: 'object-store',
    kind: 'string',
    default: undefined,
    description:
      'object store URI: file://<dir> (default file://<data-dir>/objects), s3://bucket/prefix?endpoint=…&region=…&forcePathStyle=true, memory://',
  },
  {
    key: 'object-store-faults',
    kind: 'string',
    default: undefined,
    description: 'drills: inject object-store faults, e.g. seed=7,latencyMs=5..50,putError=0.1,reset=0.01',
  },
  {
    key: 'metadata',
    kind: 'string',
    default: BROKER_DEFAULTS.metadata,
    description: 'metadata store: embedded (under <data-dir>/metadata), embedded://<dir> or memory',
  },
  {
    key: 'admin-listen',
    kind: 'hostport',
    default: '127.0.0.1:9644',
    description: 'admin HTTP listener (reserved: the admin API is not built yet)',
  },
  {
    key: 'auto-create-topics',
    kind: 'bool',
    default: String(BROKER_DEFAULTS.autoCreateTopics),
    description: 'create unknown topics on Metadata requests',
  },
  {
    key: 'num-partitions',
    kind: 'int',
    default: String(BROKER_DEFAULTS.numPartitions),
    description: 'partitions of auto-created topics',
  },
  {
    key: 'cache-bytes',
    kind: 'bytes',
    default: String(BROKER_DEFAULTS.cacheBytes),
    description: 'memory for not yet uploaded data',
  },
  {
    key: 'upload-bytes',
    kind: 'bytes',
    default: String(BROKER_DEFAULTS.uploadBytes),
    description: 'upload to object storage once this much is cached',
  },
  {
    key: 'upload-interval-ms',
    kind: 'int',
    default: String(BROKER_DEFAULTS.uploadIntervalMs),
    description: 'upload whatever is cached this often',
  },
  {
    key: 'compaction-interval-ms',
    kind: 'int',
    default: String(BROKER_DEFAULTS.compactionIntervalMs),
    description: 'object compaction interval',
  },
  {
    key: 'retention-check-interval-ms',
    kind: 'int',
    default: String(BROKER_DEFAULTS.retentionCheckIntervalMs),
    description: 'retention.ms / retention.bytes check interval',
  },
  {
    key: 'max-frame-bytes',
    kind: 'bytes',
    default: String(BROKER_DEFAULTS.maxFrameBytes),
    description: 'largest request (socket.request.max.bytes)',
  },
  {
    key: 'group-initial-rebalance-delay-ms',
    kind: 'int',
    default: String(GROUP_BROKER_DEFAULTS.groupInitialRebalanceDelayMs),
    description: 'classic groups: wait this long for more members of a new group',
  },
  {
    key: 'group-min-session-timeout-ms',
    kind: 'int',
    default: String(GROUP_BROKER_DEFAULTS.groupMinSessionTimeoutMs),
    description: 'classic groups: smallest session.timeout.ms a member may ask for',
  },
  {
    key: 'group-max-session-timeout-ms',
    kind: 'int',
    default: String(GROUP_BROKER_DEFAULTS.groupMaxSessionTimeoutMs),
    description: 'classic groups: largest session.timeout.ms a member may ask for',
  },
  {
    key: 'group-max-size',
    kind: 'int',
    default: String(GROUP_BROKER_DEFAULTS.groupMaxSize),
    description: 'classic groups: members per group',
  },
  {
    key: 'group-consumer-session-timeout-ms',
    kind: 'int',
    default: String(GROUP_BROKER_DEFAULTS.groupConsumerSessionTimeoutMs),
    description: 'KIP-848 consumer groups: member session timeout',
  },
  {
    key: 'group-consumer-heartbeat-interval-ms',
    kind: 'int',
    default: String(GROUP_BROKER_DEFAULTS.groupConsumerHeartbeatIntervalMs),
    description: 'KIP-848 consumer groups: heartbeat interval given to members',
  },
  {
    key: 'group-consumer-max-size',
    kind: 'int',
    default: String(GROUP_BROKER_DEFAULTS.groupConsumerMaxSize),
    description: 'KIP-848 consumer groups: members per group',
  },
  {
    key: 'group-consumer-assignors',
    kind: 'string',
    default: GROUP_BROKER_DEFAULTS.groupConsumerAssignors.join(','),
    description: 'KIP-848 server-side assignors (uniform, range); the first is the default',
  },
  {
    key: 'offsets-topic-partitions',
    kind: 'int',
    default: String(GROUP_BROKER_DEFAULTS.offsetsTopicPartitions),
    description: 'partitions of __consumer_offsets (fixed once it exists)',
  },
  {
    key: 'offsets-retention-minutes',
    kind: 'int',
    default: String(GROUP_BROKER_DEFAULTS.offsetsRetentionMinutes),
    description: 'committed offsets of a group empty this long expire',
  },
  {
    key: 'log-level',
    kind: 'string',
    default: 'info',
    description: 'trace, debug, info, warn, error, fatal or silent',
  },
];

const BY_KEY = new Map(SETTINGS.map((s) => [s.key, s]));

/** The environment variable of a setting: TRIBUTARY_ + upper snake case. */
export function envName(key: string): string {
  return `TRIBUTARY_${key.toUpperCase().replace(/-/g, '_')}`;
}

/** Parses `--key value` / `--key=value` flags (plus `--config <file>`). */
export function parseFlags(argv: readonly string[]): {
  values: Map<string, string>;
  configFile: string | undefined;
} {
  const values = new Map<string, string>();
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const key = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let value: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (value === undefined) {
      const next = argv[i + 1];
      const setting = BY_KEY.get(key);
      if (setting?.kind === 'bool' && (next === undefined || next.startsWith('--'))) value = 'true';
      else {
        if (next === undefined) throw new ConfigError(`flag --${key} needs a value`);
        value = next;
        i++;
      }
    }
    if (key === 'config') configFile = value;
    else if (!BY_KEY.has(key))
      throw new ConfigError(`unknown flag --${key} (see: tributary config --defaults)`);
    else values.set(key, value);
  }
  return { values, configFile };
}

/** Reads a config file: JSON (an object of keys) or `key=value` lines (# comments). */
export function readConfigFile(path: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  const out = new Map<string, string>();
  if (text.trimStart().startsWith('{')) {
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
    }
    for (const [k, v] of Object.entries(obj)) out.set(k, String(v));
  } else {
    for (const [n, raw] of text.split('\n').entries()) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const eq = line.indexOf('=');
      if (eq < 0) throw new ConfigError(`${path}:${n + 1}: expected key=value`);
      out.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
    }
  }
  for (const k of out.keys()) {
    if (!BY_KEY.has(k))
      throw new ConfigError(`${path}: unknown key '${k}' (see: tributary config --defaults)`);
  }
  return out;
}

function parseValue(
  s: Setting,
  raw: string,
  from: string,
): number | boolean | string | { host: string; port: number } {
  const bad = (why: string) => new ConfigError(`${from}: ${why}, got '${raw}'`);
  switch (s.kind) {
    case 'int': {
      if (!/^-?\d+$/.test(raw)) throw bad('expected an integer');
      return Number(raw);
    }
    case 'bytes': {
      const m = /^(\d+)\s*([kmgt]i?b?)?$/i.exec(raw.trim());
      if (!m) throw bad('expected a size like 1048576, 64MiB or 1GiB');
      const unit = (m[2] ?? '').toLowerCase()[0];
      const mult =
        unit === 'k'
          ? 1024
          : unit === 'm'
            ? 1024 ** 2
            : unit === 'g'
              ? 1024 ** 3
              : unit === 't'
                ? 1024 ** 4
                : 1;
      return Number(m[1]) * mult;
    }
    case 'bool':
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw bad('expected true or false');
    case 'hostport': {
      const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(raw);
      if (!m || Number(m[2]) > 65535) throw bad('expected HOST:PORT');
      return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
    }
    default:
      if (raw === '') throw bad('expected a value');
      return raw;
  }
}

/** The effective settings, with where each came from. */
export interface ResolvedConfig {
  broker: BrokerOptions;
  logLevel: string;
  adminListen: { host: string; port: number };
  sources: Map<string, string>;
}

/** Resolves flags, environment and config file into broker options; throws ConfigError. */
export function resolveConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const { values: flags, configFile } = parseFlags(argv);
  const file = configFile ?? env.TRIBUTARY_CONFIG;
  const fromFile = file === undefined ? new Map<string, string>() : readConfigFile(file);
  const raw = new Map<string, { value: string; from: string }>();
  for (const s of SETTINGS) {
    const e = env[envName(s.key)];
    if (flags.has(s.key)) raw.set(s.key, { value: flags.get(s.key)!, from: `--${s.key}` });
    else if (e !== undefined) raw.set(s.key, { value: e, from: envName(s.key) });
    else if (fromFile.has(s.key)) raw.set(s.key, { value: fromFile.get(s.key)!, from: `${file}: ${s.key}` });
    else if (s.default !== undefined) raw.set(s.key, { value: s.default, from: 'default' });
  }
  const v = (key: string) => {
    const r = raw.get(key);
    return r === undefined ? undefined : parseValue(BY_KEY.get(key)!, r.value, r.from);
  };
  const listen = v('listen') as { host: string; port: number };
  const advertise = v('advertise') as { host: string; port: number } | undefined;
  const logLevel = v('log-level') as string;
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) {
    throw new ConfigError(`${raw.get('log-level')!.from}: unknown log level '${logLevel}'`);
  }
  const positive = (key: string) => {
    const n = v(key) as number;
    if (!(n > 0)) throw new ConfigError(`${raw.get(key)!.from}: must be positive, got ${n}`);
    return n;
  };
  const assignors = (): string[] => {
    const list = (v('group-consumer-assignors') as string).split(',').map((a) => a.trim());
    for (const a of list)
      if (a !== 'uniform' && a !== 'range')
        throw new ConfigError(
          `${raw.get('group-consumer-assignors')!.from}: unknown assignor '${a}' (uniform, range)`,
        );
    return list;
  };
  const broker: BrokerOptions = {
    brokerId: v('broker-id') as number,
    host: listen.host,
    port: listen.port,
    dataDir: v('data-dir') as string,
    walBytes: positive('wal-bytes'),
    metadata: v('metadata') as string,
    autoCreateTopics: v('auto-create-topics') as boolean,
    numPartitions: positive('num-partitions'),
    cacheBytes: positive('cache-bytes'),
    uploadBytes: positive('upload-bytes'),
    uploadIntervalMs: v('upload-interval-ms') as number,
    compactionIntervalMs: v('compaction-interval-ms') as number,
    retentionCheckIntervalMs: v('retention-check-interval-ms') as number,
    maxFrameBytes: positive('max-frame-bytes'),
    groupInitialRebalanceDelayMs: v('group-initial-rebalance-delay-ms') as number,
    groupMinSessionTimeoutMs: positive('group-min-session-timeout-ms'),
    groupMaxSessionTimeoutMs: positive('group-max-session-timeout-ms'),
    groupMaxSize: positive('group-max-size'),
    groupConsumerSessionTimeoutMs: positive('group-consumer-session-timeout-ms'),
    groupConsumerHeartbeatIntervalMs: positive('group-consumer-heartbeat-interval-ms'),
    groupConsumerMaxSize: positive('group-consumer-max-size'),
    groupConsumerAssignors: assignors(),
    offsetsTopicPartitions: positive('offsets-topic-partitions'),
    offsetsRetentionMinutes: positive('offsets-retention-minutes'),
  };
  const wal = v('wal') as string | undefined;
  if (wal !== undefined) broker.wal = wal;
  const faults = v('object-store-faults') as string | undefined;
  if (faults !== undefined) broker.objectStoreFaults = faults;
  const objectStore = v('object-store') as string | undefined;
  if (objectStore !== undefined) broker.objectStore = objectStore;
  if (advertise) {
    broker.advertisedHost = advertise.host;
    broker.advertisedPort = advertise.port;
  }
  return {
    broker,
    logLevel,
    adminListen: v('admin-listen') as { host: string; port: number },
    sources: new Map([...raw].map(([k, r]) => [k, r.from])),
  };
}

/** The table printed by `tributary config --defaults`. */
export function defaultsTable(): string {
  const lines = [
    '# tributary start settings: --<key> flag, TRIBUTARY_<KEY> variable, <key>= in a --config file',
  ];
  for (const s of SETTINGS) {
    lines.push(`${s.key}=${s.default ?? ''}`.padEnd(48) + `# ${s.description} [${envName(s.key)}]`);
  }
  return lines.join('\n');
}
