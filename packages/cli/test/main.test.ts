import { describe, expect, it } from 'vitest';
import { ConfigError, defaultsTable, envName, resolveConfig } from '../src/config.ts';
import { run } from '../src/main.ts';

describe('tributary CLI', () => {
  it('prints the version', async () => {
    const lines: string[] = [];
    expect(await run(['version'], (l) => lines.push(l))).toBe(0);
    expect(lines[0]).toMatch(/^tributary \d+\.\d+\.\d+$/);
  });

  it('rejects an unknown command with exit code 2 and usage', async () => {
    const lines: string[] = [];
    expect(await run(['frobnicate'], (l) => lines.push(l))).toBe(2);
    expect(lines.join('\n')).toContain('unknown command "frobnicate"');
  });

  it('prints the defaults table with flags and environment variables', async () => {
    const lines: string[] = [];
    expect(await run(['config', '--defaults'], (l) => lines.push(l))).toBe(0);
    const text = lines.join('\n');
    expect(text).toContain('listen=127.0.0.1:9092');
    expect(text).toContain('data-dir=./data');
    expect(text).toContain('TRIBUTARY_OBJECT_STORE');
    expect(defaultsTable()).toBe(text);
  });

  it('exits 2 with a clear message on bad configuration', async () => {
    const lines: string[] = [];
    expect(await run(['start', '--group-consumer-assignors', 'uniform,sticky'], (l) => lines.push(l))).toBe(
      2,
    );
    expect(lines.join('\n')).toMatch(/--group-consumer-assignors: unknown assignor 'sticky'/);
    lines.length = 0;
    expect(await run(['start', '--listen', 'nope'], (l) => lines.push(l))).toBe(2);
    expect(lines.join('\n')).toMatch(/bad configuration: --listen: expected HOST:PORT, got 'nope'/);
    lines.length = 0;
    expect(await run(['start', '--bogus', '1'], (l) => lines.push(l))).toBe(2);
    expect(lines.join('\n')).toMatch(/unknown flag --bogus/);
  });
});

describe('configuration precedence', () => {
  it('flag > environment > default, sizes with units', () => {
    const env = {
      [envName('listen')]: '0.0.0.0:1234',
      [envName('cache-bytes')]: '64MiB',
      [envName('wal')]: 'memory://',
    };
    const c = resolveConfig(['--listen', '127.0.0.1:5555', '--auto-create-topics', 'false'], env);
    expect(c.broker.host).toBe('127.0.0.1');
    expect(c.broker.port).toBe(5555);
    expect(c.broker.cacheBytes).toBe(64 * 1024 * 1024);
    expect(c.broker.wal).toBe('memory://');
    expect(c.broker.autoCreateTopics).toBe(false);
    expect(c.sources.get('listen')).toBe('--listen');
    expect(c.sources.get('cache-bytes')).toBe('TRIBUTARY_CACHE_BYTES');
    expect(c.sources.get('num-partitions')).toBe('default');
  });

  it('rejects bad values and unknown keys', () => {
    expect(() => resolveConfig(['--num-partitions', '0'], {})).toThrow(ConfigError);
    expect(() => resolveConfig(['--cache-bytes', 'lots'], {})).toThrow(/expected a size/);
    expect(() => resolveConfig(['--log-level', 'loud'], {})).toThrow(/unknown log level/);
    expect(() => resolveConfig([], { TRIBUTARY_CONFIG: '/nonexistent/x.conf' })).toThrow(
      /cannot read config file/,
    );
  });
});
