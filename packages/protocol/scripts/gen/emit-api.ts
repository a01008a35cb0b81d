/** Emits generated/api.ts: the api-key table and header version rules. */
import { HEADER, moduleName } from './emit-message.ts';
import type { MessageSpec } from './model.ts';
import { MAX_VERSION, type Range } from './versions.ts';

function rangeTuple(r: Range | null): string {
  return r === null ? 'null' : `[${r.min}, ${r.max}]`;
}

function flexibleFrom(msg: MessageSpec): string {
  const f = msg.flexibleVersions;
  if (f === null) return 'null';
  if (f.max !== MAX_VERSION) throw new Error(`${msg.name}: flexibleVersions must be open-ended`);
  return `${f.min}`;
}

export interface ApiPair {
  name: string;
  apiKey: number;
  request: MessageSpec;
  response: MessageSpec;
}

/** Pairs requests with responses by api key, sorted by key. */
export function pairApis(messages: MessageSpec[]): ApiPair[] {
  const reqs = new Map<number, MessageSpec>();
  const resps = new Map<number, MessageSpec>();
  for (const m of messages) {
    if (m.apiKey === null) continue;
    const map = m.type === 'request' ? reqs : m.type === 'response' ? resps : null;
    if (map === null) continue;
    if (map.has(m.apiKey)) throw new Error(`api key ${m.apiKey} defined twice (${m.name})`);
    map.set(m.apiKey, m);
  }
  const pairs: ApiPair[] = [];
  for (const [apiKey, request] of reqs) {
    const response = resps.get(apiKey);
    if (!response) throw new Error(`${request.name}: no response`);
    if (!request.name.endsWith('Request'))
      throw new Error(`${request.name}: request name must end in Request`);
    const v = request.validVersions;
    const rv = response.validVersions;
    if (v.min !== rv.min || v.max !== rv.max) throw new Error(`${request.name}: response versions differ`);
    pairs.push({ name: request.name.slice(0, -'Request'.length), apiKey, request, response });
  }
  if (resps.size !== reqs.size) throw new Error('a response has no request');
  return pairs.sort((a, b) => a.apiKey - b.apiKey);
}

export function emitApi(pairs: ApiPair[]): string {
  const imports = pairs.map((p) => {
    const q = p.request.name;
    const s = p.response.name;
    return [
      `import { type ${q}, decode${q}, encode${q} } from './messages/${moduleName(p.request)}.ts';`,
      `import { type ${s}, decode${s}, encode${s} } from './messages/${moduleName(p.response)}.ts';`,
    ].join('\n');
  });
  const keys = pairs.map((p) => `  ${p.name}: ${p.apiKey},`);
  const specs = pairs.map((p) => {
    const q = p.request;
    const s = p.response;
    return [
      `  ${p.name}: {`,
      `    name: '${p.name}',`,
      `    apiKey: ${p.apiKey},`,
      `    minVersion: ${q.validVersions.min},`,
      `    maxVersion: ${q.validVersions.max},`,
      `    flexibleFrom: ${flexibleFrom(q)},`,
      `    listeners: [${q.listeners.map((l) => `'${l}'`).join(', ')}],`,
      `    latestVersionUnstable: ${q.latestVersionUnstable},`,
      `    deprecatedVersions: ${rangeTuple(q.deprecatedVersions)},`,
      `    encodeRequest: encode${q.name},`,
      `    decodeRequest: decode${q.name},`,
      `    encodeResponse: encode${s.name},`,
      `    decodeResponse: decode${s.name},`,
      `  } satisfies ApiSpec<${q.name}, ${s.name}>,`,
    ].join('\n');
  });
  return `${HEADER}
import { ProtocolError } from '../primitives/errors.ts';
import type { Reader } from '../primitives/reader.ts';
import type { Writer } from '../primitives/writer.ts';
${imports.join('\n')}

/** Kafka API keys by name. */
export const ApiKey = {
${keys.join('\n')}
} as const;

/** The name of a Kafka API, e.g. 'Produce'. */
export type ApiName = keyof typeof ApiKey;

/** What a server needs to dispatch one API generically. */
export interface ApiSpec<Req = any, Res = any> {
  readonly name: string;
  readonly apiKey: number;
  /** Lowest version in Kafka's definition (inclusive). */
  readonly minVersion: number;
  /** Highest version in Kafka's definition (inclusive; may be unstable, see latestVersionUnstable). */
  readonly maxVersion: number;
  /** First flexible (compact, tagged-field) version, or null when none is. */
  readonly flexibleFrom: number | null;
  /** Kafka listener kinds that serve the API ('broker', 'controller', 'zkBroker'). */
  readonly listeners: readonly string[];
  readonly latestVersionUnstable: boolean;
  /** Versions Kafka marks deprecated, inclusive, or null. */
  readonly deprecatedVersions: readonly [number, number] | null;
  readonly encodeRequest: (w: Writer, msg: Req, version: number) => void;
  readonly decodeRequest: (r: Reader, version: number) => Req;
  readonly encodeResponse: (w: Writer, msg: Res, version: number) => void;
  readonly decodeResponse: (r: Reader, version: number) => Res;
}

/** Every API by name. */
export const apis = {
${specs.join('\n')}
} as const;

/** Every API by key. */
export const apiByKey: ReadonlyMap<number, ApiSpec> = new Map<number, ApiSpec>(
  Object.values(apis).map((a): [number, ApiSpec] => [a.apiKey, a]),
);

function specFor(apiKey: number): ApiSpec {
  const spec = apiByKey.get(apiKey);
  if (spec === undefined) throw new ProtocolError(\`unknown api key \${apiKey}\`, 'unsupported');
  return spec;
}

/**
 * The request header version a request of this api key and version carries: 2 for flexible
 * versions, else 1, and 0 for ControlledShutdown v0. Versions above the known maximum count as
 * flexible when the API's flexible range is open-ended (as Kafka does). Unknown api key: throws.
 */
export function requestHeaderVersion(apiKey: number, apiVersion: number): number {
  const spec = specFor(apiKey);
  if (apiKey === ${pairs.find((p) => p.name === 'ControlledShutdown')?.apiKey ?? 7} && apiVersion === 0) return 0;
  return spec.flexibleFrom !== null && apiVersion >= spec.flexibleFrom ? 2 : 1;
}

/**
 * The response header version: 1 for flexible versions, else 0; ApiVersions responses always
 * use version 0 so that clients can parse them before knowing the broker's versions.
 */
export function responseHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey === ${pairs.find((p) => p.name === 'ApiVersions')?.apiKey ?? 18}) return 0;
  const spec = specFor(apiKey);
  return spec.flexibleFrom !== null && apiVersion >= spec.flexibleFrom ? 1 : 0;
}
`;
}
