import { describe, expect, it } from 'vitest';
import { run } from '../src/main.ts';

describe('tributary CLI', () => {
  it('prints the version', () => {
    const lines: string[] = [];
    expect(run(['version'], (l) => lines.push(l))).toBe(0);
    expect(lines[0]).toMatch(/^tributary \d+\.\d+\.\d+$/);
  });

  it('rejects an unknown command with exit code 2 and usage', () => {
    const lines: string[] = [];
    expect(run(['frobnicate'], (l) => lines.push(l))).toBe(2);
    expect(lines.join('\n')).toContain('unknown command "frobnicate"');
  });
});
