#!/usr/bin/env node
// Fails when packages/protocol/src/generated differs from what the generator writes now.
// Snapshots the folder, regenerates, and compares file by file (independent of git state).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const dir = new URL('../packages/protocol/src/generated/', import.meta.url).pathname;

function snapshot(root) {
  const out = new Map();
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(root, p), readFileSync(p, 'utf8'));
    }
  };
  walk(root);
  return out;
}

const before = snapshot(dir);
execFileSync('pnpm', ['--filter', '@tributary/protocol', 'gen'], { stdio: ['ignore', 'ignore', 'inherit'] });
const after = snapshot(dir);
const diffs = [];
for (const [file, text] of after) {
  if (!before.has(file)) diffs.push(`new file ${file}`);
  else if (before.get(file) !== text) diffs.push(`changed ${file}`);
}
for (const file of before.keys()) if (!after.has(file)) diffs.push(`stale file ${file}`);
if (diffs.length > 0) {
  console.error(
    `generated code drifted from the generator (run \`pnpm gen\` and commit):\n  ${diffs.join('\n  ')}`,
  );
  process.exit(1);
}
console.log(`generated code up to date (${after.size} files)`);
