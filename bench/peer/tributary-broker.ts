/**
 * Child-process launcher of Tributary for bench/peer: starts startBroker() from
 * packages/broker (so the broker under test has its own pid, RSS and CPU, like the Apache Kafka
 * JVM), prints `TRIBUTARY_READY <host>:<port>` on stdout, and closes the broker on SIGTERM/SIGINT.
 *
 *   node --import tsx bench/peer/tributary-broker.ts --data-dir <dir> [--port <n>] [--options <json>]
 *
 * --options: extra BrokerOptions as JSON (e.g. '{"cacheBytes":268435456}').
 */
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface StartedBroker {
  close(): Promise<void>;
  advertised?: { host: string; port: number };
  host?: string;
  port?: number;
}

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    port: { type: 'string', default: '0' },
    options: { type: 'string', default: '{}' },
  },
});
const dataDir = values['data-dir'];
if (!dataDir) throw new Error('--data-dir is required');
mkdirSync(dataDir, { recursive: true });

const modulePath = new URL('../../packages/broker/src/index.ts', import.meta.url).href;
const mod = (await import(modulePath)) as { startBroker?: (o: object) => Promise<StartedBroker> };
if (typeof mod.startBroker !== 'function') throw new Error(`${modulePath} exports no startBroker()`);
const broker = await mod.startBroker({
  host: '127.0.0.1',
  port: Number(values.port),
  dataDir,
  ...(JSON.parse(values.options as string) as object),
});
const host = broker.advertised?.host ?? broker.host ?? '127.0.0.1';
const port = broker.advertised?.port ?? broker.port;
process.stdout.write(`TRIBUTARY_READY ${host}:${port}\n`);

let closing = false;
const shutdown = (): void => {
  if (closing) return;
  closing = true;
  broker.close().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`close failed: ${String(e)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
