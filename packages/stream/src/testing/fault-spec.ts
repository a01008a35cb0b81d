import {
  type FaultOp,
  type FaultRates,
  type FaultyObjectStoreOptions,
  faultOps,
  type MsRange,
  normalizeOptions,
} from './fault-options.ts';

/** A fault spec string that could not be parsed; the message says which part and why. */
export class FaultSpecError extends Error {
  override readonly name = 'FaultSpecError';
}

const rateFields: Record<string, keyof FaultRates> = {
  error: 'error',
  reset: 'reset',
  afterWrite: 'afterWrite',
  slowRead: 'slowRead',
};

const scalarKeys = ['seed', 'latencyMs', 'latency', 'status', 'slowReadMs', 'trickleBps'] as const;

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Every key a spec may use, mapped to what it sets. */
function knownKeys(): Map<string, { op?: FaultOp; rate?: keyof FaultRates; scalar?: string }> {
  const keys = new Map<string, { op?: FaultOp; rate?: keyof FaultRates; scalar?: string }>();
  for (const k of scalarKeys) keys.set(k, { scalar: k });
  for (const [name, rate] of Object.entries(rateFields)) {
    keys.set(name, { rate });
    for (const op of faultOps) keys.set(`${op}${capitalize(name)}`, { op, rate });
  }
  return keys;
}

/** The grammar, for help texts and error messages. */
export const faultSpecHelp =
  'comma-separated key=value: seed=<uint32>, latencyMs=<ms>|<min>..<max>, latency=uniform|log, ' +
  'status=503|429|mixed, slowReadMs=<ms>|<min>..<max>, trickleBps=<bytes/s>, and probabilities ' +
  'in [0,1]: error, reset, afterWrite, slowRead (all operations), or per operation ' +
  `<op>Error, <op>Reset, <op>AfterWrite, <op>SlowRead with <op> one of ${faultOps.join(', ')}. ` +
  'Example: seed=7,latencyMs=5..50,putError=0.1,getError=0.05,reset=0.01,afterWrite=0.05';

const numberRe = /^(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

/**
 * Parses a fault spec such as `seed=7,latencyMs=5..50,putError=0.1,reset=0.01,afterWrite=0.05`
 * into FaultyObjectStore options (see {@link faultSpecHelp} for the keys). An empty spec
 * means no faults. The result is validated as a whole (e.g. probabilities of one operation
 * adding up to more than 1); every problem throws a {@link FaultSpecError}.
 */
export function parseFaultSpec(spec: string): FaultyObjectStoreOptions {
  const fail = (why: string): never => {
    throw new FaultSpecError(`bad fault spec "${spec}": ${why}`);
  };
  const keys = knownKeys();
  const seen = new Set<string>();
  const out: FaultyObjectStoreOptions = {};
  const rates: FaultRates = {};
  const opRates: Partial<Record<FaultOp, FaultRates>> = {};

  const num = (key: string, raw: string): number => {
    if (!numberRe.test(raw)) fail(`${key}: "${raw}" is not a non-negative number`);
    const n = Number(raw);
    if (!Number.isFinite(n)) fail(`${key}: "${raw}" is not finite`);
    return n;
  };
  const range = (key: string, raw: string): number | MsRange => {
    const parts = raw.split('..');
    if (parts.length === 1) return num(key, raw);
    if (parts.length !== 2) fail(`${key}: expected <ms> or <min>..<max>, got "${raw}"`);
    const min = num(key, parts[0]);
    const max = num(key, parts[1]);
    if (max < min) fail(`${key}: range ${raw} has max < min`);
    return { min, max };
  };

  for (const rawItem of spec.split(',')) {
    const item = rawItem.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) fail(`"${item}" is not key=value`);
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    const target = keys.get(key);
    if (target === undefined) fail(`unknown key "${key}" (${faultSpecHelp})`);
    if (seen.has(key)) fail(`duplicate key "${key}"`);
    seen.add(key);
    if (value === '') fail(`${key}: missing value`);
    if (target?.rate !== undefined) {
      const p = num(key, value);
      if (p > 1) fail(`${key}: probability ${value} is above 1`);
      if (target.op === undefined) rates[target.rate] = p;
      else opRates[target.op] = { ...opRates[target.op], [target.rate]: p };
      continue;
    }
    switch (target?.scalar) {
      case 'seed': {
        const n = num(key, value);
        if (!Number.isInteger(n) || n > 0xffffffff) fail(`seed: "${value}" is not a uint32`);
        out.seed = n;
        break;
      }
      case 'latencyMs':
        out.latencyMs = range(key, value);
        break;
      case 'slowReadMs':
        out.slowReadMs = range(key, value);
        break;
      case 'latency':
        if (value !== 'uniform' && value !== 'log') fail(`latency: expected uniform or log, got "${value}"`);
        out.latencyDistribution = value as 'uniform' | 'log';
        break;
      case 'status':
        if (value === '503' || value === '429') out.errorStatus = Number(value) as 503 | 429;
        else if (value === 'mixed') out.errorStatus = 'mixed';
        else fail(`status: expected 503, 429 or mixed, got "${value}"`);
        break;
      case 'trickleBps': {
        const n = num(key, value);
        if (n <= 0) fail('trickleBps: must be > 0');
        out.trickleBytesPerSecond = n;
        break;
      }
    }
  }
  if (Object.keys(rates).length > 0) out.rates = rates;
  if (Object.keys(opRates).length > 0) out.opRates = opRates;
  try {
    normalizeOptions(out);
  } catch (err) {
    fail((err as Error).message);
  }
  return out;
}
