/**
 * The `tributary start` command (packages/cli) with a real client: started as a child
 * process on an ephemeral port (read from its "broker ready" log line), kcat produces and
 * consumes 10,000 records (zstd), the broker stops on SIGTERM with exit status 0, and a new
 * process on the same --data-dir serves the same records.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectSameRecords,
  makeRecords,
  RECORD_COUNT,
  ROOT,
  type TestRecord,
  timestampBase,
} from './common.ts';
import { kcatConsume, kcatProduce, kcatQuery, kcatVersion } from './kcat.ts';

interface Running {
  child: ChildProcess;
  port: number;
  exited: Promise<number | null>;
}

/** Starts `tributary start` and resolves once it logs "broker ready" (within 60 s). */
function startCli(dataDir: string): Promise<Running> {
  const child = spawn(
    path.join(ROOT, 'node_modules/.bin/tsx'),
    [path.join(ROOT, 'packages/cli/src/main.ts'), 'start', '--listen', '127.0.0.1:0', '--data-dir', dataDir],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no "broker ready" within 60 s\n${out.slice(-2000)}\n${err.slice(-2000)}`));
    }, 60_000);
    child.stderr?.on('data', (d: Buffer) => {
      if (err.length < 65536) err += d.toString();
    });
    child.stdout?.on('data', (d: Buffer) => {
      if (out.length < 1 << 20) out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('broker ready')) continue;
        const j = JSON.parse(line) as { port: number };
        clearTimeout(timer);
        resolve({ child, port: j.port, exited });
        return;
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`tributary start exited with ${code}\n${out.slice(-2000)}\n${err.slice(-2000)}`));
    });
  });
}

async function stop(r: Running): Promise<number | null> {
  r.child.kill('SIGTERM');
  const timer = setTimeout(() => r.child.kill('SIGKILL'), 30_000);
  try {
    return await r.exited;
  } finally {
    clearTimeout(timer);
  }
}

describe.sequential('tributary start (CLI) with kcat', () => {
  let dataDir: string;
  let running: Running | undefined;
  let records: TestRecord[];
  const headers: [string, string][] = [['via', 'cli']];
  beforeAll(async () => {
    await kcatVersion();
    dataDir = mkdtempSync(path.join(tmpdir(), 'tributary-clients-cli-'));
    records = makeRecords(RECORD_COUNT, 7, timestampBase(), { binary: false }).map((r) => ({
      ...r,
      value: r.value !== null && r.value.length === 0 ? Buffer.from('x') : r.value,
      headers: headers.map(([k, v]): [string, Buffer] => [k, Buffer.from(v)]),
    }));
  });
  afterAll(async () => {
    if (running !== undefined) await stop(running);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('produce and consume 10,000 records (zstd), stop with SIGTERM (exit 0)', async () => {
    running = await startCli(dataDir);
    const bootstrap = `127.0.0.1:${running.port}`;
    await kcatProduce(bootstrap, 'cli-zstd', 'zstd', records, headers);
    const got = await kcatConsume(bootstrap, 'cli-zstd', RECORD_COUNT, path.join(dataDir, 'out-1.json'));
    expectSameRecords(got, records, 0, false);
    const r = running;
    running = undefined;
    expect(await stop(r)).toBe(0);
  }, 120_000);

  it('a new process on the same --data-dir serves the same records', async () => {
    running = await startCli(dataDir);
    const bootstrap = `127.0.0.1:${running.port}`;
    expect(await kcatQuery(bootstrap, 'cli-zstd', -1)).toBe(RECORD_COUNT);
    const got = await kcatConsume(bootstrap, 'cli-zstd', RECORD_COUNT, path.join(dataDir, 'out-2.json'));
    expectSameRecords(got, records, 0, false);
    const r = running;
    running = undefined;
    expect(await stop(r)).toBe(0);
  }, 120_000);
});
