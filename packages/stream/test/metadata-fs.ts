/** Temp directories for the embedded metadata store tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

/** A fresh temp directory, removed after the test file. */
export async function tempDir(label = 'meta'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `tributary-${label}-`));
  made.push(dir);
  return dir;
}

afterAll(async () => {
  for (const d of made.splice(0)) await rm(d, { recursive: true, force: true });
});
