/**
 * kcat (librdkafka) driver: produce from stdin (-P, key delimiter TAB, -Z for nulls, -H for
 * headers), consume with -C -J into a file, query offsets with -Q, list metadata with -L -J.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import type { ConsumedRecord, TestRecord } from './common.ts';
import { run } from './common.ts';

export const KCAT_CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

/** `kcat -V` first lines (throws when kcat is missing). */
export async function kcatVersion(): Promise<string> {
  const out = await run('kcat', ['-V'], 10_000);
  const m = /Version (\S+).*librdkafka (\S+)/.exec(out);
  if (m === null) throw new Error(`unexpected kcat -V output: ${out}`);
  return `kcat ${m[1]} (librdkafka ${m[2]})`;
}

/**
 * Produces `records` to partition 0 of `topic`: one "key TAB value" line each, empty meaning
 * null (-Z), with the same `headers` on every record (kcat cannot vary them nor set timestamps).
 */
export async function kcatProduce(
  bootstrap: string,
  topic: string,
  codec: string,
  records: TestRecord[],
  headers: [string, string][],
): Promise<string> {
  const input = `${records.map((r) => `${r.key?.toString('latin1') ?? ''}\t${r.value?.toString('latin1') ?? ''}`).join('\n')}\n`;
  const args = ['-P', '-b', bootstrap, '-t', topic, '-p', '0', '-K', '\t', '-Z', '-q'];
  args.push('-X', `compression.codec=${codec}`, '-X', 'enable.idempotence=true', '-X', 'linger.ms=5');
  for (const [k, v] of headers) args.push('-H', `${k}=${v}`);
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < 65536) err += d.toString();
    });
    child.stdout.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && !/error|fail/i.test(err)) resolve(err);
      else reject(new Error(`kcat -P failed (code ${code}, signal ${signal}): ${err.slice(-4000)}`));
    });
    child.stdin.end(input);
  });
}

interface KcatJson {
  offset: number;
  ts: number;
  tstype: string;
  key: string | null;
  payload: string | null;
  headers?: string[];
}

/**
 * Consumes `count` records of partition 0 with -C -J into `outFile` and parses them; stops at
 * the end of the partition (-e) unless `follow`, then it waits for `count` records.
 */
export async function kcatConsume(
  bootstrap: string,
  topic: string,
  count: number,
  outFile: string,
  options: { follow?: boolean; extra?: string[] } = {},
): Promise<(ConsumedRecord & { tstype: string })[]> {
  const fd = openSync(outFile, 'w');
  const args = ['-C', '-b', bootstrap, '-t', topic, '-p', '0', '-o', 'beginning', '-J', '-q'];
  if (!options.follow) args.push('-e');
  args.push('-c', String(count), '-X', 'check.crcs=true', ...(options.extra ?? []));
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('kcat', args, { stdio: ['ignore', fd, 'pipe'] });
      let err = '';
      child.stderr?.on('data', (d: Buffer) => {
        if (err.length < 65536) err += d.toString();
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.once('error', reject);
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`kcat -C failed (code ${code}, signal ${signal}): ${err.slice(-4000)}`));
      });
    });
  } finally {
    closeSync(fd);
  }
  return readFileSync(outFile, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const j = JSON.parse(l) as KcatJson;
      const hs = j.headers ?? [];
      const headers: [string, Buffer][] = [];
      for (let i = 0; i + 1 < hs.length; i += 2)
        headers.push([hs[i] as string, Buffer.from(hs[i + 1] as string, 'latin1')]);
      return {
        offset: j.offset,
        key: j.key === null ? null : Buffer.from(j.key, 'latin1'),
        value: j.payload === null ? null : Buffer.from(j.payload, 'latin1'),
        timestampMs: j.ts,
        tstype: j.tstype,
        headers,
      };
    });
}

/** kcat -Q: the offset for `timestamp` in partition 0 (-1 latest, -2 earliest); -1 means none. */
export async function kcatQuery(bootstrap: string, topic: string, timestamp: number): Promise<number> {
  const out = await run('kcat', ['-Q', '-b', bootstrap, '-t', `${topic}:0:${timestamp}`], 30_000);
  const m = /\[0\]\s+offset\s+(-?\d+)/.exec(out);
  if (m === null) throw new Error(`unexpected kcat -Q output: ${out}`);
  return Number(m[1]);
}

/** kcat -L -J: topic name → partition count. */
export async function kcatMetadata(bootstrap: string): Promise<Map<string, number>> {
  const out = await run('kcat', ['-L', '-J', '-b', bootstrap], 30_000);
  const j = JSON.parse(out) as { topics: { topic: string; partitions: unknown[] }[] };
  return new Map(j.topics.map((t) => [t.topic, t.partitions.length]));
}
