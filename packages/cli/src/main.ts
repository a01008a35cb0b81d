/**
 * The `tributary` command: `start` runs a broker (flags, TRIBUTARY_* variables or a config
 * file; see `tributary config --defaults`), logging JSON lines with pino.
 */
import { readFileSync } from 'node:fs';
import { startBroker } from '@tributary/broker';
import { pino } from 'pino';
import { ConfigError, defaultsTable, resolveConfig } from './config.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const usage = `usage: tributary <command> [flags]

commands:
  start [flags]       start a broker (no flags: 127.0.0.1:9092, data under ./data)
  config --defaults   print every setting with its default, flag and environment variable
  version             print the version
  help                this text

start flags: --<key> <value> for each key of 'tributary config --defaults', and --config <file>
(key=value lines or JSON). Precedence: flag, then TRIBUTARY_<KEY>, then the file, then the default.`;

/** Runs a command; resolves with the exit status (for `start`: once the broker has stopped). */
export async function run(argv: string[], out: (line: string) => void = console.log): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'version':
    case '--version':
    case '-v':
      out(`tributary ${pkg.version}`);
      return 0;
    case 'config':
      if (rest.length === 1 && rest[0] === '--defaults') {
        out(defaultsTable());
        return 0;
      }
      out('usage: tributary config --defaults');
      return 2;
    case 'start':
      return start(rest, out);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(usage);
      return 0;
    default:
      out(`unknown command "${cmd}"\n${usage}`);
      return 2;
  }
}

async function start(argv: string[], out: (line: string) => void): Promise<number> {
  let config: ReturnType<typeof resolveConfig>;
  try {
    config = resolveConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      out(`tributary: bad configuration: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const log = pino({ level: config.logLevel, base: { pid: process.pid } });
  const logger = {
    info: (o: object, msg?: string) => log.info(o, msg),
    warn: (o: object, msg?: string) => log.warn(o, msg),
    error: (o: object, msg?: string) => log.error(o, msg),
    debug: (o: object, msg?: string) => log.debug(o, msg),
  };
  let broker: Awaited<ReturnType<typeof startBroker>>;
  try {
    broker = await startBroker({ ...config.broker, logger });
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'broker failed to start');
    out(`tributary: cannot start: ${(err as Error).message}`);
    return 1;
  }
  log.info(
    { version: pkg.version, dataDir: config.broker.dataDir, settings: Object.fromEntries(config.sources) },
    'settings',
  );
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping: finishing requests and uploading the cache');
      broker.close().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err: (err as Error).message }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
