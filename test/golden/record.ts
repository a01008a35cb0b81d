/**
 * Records golden frames from real Kafka clients (manual step, needs scripts/install-tools.sh):
 *   pnpm tsx test/golden/record.ts [client...]     (default: every client)
 * Each client runs its scenarios against the capture listener; the request frames are
 * written to frames/<client>/<nnn>-<apiName>-v<version>.bin and listed in frames/index.json.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeBroker } from './capture/broker.ts';
import { type CapturedFrame, CaptureListener } from './capture/listener.ts';
import {
  compileJavaClient,
  javaAdmin,
  javaClientVersion,
  javaConsume,
  javaProduce,
  writeRecordsFile,
} from './clients/java.ts';
import { kafkajsAdmin, kafkajsProduce, kafkajsVersion } from './clients/kafkajs.ts';
import { kcatConsume, kcatMetadata, kcatProduce, kcatVersion } from './clients/kcat.ts';
import {
  platformaticAdmin,
  platformaticConsume,
  platformaticProduce,
  platformaticVersion,
} from './clients/platformatic.ts';
import { fixtureRecords, RECORD_COUNT } from './fixture.ts';
import {
  ADMIN_PARTITIONS,
  adminTopic,
  CLIENTS,
  type ClientName,
  type CodecName,
  FRAMES_DIR,
  type IndexEntry,
  produceScenario,
  produceTopic,
  readIndex,
  scratchTopic,
} from './scenarios.ts';

/** Frames kept per (scenario, api key, version); Produce frames are all kept. */
const FRAMES_PER_KIND_MAX = 2;
const PRODUCE_KEY = 0;

export interface Scenario {
  name: string;
  run: () => Promise<void>;
}

function check(cond: boolean, msg: string): void {
  if (!cond) throw new Error(`check failed: ${msg}`);
}

/** The fixture as consumer output lines: key TAB value [TAB timestamp] TAB headers. */
function expectedLines(nullToken: string, withTimestamp: boolean): string[] {
  return fixtureRecords().map((r) => {
    const cols = [r.key ?? nullToken, r.value ?? nullToken];
    if (withTimestamp) cols.push(String(r.timestampMs));
    cols.push(r.headers.map((h) => `${h.key}=${h.value}`).join(','));
    return cols.join('\t');
  });
}

