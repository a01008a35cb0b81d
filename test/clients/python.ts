/**
 * Python client drivers (test/clients/python/*.py), run with the venv that
 * scripts/install-tools.sh builds in tools/.cache/pyclients.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { lastJson, ROOT, run } from './common.ts';

export const PYTHON = path.join(ROOT, 'tools/.cache/pyclients/bin/python');
const DIR = path.join(ROOT, 'test/clients/python');

/** Codecs both Python clients produce (librdkafka bundled in the wheel; kafka-python + codec libs). */
export const PYTHON_CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

/** Throws when the venv is missing (CI: a missing tool is an error). */
export function requirePython(): void {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} missing: run scripts/install-tools.sh`);
}

/** Versions of a Python client module, printed by the venv's interpreter. */
export async function pythonVersions(code: string): Promise<string> {
  requirePython();
  return (await run(PYTHON, ['-c', code], 30_000)).trim();
}

/** Runs `script` (confluent_driver.py or kafka_python_driver.py) and parses its JSON. */
export async function pyDriver<T>(script: string, args: string[], timeoutMs = 120_000): Promise<T> {
  requirePython();
  const out = await run(PYTHON, [path.join(DIR, script), ...args], timeoutMs, {
    ...process.env,
    PYTHONPATH: DIR,
    PYTHONUNBUFFERED: '1',
  });
  return lastJson<T>(out);
}
