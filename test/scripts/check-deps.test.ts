import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const script = new URL('../../scripts/check-deps.mjs', import.meta.url).pathname;
let root = '';

function pkg(name: string, deps: Record<string, string>, source: string): void {
  const dir = join(root, 'packages', name);
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: `@tributary/${name}`, dependencies: deps }),
  );
  writeFileSync(join(dir, 'src', 'index.ts'), source);
}

function check(): { ok: boolean; output: string } {
  try {
    const out = execFileSync('node', [script], {
      env: { ...process.env, TRIBUTARY_ROOT: root },
      stdio: 'pipe',
    });
    return { ok: true, output: out.toString() };
  } catch (e) {
    const err = e as { stderr: Buffer };
    return { ok: false, output: err.stderr.toString() };
  }
}

describe('scripts/check-deps.mjs', () => {
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('accepts downward dependencies', () => {
    root = mkdtempSync(join(tmpdir(), 'deps-'));
    pkg('wal', {}, 'export const x = 1;\n');
    pkg(
      'stream',
      { '@tributary/wal': 'workspace:*' },
      "import { x } from '@tributary/wal';\nexport { x };\n",
    );
    expect(check().ok).toBe(true);
  });

  it('rejects storage importing Kafka code, in imports and in package.json', () => {
    root = mkdtempSync(join(tmpdir(), 'deps-'));
    pkg('protocol', {}, 'export const y = 1;\n');
    pkg(
      'wal',
      { '@tributary/protocol': 'workspace:*' },
      "import { y } from '@tributary/protocol';\nexport { y };\n",
    );
    const r = check();
    expect(r.ok).toBe(false);
    expect(r.output).toContain('packages/wal/package.json');
    expect(r.output).toContain('imports @tributary/protocol');
  });

  it('rejects relative imports that leave the package and unknown packages', () => {
    root = mkdtempSync(join(tmpdir(), 'deps-'));
    pkg('protocol', {}, "import '../../wal/src/index.ts';\n");
    pkg('mystery', {}, 'export {};\n');
    const r = check();
    expect(r.ok).toBe(false);
    expect(r.output).toContain('leaves the package');
    expect(r.output).toContain('packages/mystery is not in the layer table');
  });
});