export function scenariosFor(client: ClientName, broker: string, workDir: string): Scenario[] {
  const records = fixtureRecords();
  const produce = (codec: CodecName, fn: () => Promise<unknown>): Scenario => ({
    name: produceScenario(codec),
    run: async () => void (await fn()),
  });
  switch (client) {
    case 'kcat':
      return [
        { name: 'metadata', run: async () => void (await kcatMetadata(broker, adminTopic(client))) },
        ...(['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const).map((c) =>
          produce(c, () => kcatProduce(broker, produceTopic(client, c), c, records, true)),
        ),
        {
          name: 'consume',
          run: async () => {
            const lines = await kcatConsume(broker, produceTopic(client, 'none'), RECORD_COUNT);
            check(
              lines.join('\n') === expectedLines('NULL', false).join('\n'),
              `kcat consumed:\n${lines.join('\n')}`,
            );
          },
        },
      ];
    case 'kafkajs':
      return [
        {
          name: 'admin',
          run: async () => {
            const n = await kafkajsAdmin(broker, adminTopic(client), ADMIN_PARTITIONS, scratchTopic(client));
            check(n === ADMIN_PARTITIONS, `kafkajs saw ${n} partitions`);
          },
        },
        ...(['none', 'gzip'] as const).map((c) =>
          produce(c, () => kafkajsProduce(broker, produceTopic(client, c), c, records)),
        ),
      ];
    case 'platformatic':
      return [
        {
          name: 'admin',
          run: async () => {
            const topics = await platformaticAdmin(
              broker,
              adminTopic(client),
              ADMIN_PARTITIONS,
              scratchTopic(client),
            );
            check(topics.includes(adminTopic(client)), 'platformatic listTopics lacks the admin topic');
          },
        },
        ...(['none', 'gzip', 'snappy', 'lz4'] as const).map((c) =>
          produce(c, () => platformaticProduce(broker, produceTopic(client, c), c, records)),
        ),
        {
          name: 'consume',
          run: async () => {
            const n = await platformaticConsume(broker, produceTopic(client, 'none'));
            check(n === RECORD_COUNT, `platformatic fetched ${n} records`);
          },
        },
      ];
    case 'java': {
      const file = path.join(workDir, 'records.tsv');
      writeRecordsFile(file, records);
      return [
        {
          name: 'admin',
          run: async () =>
            void (await javaAdmin(broker, adminTopic(client), ADMIN_PARTITIONS, scratchTopic(client))),
        },
        ...(['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const).map((c) =>
          produce(c, () => javaProduce(broker, produceTopic(client, c), c, file)),
        ),
        {
          name: 'consume',
          run: async () => {
            const lines = await javaConsume(broker, produceTopic(client, 'none'), RECORD_COUNT);
            check(
              lines.join('\n') === expectedLines('\\N', true).join('\n'),
              `java consumed:\n${lines.join('\n')}`,
            );
          },
        },
      ];
    }
  }
}

export async function clientVersion(client: ClientName): Promise<string> {
  switch (client) {
    case 'kcat': {
      const v = await kcatVersion();
      return `${v.kcat} (librdkafka ${v.librdkafka})`;
    }
    case 'kafkajs':
      return kafkajsVersion();
    case 'platformatic':
      return platformaticVersion();
    case 'java':
      await compileJavaClient();
      return javaClientVersion();
  }
}

/** Picks the frames worth committing: every Produce, at most FRAMES_PER_KIND_MAX of others. */
function selectFrames(frames: CapturedFrame[]): CapturedFrame[] {
  const seen = new Map<string, number>();
  return frames.filter((f) => {
    if (f.apiKey === PRODUCE_KEY) return true;
    const k = `${f.scenario}/${f.apiKey}/${f.apiVersion}`;
    const n = seen.get(k) ?? 0;
    seen.set(k, n + 1);
    return n < FRAMES_PER_KIND_MAX;
  });
}

async function recordClient(
  client: ClientName,
  broker: FakeBroker,
  listener: CaptureListener,
): Promise<IndexEntry[]> {
  const version = await clientVersion(client);
  const workDir = mkdtempSync(path.join(tmpdir(), `golden-${client}-`));
  listener.frames.length = 0;
  try {
    for (const s of scenariosFor(client, listener.address, workDir)) {
      listener.scenario = s.name;
      process.stdout.write(`[record] ${client} ${s.name} ... `);
      try {
        await s.run();
      } catch (err) {
        for (const e of listener.errors) console.error(`[record] listener error: ${e.stack ?? e.message}`);
        throw err;
      }
      process.stdout.write('ok\n');
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  if (listener.errors.length > 0)
    throw new Error(`listener errors: ${listener.errors.map((e) => e.message).join('; ')}`);
  const dir = path.join(FRAMES_DIR, client);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const entries: IndexEntry[] = [];
  selectFrames(listener.frames).forEach((f, i) => {
    const apiName = broker.apiName(f.apiKey);
    const file = `${client}/${String(i).padStart(3, '0')}-${apiName}-v${f.apiVersion}.bin`;
    writeFileSync(path.join(FRAMES_DIR, file), f.bytes);
    entries.push({
      client,
      clientVersion: version,
      scenario: f.scenario,
      seq: i,
      apiKey: f.apiKey,
      apiName,
      apiVersion: f.apiVersion,
      clientId: f.clientId,
      file,
      size: f.bytes.length,
    });
  });
  console.log(`[record] ${client} ${version}: ${entries.length} frames`);
  return entries;
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2) as ClientName[];
  for (const c of wanted)
    if (!CLIENTS.includes(c)) throw new Error(`unknown client ${c} (one of ${CLIENTS.join(', ')})`);
  const clients = wanted.length > 0 ? wanted : [...CLIENTS];
  const broker = new FakeBroker();
  const listener = await CaptureListener.start((f) => broker.handle(f));
  broker.setPort(listener.port);
  let index = readIndex().filter((e) => !clients.includes(e.client));
  try {
    for (const client of clients) index = index.concat(await recordClient(client, broker, listener));
  } finally {
    await listener.close();
  }
  index.sort((a, b) => CLIENTS.indexOf(a.client) - CLIENTS.indexOf(b.client) || a.seq - b.seq);
  mkdirSync(FRAMES_DIR, { recursive: true });
  writeFileSync(path.join(FRAMES_DIR, 'index.json'), `${JSON.stringify(index, null, 1)}\n`);
  const total = readdirSync(FRAMES_DIR).length;
  console.log(`[record] index.json: ${index.length} frames (${total} entries in frames/)`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
