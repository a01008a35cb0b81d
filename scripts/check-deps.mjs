#!/usr/bin/env node
// Enforces the one-way dependency rule between workspace packages (docs/architecture.md):
// a package may depend only on the packages listed below it here, both in package.json and
// in its source imports; relative imports may not reach into another package.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';

/** package folder → packages it may import. Storage (wal, stream) never sees Kafka. */
export const allowed = {
  crc32c: [],
  wal: ['crc32c'],
  stream: ['wal', 'crc32c'],
  protocol: ['crc32c'],
  server: ['protocol', 'crc32c'],
  broker: ['protocol', 'server', 'stream', 'wal', 'crc32c'],
  admin: ['broker', 'protocol', 'server', 'stream', 'wal', 'crc32c'],
  cli: ['admin', 'broker', 'protocol', 'server', 'stream', 'wal', 'crc32c'],
};

const root = resolve(process.env.TRIBUTARY_ROOT ?? new URL('..', import.meta.url).pathname);
const pkgsDir = join(root, 'packages');
const errors = [];

function sources(dir) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.(ts|mts|js|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

const importRe =
  /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

for (const pkg of readdirSync(pkgsDir)) {
  const pkgDir = join(pkgsDir, pkg);
  if (!existsSync(join(pkgDir, 'package.json'))) continue;
  if (!(pkg in allowed)) {
    errors.push(`packages/${pkg} is not in the layer table of scripts/check-deps.mjs`);
    continue;
  }
  const ok = new Set(allowed[pkg]);
  const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']) {
    for (const dep of Object.keys(manifest[field] ?? {})) {
      const m = /^@tributary\/(.+)$/.exec(dep);
      if (m && !ok.has(m[1]))
        errors.push(`packages/${pkg}/package.json: ${field} on ${dep} breaks the layering`);
    }
  }
  for (const file of [...sources(join(pkgDir, 'src')), ...sources(join(pkgDir, 'scripts'))]) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2] ?? m[3];
      const rel = relative(root, file);
      const t = /^@tributary\/([^/]+)/.exec(spec);
      if (t && t[1] !== pkg && !ok.has(t[1])) errors.push(`${rel}: imports ${spec}, not allowed for ${pkg}`);
      if (spec.startsWith('.')) {
        const target = resolve(file, '..', spec);
        if (!target.startsWith(pkgDir + sep))
          errors.push(`${rel}: relative import ${spec} leaves the package`);
      }
    }
  }
}

if (errors.length > 0) {
  console.error(`dependency direction violations:\n  ${errors.join('\n  ')}`);
  process.exit(1);
}
console.log('package dependency direction: ok');
