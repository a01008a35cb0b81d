/**
 * A real S3-compatible server for tests: moto_server (PyPI `moto[server]`, installed by
 * scripts/install-tools.sh into tools/.cache/moto) on 127.0.0.1 and a free port, with one
 * bucket created. Missing moto is a test failure, never a skip.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll } from 'vitest';
import { S3ObjectStore, type S3ObjectStoreOptions } from '../src/object-store/s3.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** Where install-tools.sh puts moto_server; MOTO_SERVER overrides. */
export const MOTO_SERVER = process.env.MOTO_SERVER ?? resolve(ROOT, 'tools/.cache/moto/bin/moto_server');
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
export const TEST_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** A running moto_server with one bucket. */
export interface S3TestServer {
  endpoint: string;
  bucket: string;
  /** An `s3://` URI for `prefix` in the bucket on this server. */
  uri(prefix: string, extra?: string): string;
  /** A store on the bucket (conditionalPut on: moto honours If-None-Match: *). */
  store(options?: Partial<S3ObjectStoreOptions>): S3ObjectStore;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

async function waitReady(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `moto_server exited (${child.exitCode ?? child.signalCode}) before answering:\n${output()}`,
      );
    }
    try {
      const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto_server did not answer at ${endpoint} within ${READY_TIMEOUT_MS} ms:\n${output()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** Starts moto_server and creates `bucket`; throws a clear error if moto is not installed. */
export async function startS3Server(bucket = 'tributary-test'): Promise<S3TestServer> {
  if (!existsSync(MOTO_SERVER)) {
    throw new Error(
      `moto_server not found at ${MOTO_SERVER}: run 'bash scripts/install-tools.sh' (or set MOTO_SERVER)`,
    );
  }
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let log = '';
  const child = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
  });
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-4_000); // bounded: the tail only
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // If the test process dies without afterAll, do not leave the server behind.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  try {
    await waitReady(endpoint, child, () => log);
    const client = new S3Client({
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      credentials: TEST_CREDENTIALS,
    });
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    } finally {
      client.destroy();
    }
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return {
    endpoint,
    bucket,
    uri: (prefix, extra = '') =>
      `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1&forcePathStyle=true` +
      `&accessKeyId=test&secretAccessKey=test${extra}`,
    store: (options = {}) =>
      new S3ObjectStore({
        bucket,
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: TEST_CREDENTIALS,
        conditionalPut: true,
        ...options,
      }),
    stop: () => stopChild(child),
  };
}

/** Starts a server in beforeAll and stops it in afterAll; call the result inside tests. */
export function useS3Server(bucket?: string): () => S3TestServer {
  let server: S3TestServer | undefined;
  beforeAll(async () => {
    server = await startS3Server(bucket);
  });
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (server === undefined) throw new Error('S3 test server not started (beforeAll failed?)');
    return server;
  };
}
