/**
 * Starts moto_server (installed by scripts/install-tools.sh into tools/.cache/moto; MOTO_SERVER
 * overrides the binary) on 127.0.0.1 and a free port for the cold-read benchmark, and creates
 * one bucket. Standalone (no vitest hooks), so `pnpm bench:stream` can use it too. A missing
 * moto is an error that names install-tools.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const READY_TIMEOUT_MS = 30_000;
const KILL_AFTER_MS = 5_000;

export function motoServerPath(): string {
  return process.env.MOTO_SERVER ?? `${ROOT}tools/.cache/moto/bin/moto_server`;
}

export interface BenchS3Server {
  endpoint: string;
  bucket: string;
  /** An s3:// URI for `prefix` in the bucket (openObjectStore syntax). */
  uri(prefix: string): string;
  stop(): Promise<void>;
}

function pickPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = addr !== null && typeof addr === 'object' ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function terminate(child: ChildProcess): Promise<void> {
  if (exited(child)) return;
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const hard = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
  await done;
  clearTimeout(hard);
}

/** Starts moto_server and creates `bucket` (one unsigned PUT: moto does not check signatures). */
export async function startBenchS3Server(bucket = 'tributary-bench'): Promise<BenchS3Server> {
  const bin = motoServerPath();
  if (!existsSync(bin)) {
    throw new Error(
      `moto_server not found at ${bin}: run 'bash scripts/install-tools.sh' (or set MOTO_SERVER)`,
    );
  }
  const port = await pickPort();
  const endpoint = `http://127.0.0.1:${port}`;
  let tail = '';
  const child = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench' },
  });
  const keep = (b: Buffer) => {
    tail = (tail + b.toString('utf8')).slice(-2000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  child.once('exit', () => process.off('exit', onExit));
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (exited(child)) throw new Error(`moto_server exited before answering:\n${tail}`);
      if (Date.now() > deadline)
        throw new Error(`moto_server did not answer within ${READY_TIMEOUT_MS} ms:\n${tail}`);
      try {
        const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status < 500) break;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const res = await fetch(`${endpoint}/${bucket}`, { method: 'PUT', signal: AbortSignal.timeout(10_000) });
    const body = await res.text();
    if (res.status !== 200)
      throw new Error(`creating bucket ${bucket}: HTTP ${res.status} ${body.slice(0, 300)}`);
  } catch (err) {
    await terminate(child);
    throw err;
  }
  return {
    endpoint,
    bucket,
    uri: (prefix) =>
      `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1&forcePathStyle=true` +
      '&accessKeyId=bench&secretAccessKey=bench',
    stop: () => terminate(child),
  };
}
