#!/usr/bin/env node
// Builds the N-API addon (build/Release/crc32c.node) with node-gyp, offline when the running
// Node ships its headers next to it (e.g. /usr/include/node). Run by `pnpm install` (the
// package's `install` script). Without --strict a failed build only warns: the loader then
// falls back to @node-rs/crc32 or pure TypeScript, and the test suite fails loudly
// (test/native-loaded.test.ts). --strict (the `build` script) also rebuilds unconditionally.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');
const out = join(pkgDir, 'build', 'Release', 'crc32c.node');
const inputs = ['native/crc32c.c', 'binding.gyp'].map((f) => join(pkgDir, f));

if (!strict && existsSync(out)) {
  const built = statSync(out).mtimeMs;
  if (inputs.every((f) => statSync(f).mtimeMs <= built)) {
    console.log('[crc32c] addon up to date');
    process.exit(0);
  }
}

const args = ['rebuild'];
const env = { ...process.env };
if (!env.npm_config_nodedir) {
  const prefix = dirname(dirname(process.execPath));
  if (
    existsSync(join(prefix, 'include', 'node', 'node_api.h')) &&
    existsSync(join(prefix, 'include', 'node', 'common.gypi'))
  )
    args.push(`--nodedir=${prefix}`);
}

/** node-gyp candidates: pnpm/npm put one on PATH for lifecycle scripts; npm also bundles one. */
function candidates() {
  const list = [];
  const bundled = join(
    dirname(dirname(process.execPath)),
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  );
  if (env.npm_config_node_gyp?.endsWith('.js')) list.push([process.execPath, [env.npm_config_node_gyp]]);
  list.push(['node-gyp', []]);
  if (existsSync(bundled)) list.push([process.execPath, [bundled]]);
  return list;
}

let ok = false;
for (const [cmd, pre] of candidates()) {
  const r = spawnSync(cmd, [...pre, ...args], { cwd: pkgDir, env, stdio: 'inherit' });
  if (r.error && r.error.code === 'ENOENT') continue;
  ok = r.status === 0;
  break;
}

if (!ok) {
  const msg =
    '[crc32c] building the native addon failed; CRC-32C falls back to @node-rs/crc32 or pure TypeScript';
  if (strict) {
    console.error(msg);
    process.exit(1);
  }
  console.warn(msg);
}
