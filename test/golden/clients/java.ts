/**
 * Java kafka-clients driver: compiles GoldenClient.java against the jars that
 * scripts/install-tools.sh put in tools/.cache/java, then runs its admin / produce /
 * consume modes.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FixtureRecord } from '../fixture.ts';
import { expectSuccess, runProcess } from './process.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const JARS = path.join(ROOT, 'tools/.cache/java');
const CLASSES = path.join(ROOT, 'tools/.cache/java-classes');
const SOURCE = path.join(ROOT, 'test/golden/clients/GoldenClient.java');
const NULL = '\\N';

/** Compression types the Java producer accepts. */
export type JavaCodec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** The kafka-clients version found in tools/.cache/java (from the jar's file name). */
export function javaClientVersion(): string {
  if (!existsSync(JARS)) throw new Error(`${JARS} missing: run scripts/install-tools.sh`);
  const jar = readdirSync(JARS).find((f) => /^kafka-clients-.*\.jar$/.test(f));
  if (jar === undefined) throw new Error(`no kafka-clients jar in ${JARS}: run scripts/install-tools.sh`);
  return jar.replace(/^kafka-clients-/, '').replace(/\.jar$/, '');
}

/** Compiles GoldenClient.java (every call; javac takes about a second). */
export async function compileJavaClient(): Promise<void> {
  javaClientVersion();
  mkdirSync(CLASSES, { recursive: true });
  expectSuccess(
    'javac',
    await runProcess('javac', ['-d', CLASSES, '-cp', `${JARS}/*`, SOURCE], { timeoutMs: 120_000 }),
  );
}

async function runJava(args: string[]): Promise<string> {
  const cp = `${CLASSES}:${JARS}/*`;
  const r = await runProcess(
    'java',
    ['-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', cp, 'GoldenClient', ...args],
    { timeoutMs: 60_000 },
  );
  return expectSuccess(`java ${args[1]}`, r).stdout;
}

/** Writes the records file GoldenClient's produce mode reads. */
export function writeRecordsFile(file: string, records: FixtureRecord[]): void {
  const lines = records.map((r) =>
    [
      r.key ?? NULL,
      r.value ?? NULL,
      String(r.timestampMs),
      r.headers.map((h) => `${h.key}=${h.value}`).join(','),
    ].join('\t'),
  );
  writeFileSync(file, `${lines.join('\n')}\n`);
}

/** AdminClient: create `topic` with `partitions`, describe it, create + delete `scratch`. */
export function javaAdmin(
  broker: string,
  topic: string,
  partitions: number,
  scratch: string,
): Promise<string> {
  return runJava([broker, 'admin', topic, String(partitions), scratch]);
}

/** Idempotent KafkaProducer sending the records in `recordsFile` to partition 0. */
export function javaProduce(
  broker: string,
  topic: string,
  codec: JavaCodec,
  recordsFile: string,
): Promise<string> {
  return runJava([broker, 'produce', topic, codec, recordsFile]);
}

/** KafkaConsumer with assign() (no group) reading `count` records from partition 0. */
export async function javaConsume(broker: string, topic: string, count: number): Promise<string[]> {
  const out = await runJava([broker, 'consume', topic, String(count)]);
  return out.split('\n').filter((l) => l.length > 0);
}
