/** Runs a client process with a time limit and bounded output capture. */
import { spawn } from 'node:child_process';

/** What a finished client process left behind. */
export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const OUTPUT_MAX_BYTES = 1024 * 1024;

/**
 * Spawns `cmd args`, writes `input` to its stdin, and resolves when it exits or after
 * `timeoutMs` (then it is killed with SIGKILL and the result has `signal` set).
 * Rejects only when the binary cannot be started (e.g. not installed).
 */
export function runProcess(
  cmd: string,
  args: string[],
  options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < OUTPUT_MAX_BYTES) stdout += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < OUTPUT_MAX_BYTES) stderr += d.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** Throws with the process output when it did not exit with status 0. */
export function expectSuccess(what: string, r: ProcessResult): ProcessResult {
  if (r.code !== 0) {
    throw new Error(
      `${what} failed (code ${r.code}, signal ${r.signal})\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`,
    );
  }
  return r;
}
