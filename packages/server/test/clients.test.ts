/** Real clients against a toy Metadata handler: kafkajs (root devDependency) and kcat (librdkafka). */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiHandler, KafkaServer, RequestContext } from '../src/index.ts';
import { memoryLogger, startServer, toyMetadataHandler } from './helpers.ts';

const KCAT = '/usr/bin/kcat';

let server: KafkaServer | undefined;

afterEach(async () => {
  await server?.close({ timeoutMs: 1000 });
  server = undefined;
});

/** The toy Metadata handler, recording the versions asked for. */
function recordingMetadata(versions: number[]): ApiHandler {
  const h = toyMetadataHandler(() => server!.address);
  return {
    ...h,
    handle: (req: any, ctx: RequestContext) => {
      versions.push(ctx.apiVersion);
      return h.handle(req, ctx);
    },
  };
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

describe('real clients', () => {
  it('kafkajs connects, negotiates ApiVersions and reads the cluster from Metadata', async () => {
    const versions: number[] = [];
    const logger = memoryLogger();
    server = await startServer([recordingMetadata(versions)], { logger });
    const kafka = new Kafka({
      clientId: 'server-test',
      brokers: [`127.0.0.1:${server.address.port}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
      connectionTimeout: 3000,
      requestTimeout: 5000,
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      expect(cluster).toEqual({
        brokers: [{ nodeId: 1, host: '127.0.0.1', port: server.address.port }],
        controller: 1,
        clusterId: 'toy-cluster',
      });
      expect(await admin.listTopics()).toEqual([]);
    } finally {
      await admin.disconnect();
    }
    // kafkajs implements Metadata up to v6 and picks min(its max, ours).
    expect(versions.length).toBeGreaterThan(0);
    expect(versions.every((v) => v === 6)).toBe(true);
    expect(server.stats().connectionsClosedOnError).toBe(0);
    expect(logger.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
  });

  it('kcat -L lists one broker and no topics', async () => {
    expect(existsSync(KCAT)).toBe(true);
    const versions: number[] = [];
    const logger = memoryLogger();
    server = await startServer([recordingMetadata(versions)], { logger });
    const port = server.address.port;
    const { stdout } = await run(KCAT, ['-L', '-b', `127.0.0.1:${port}`, '-m', '5'], 20_000);
    expect(stdout).toContain('1 brokers:');
    expect(stdout).toContain(`broker 1 at 127.0.0.1:${port} (controller)`);
    expect(stdout).toContain('0 topics:');
    const json = await run(KCAT, ['-L', '-J', '-b', `127.0.0.1:${port}`, '-m', '5'], 20_000);
    const meta = JSON.parse(json.stdout);
    expect(meta.brokers).toEqual([{ id: 1, name: `127.0.0.1:${port}` }]);
    expect(meta.topics).toEqual([]);
    expect(versions.length).toBeGreaterThan(0);
    expect(server.stats().connectionsClosedOnError).toBe(0);
    expect(logger.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
  });
});
