/**
 * kcat (librdkafka) driver: produce the golden record set with a given codec, consume it
 * back, and list metadata. kcat sets the same headers on every record (-H) and cannot set
 * timestamps, which is why the fixture uses run-wide headers.
 */
import { FIXTURE_HEADERS, type FixtureRecord } from '../fixture.ts';
import { expectSuccess, runProcess } from './process.ts';

/** Codecs kcat's -z accepts (librdkafka names). */
export type KcatCodec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

const KEY_DELIM = '|';

/** The first line of `kcat -V`, e.g. "Version 1.7.1 (... librdkafka 2.0.2 ...)". */
export async function kcatVersion(): Promise<{ kcat: string; librdkafka: string }> {
  const r = expectSuccess('kcat -V', await runProcess('kcat', ['-V'], { timeoutMs: 10_000 }));
  const kcat = /Version (\S+)/.exec(r.stdout)?.[1] ?? 'unknown';
  const librdkafka = /librdkafka (\S+)/.exec(r.stdout)?.[1] ?? 'unknown';
  return { kcat, librdkafka };
}

/**
 * Input lines for `kcat -P -K '|' -Z`: "key|value"; a line without the delimiter is a
 * null key; an empty value with -Z is a null value.
 */
export function kcatInput(records: FixtureRecord[]): string {
  return records
    .map((r) => {
      if (r.key === null) return r.value ?? '';
      return `${r.key}${KEY_DELIM}${r.value ?? ''}`;
    })
    .join('\n')
    .concat('\n');
}

function common(broker: string, clientId: string): string[] {
  return ['-b', broker, '-X', `client.id=${clientId}`, '-X', 'socket.timeout.ms=10000', '-m', '15'];
}

/** Produces the records to partition 0 of `topic` with `codec`, optionally idempotent. */
export async function kcatProduce(
  broker: string,
  topic: string,
  codec: KcatCodec,
  records: FixtureRecord[],
  idempotent = false,
): Promise<void> {
  const args = [
    ...common(broker, 'golden-kcat'),
    '-P',
    '-t',
    topic,
    '-p',
    '0',
    '-K',
    KEY_DELIM,
    '-Z',
    '-z',
    codec,
    '-X',
    'linger.ms=100',
    '-X',
    `enable.idempotence=${idempotent}`,
  ];
  for (const h of FIXTURE_HEADERS) args.push('-H', `${h.key}=${h.value}`);
  expectSuccess(`kcat produce ${codec}`, await runProcess('kcat', args, { input: kcatInput(records) }));
}

/** Consumes `count` records from partition 0 of `topic`; returns kcat's formatted lines. */
export async function kcatConsume(broker: string, topic: string, count: number): Promise<string[]> {
  const args = [
    ...common(broker, 'golden-kcat'),
    '-C',
    '-t',
    topic,
    '-p',
    '0',
    '-o',
    'beginning',
    '-c',
    String(count),
    '-e',
    '-Z',
    '-f',
    '%k\t%s\t%h\n',
  ];
  const r = expectSuccess('kcat consume', await runProcess('kcat', args));
  return r.stdout.split('\n').filter((l) => l.length > 0);
}

/** Lists metadata for `topic` (kcat -L). */
export async function kcatMetadata(broker: string, topic: string): Promise<string> {
  const r = expectSuccess(
    'kcat -L',
    await runProcess('kcat', [...common(broker, 'golden-kcat'), '-L', '-t', topic]),
  );
  return r.stdout;
}
