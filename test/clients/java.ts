/**
 * Java kafka-clients driver (test/clients/java/ClientsDriver.java), compiled with javac
 * against the jars scripts/install-tools.sh put in tools/.cache/java and run as a child
 * process per step.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { lastJson, ROOT, run } from './common.ts';

const JARS = path.join(ROOT, 'tools/.cache/java');
const CLASSES = path.join(ROOT, 'tools/.cache/clients-java-classes');
const SOURCE = path.join(ROOT, 'test/clients/java/ClientsDriver.java');

/** Codecs of the Java producer. */
export const JAVA_CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

/** The kafka-clients version in tools/.cache/java. */
export function javaClientVersion(): string {
  if (!existsSync(JARS)) throw new Error(`${JARS} missing: run scripts/install-tools.sh`);
  const jar = readdirSync(JARS).find((f) => /^kafka-clients-.*\.jar$/.test(f));
  if (jar === undefined) throw new Error(`no kafka-clients jar in ${JARS}: run scripts/install-tools.sh`);
  return jar.replace(/^kafka-clients-/, '').replace(/\.jar$/, '');
}

/** Compiles ClientsDriver.java. */
export async function compileJavaDriver(): Promise<void> {
  javaClientVersion();
  mkdirSync(CLASSES, { recursive: true });
  await run('javac', ['-d', CLASSES, '-cp', `${JARS}/*`, SOURCE], 120_000);
}

/** Runs one ClientsDriver step and parses the JSON it prints. */
export async function javaDriver<T>(args: string[], timeoutMs = 120_000): Promise<T> {
  const out = await run(
    'java',
    [
      '-XX:TieredStopAtLevel=1',
      '-Xshare:auto',
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      '-cp',
      `${CLASSES}:${JARS}/*`,
      'ClientsDriver',
      ...args,
    ],
    timeoutMs,
  );
  return lastJson<T>(out);
}

/**
 * Reads `count` records of partition `partition` with KafkaConsumer.assign() into `outFile`;
 * `extra` are "name=value" consumer settings, or "seek=OFFSET" to start there.
 */
export async function javaConsume(
  bootstrap: string,
  topic: string,
  partition: number,
  count: number,
  outFile: string,
  extra: string[] = [],
): Promise<number> {
  const r = await javaDriver<{ consumed: number }>([
    'consume',
    bootstrap,
    topic,
    String(partition),
    String(count),
    outFile,
    ...extra,
  ]);
  return r.consumed;
}
