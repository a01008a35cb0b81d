/**
 * Opens an object store from a URI; the backend comes wrapped in the retry layer.
 *
 * - `memory://` — a fresh in-memory store; `memory://name` — the process-wide store of that
 *   name (every open shares the same objects).
 * - `file:///abs/dir` or `file://relative/dir` (relative to the working directory).
 * - `s3://bucket/prefix?endpoint=…&region=…&forcePathStyle=true&accessKeyId=…&secretAccessKey=…
 *   &sessionToken=…&conditionalPut=true` (all parameters optional).
 */
import { FileObjectStore } from './file.ts';
import { type MemoryObject, MemoryObjectStore } from './memory.ts';
import { type RetryOptions, withRetries } from './retry.ts';
import { S3ObjectStore, type S3ObjectStoreOptions } from './s3.ts';
import { type ObjectStore, ObjectStoreError } from './types.ts';

const namedMemoryStores = new Map<string, Map<string, MemoryObject>>();

const S3_PARAMS = new Set([
  'endpoint',
  'region',
  'forcePathStyle',
  'accessKeyId',
  'secretAccessKey',
  'sessionToken',
  'conditionalPut',
]);

/** Opens the store a URI names (see the module comment); bad URIs throw ObjectStoreError('invalid'). */
export function openObjectStore(uri: string, retry: RetryOptions = {}): ObjectStore {
  return withRetries(openBackend(uri), retry);
}

/** Like {@link openObjectStore}, without the retry layer. */
export function openBackend(uri: string): ObjectStore {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === 'memory') return openMemory(uri);
  if (scheme === 'file') return openFile(uri);
  if (scheme === 's3') return openS3(uri);
  throw invalid(uri, scheme === undefined ? 'expected <scheme>://…' : `unknown scheme '${scheme}'`);
}

function openMemory(uri: string): ObjectStore {
  const name = uri.slice('memory://'.length);
  if (name === '') return new MemoryObjectStore();
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw invalid(uri, 'memory store names use [A-Za-z0-9._-] only');
  let objects = namedMemoryStores.get(name);
  if (objects === undefined) {
    objects = new Map();
    namedMemoryStores.set(name, objects);
  }
  return new MemoryObjectStore({ objects, name });
}

function openFile(uri: string): ObjectStore {
  const rest = uri.slice('file://'.length);
  if (rest.includes('?') || rest.includes('#')) throw invalid(uri, 'file URIs take no query or fragment');
  let path: string;
  try {
    path = decodeURIComponent(rest);
  } catch {
    throw invalid(uri, 'bad percent-encoding in the path');
  }
  if (path === '' || path === '/')
    throw invalid(uri, 'missing directory (file:///abs/dir or file://relative/dir)');
  if (path.includes('\0')) throw invalid(uri, 'NUL in the path');
  return new FileObjectStore(path);
}

function openS3(uri: string): ObjectStore {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw invalid(uri, 'not a parsable URI');
  }
  const bucket = url.hostname;
  if (bucket === '') throw invalid(uri, 'missing bucket (s3://bucket/prefix)');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw invalid(uri, `bad bucket name '${bucket}'`);
  if (url.port !== '' || url.username !== '' || url.password !== '') {
    throw invalid(uri, 'put the endpoint in ?endpoint=, not in the authority');
  }
  const params = url.searchParams;
  for (const name of params.keys()) {
    if (!S3_PARAMS.has(name))
      throw invalid(uri, `unknown parameter '${name}' (known: ${[...S3_PARAMS].join(', ')})`);
  }
  let prefix: string;
  try {
    prefix = decodeURIComponent(url.pathname);
  } catch {
    throw invalid(uri, 'bad percent-encoding in the prefix');
  }
  const options: S3ObjectStoreOptions = { bucket, prefix };
  const endpoint = params.get('endpoint');
  if (endpoint !== null) {
    if (!/^https?:\/\/[^/]+/.test(endpoint))
      throw invalid(uri, `endpoint '${endpoint}' is not an http(s) URL`);
    options.endpoint = endpoint;
  }
  const region = params.get('region');
  if (region !== null) {
    if (region === '') throw invalid(uri, 'empty region');
    options.region = region;
  }
  options.forcePathStyle = flag(uri, params, 'forcePathStyle');
  options.conditionalPut = flag(uri, params, 'conditionalPut');
  const accessKeyId = params.get('accessKeyId');
  const secretAccessKey = params.get('secretAccessKey');
  if ((accessKeyId === null) !== (secretAccessKey === null)) {
    throw invalid(uri, 'accessKeyId and secretAccessKey go together');
  }
  if (accessKeyId !== null && secretAccessKey !== null) {
    const sessionToken = params.get('sessionToken') ?? undefined;
    options.credentials = { accessKeyId, secretAccessKey, sessionToken };
  } else if (params.has('sessionToken')) {
    throw invalid(uri, 'sessionToken needs accessKeyId and secretAccessKey');
  }
  return new S3ObjectStore(options);
}

function flag(uri: string, params: URLSearchParams, name: string): boolean | undefined {
  const value = params.get(name);
  if (value === null) return undefined;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw invalid(uri, `${name} must be true or false, got '${value}'`);
}

/** The URI with secrets masked, for messages. */
function redact(uri: string): string {
  return uri.replace(/(secretAccessKey|sessionToken)=[^&]*/g, '$1=***');
}

function invalid(uri: string, problem: string): ObjectStoreError {
  return new ObjectStoreError('invalid', `invalid object store URI ${redact(uri)}: ${problem}`);
}
