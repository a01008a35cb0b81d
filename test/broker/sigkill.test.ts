/**
 * SIGKILL the broker (the `tributary start` CLI as a child process) while producers with
 * acks=all write unique records, restart it on the same data directory, several rounds; then
 * read every partition from offset 0 and check: every acknowledged record is there exactly
 * once at the offset it was acknowledged with, unacknowledged ones at most once, nothing we
 * did not send, offsets dense from 0. Once with the file object store, once with S3
 * (moto_server) and small upload thresholds so that data is in S3 before each kill.
 *
 * BROKER_SIGKILL_ROUNDS (default 5) rounds; BROKER_SIGKILL_SEED replays the kill timings.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ApiKey,
  buildRecordBatch,
  type DeleteRecordsResponse,
  type DeleteTopicsResponse,
  ErrorCode,
  type FetchResponse,
  type InitProducerIdResponse,
  iterateBatches,
  type ListOffsetsResponse,
  type MetadataResponse,
  type RecordInput,
  readRecords,
} from '../../packages/protocol/src/index.ts';
import { type S3TestServer, startS3Server } from '../../packages/stream/test/s3-server.ts';
import {
  BrokerProcess,
  ConnectionClosedError,
  createTopic,
  fetchRequest,
  freePort,
  kcatRead,
  metadataRequest,
  prng,
  produceRaw,
  produceValues,
  RawClient,
  ROOT,
  readPartition,
  seedFrom,
  sleep,
  within,
} from './helpers.ts';

const ROUNDS = Number(process.env.BROKER_SIGKILL_ROUNDS ?? 5);
const SEED = seedFrom('BROKER_SIGKILL_SEED');
const TOPIC = 'crash';
const PARTITIONS = 4;
const CONNECTIONS = 3;
/** Requests in flight per connection (pipelined). */
const IN_FLIGHT = 4;
/** Kill between these many ms after the producers start. */
const KILL_AFTER_MS: [number, number] = [300, 2_000];
/** Bound on the wait for the first acknowledgement after a restart. */
const FIRST_ACK_MS = 30_000;
const WAL_ARGS = ['--wal-bytes', String(64 * 1024 * 1024), '--log-level', 'info'];

interface Sent {
  partition: number;
  values: string[];
  /** Base offset when acknowledged; undefined when not (no answer, or an error). */
  baseOffset?: bigint;
  error?: string;
}

interface Ledger {
  sent: Sent[];
  /** Called on every acknowledgement. */
  onAck?: () => void;
}

/** Produces on one connection until it breaks; each request goes once (no retries). */
async function producerLoop(
  port: number,
  tag: string,
  ledger: Ledger,
  rand: () => number,
  stop: { stopped: boolean },
): Promise<void> {
  let client: RawClient;
  try {
    client = await RawClient.connect(port, 2_000);
  } catch {
    return;
  }
  let seq = 0;
  const inFlight = new Set<Promise<void>>();
  try {
    while (!stop.stopped && !client.closed) {
      while (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
      if (stop.stopped || client.closed) break;
      const partition = Math.floor(rand() * PARTITIONS);
      const count = 1 + Math.floor(rand() * 20);
      const values = Array.from(
        { length: count },
        (_, i) => `${tag}-${seq}-${i}-${'x'.repeat(Math.floor(rand() * 200))}`,
      );
      seq++;
      const sent: Sent = { partition, values };
      ledger.sent.push(sent);
      const batch = buildRecordBatch(
        values.map((v): RecordInput => ({ key: Buffer.from(tag), value: Buffer.from(v) })),
      );
      const p = produceRaw(client, TOPIC, partition, batch, 15_000).then(
        (r) => {
          if (r.errorCode === ErrorCode.NONE) {
            sent.baseOffset = r.baseOffset;
            ledger.onAck?.();
          } else sent.error = `error ${r.errorCode} ${r.errorMessage ?? ''}`;
        },
        (err: unknown) => {
          sent.error = String(err);
        },
      );
      const tracked = p.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    }
    await Promise.all(inFlight);
  } finally {
    client.close();
  }
}

/**
 * The same with kafkajs (a real client): acks=-1, idempotence off, no retries, so a send that
 * resolves was acknowledged exactly once and one that throws was not acknowledged.
 */
async function kafkajsLoop(
  port: number,
  tag: string,
  ledger: Ledger,
  rand: () => number,
  stop: { stopped: boolean },
): Promise<void> {
  const kafka = new Kafka({
    clientId: `robust-${tag}`,
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    requestTimeout: 10_000,
    retry: { retries: 0 },
  });
  const producer = kafka.producer({
    idempotent: false,
    allowAutoTopicCreation: false,
    retry: { retries: 0 },
  });
  try {
    await producer.connect();
  } catch {
    return;
  }
  let seq = 0;
  const inFlight = new Set<Promise<void>>();
  let broken = false;
  try {
    while (!stop.stopped && !broken) {
      while (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
      if (stop.stopped || broken) break;
      const partition = Math.floor(rand() * PARTITIONS);
      const count = 1 + Math.floor(rand() * 20);
      const values = Array.from(
        { length: count },
        (_, i) => `${tag}-${seq}-${i}-${'y'.repeat(Math.floor(rand() * 200))}`,
      );
      seq++;
      const sent: Sent = { partition, values };
      ledger.sent.push(sent);
      const p = producer
        .send({
          topic: TOPIC,
          acks: -1,
          timeout: 10_000,
          messages: values.map((v) => ({ partition, key: tag, value: v })),
        })
        .then(
          (meta) => {
            const m = meta.find((x) => x.partition === partition);
            if (m === undefined || m.errorCode !== 0 || m.baseOffset === undefined) {
              sent.error = `unexpected metadata ${JSON.stringify(meta)}`;
            } else {
              sent.baseOffset = BigInt(m.baseOffset);
              ledger.onAck?.();
            }
          },
          (err: unknown) => {
            sent.error = String(err);
            broken = true;
          },
        );
      const tracked = p.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    }
    await Promise.all(inFlight);
  } finally {
    await within(producer.disconnect(), 5_000, 'kafkajs disconnect').catch(() => {});
  }
}

/** Checks the log of every partition against the ledger; returns counts. */
async function verify(
  port: number,
  ledger: Ledger,
): Promise<{ acked: number; unacked: number; unackedFound: number; total: number }> {
  const c = await RawClient.connect(port);
  try {
    const where = new Map<string, { partition: number; offset: bigint }>();
    let total = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      const records = await readPartition(c, TOPIC, p);
      records.forEach((r, i) => {
        // Offsets dense from 0.
        if (r.offset !== BigInt(i)) throw new Error(`partition ${p}: record ${i} has offset ${r.offset}`);
        const v = r.value ?? '<null>';
        const seen = where.get(v);
        if (seen) {
          throw new Error(
            `value ${v.slice(0, 40)} twice: ${seen.partition}@${seen.offset} and ${p}@${r.offset}`,
          );
        }
        where.set(v, { partition: p, offset: r.offset });
      });
      total += records.length;
    }
    const sentValues = new Set<string>();
    let acked = 0;
    let unacked = 0;
    let unackedFound = 0;
    for (const s of ledger.sent) {
      s.values.forEach((v, i) => {
        sentValues.add(v);
        const at = where.get(v);
        if (s.baseOffset !== undefined) {
          acked++;
          if (at === undefined)
            throw new Error(
              `acknowledged record lost: ${s.partition}@${s.baseOffset + BigInt(i)} ${v.slice(0, 40)}`,
            );
          if (at.partition !== s.partition || at.offset !== s.baseOffset + BigInt(i)) {
            throw new Error(
              `acknowledged record ${v.slice(0, 40)} at ${at.partition}@${at.offset}, acknowledged at ${s.partition}@${s.baseOffset + BigInt(i)}`,
            );
          }
        } else {
          unacked++;
          if (at !== undefined) {
            unackedFound++;
            if (at.partition !== s.partition) throw new Error(`unacknowledged record in the wrong partition`);
          }
        }
      });
    }
    for (const v of where.keys()) {
      if (!sentValues.has(v)) throw new Error(`a record nobody sent: ${v.slice(0, 60)}`);
    }
    return { acked, unacked, unackedFound, total };
  } finally {
    c.close();
  }
}

type ProducerLoop = (
  port: number,
  tag: string,
  ledger: Ledger,
  rand: () => number,
  stop: { stopped: boolean },
) => Promise<void>;

interface CrashOptions {
  label: string;
  extraArgs?: string[];
  producer?: ProducerLoop;
  onBeforeKill?: () => Promise<void>;
}

async function crashRounds(o: CrashOptions): Promise<void> {
  const extraArgs = o.extraArgs ?? [];
  const producer = o.producer ?? producerLoop;
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-sigkill-'));
  const rand = prng(SEED);
  const ledger: Ledger = { sent: [] };
  const port = await freePort();
  let broker: BrokerProcess | undefined;
  let startupMs = 1_000;
  let startupKills = 0;
  let shutdownKills = 0;
  const firstAckMs: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // Now and then, also kill the broker while it starts (WAL recovery, re-upload).
      if (round > 0 && rand() < 0.4) {
        const early = BrokerProcess.spawn(port, dataDir, [...WAL_ARGS, ...extraArgs]);
        broker = early;
        await sleep(Math.floor(rand() * startupMs));
        await early.crash();
        startupKills++;
      }
      const t0 = Date.now();
      broker = await BrokerProcess.start(port, dataDir, [...WAL_ARGS, ...extraArgs]);
      startupMs = Date.now() - t0;
      if (round === 0) {
        const admin = await RawClient.connect(port);
        await createTopic(admin, TOPIC, PARTITIONS);
        admin.close();
      }
      const ackedBefore = ledger.sent.filter((s) => s.baseOffset !== undefined).length;
      const sentBefore = ledger.sent.length;
      const stop = { stopped: false };
      const producing = Date.now();
      const firstAck = new Promise<void>((r) => {
        ledger.onAck = r;
      });
      const loops = Array.from({ length: CONNECTIONS }, (_, k) =>
        producer(port, `r${round}c${k}`, ledger, prng(Math.floor(rand() * 2 ** 31)), stop),
      );
      // The kill comes at a random moment after the round's first acknowledgement.
      await within(firstAck, FIRST_ACK_MS, `round ${round}: a first acknowledgement`);
      firstAckMs.push(Date.now() - producing);
      const killAfter = KILL_AFTER_MS[0] + Math.floor(rand() * (KILL_AFTER_MS[1] - KILL_AFTER_MS[0]));
      await sleep(killAfter);
      if (o.onBeforeKill) await o.onBeforeKill();
      // Sometimes the kill cuts a graceful shutdown (SIGTERM: finishing requests, uploading).
      if (rand() < 0.3) {
        broker.kill('SIGTERM');
        await sleep(Math.floor(rand() * 300));
        shutdownKills++;
      }
      await broker.crash();
      stop.stopped = true;
      await Promise.all(loops);
      const acked = ledger.sent.filter((s) => s.baseOffset !== undefined).length - ackedBefore;
      const errors = [
        ...new Set(
          ledger.sent
            .slice(sentBefore)
            .map((s) => s.error)
            .filter((e) => e !== undefined),
        ),
      ];
      expect(
        acked,
        `round ${round}: requests acknowledged in ${killAfter} ms before the kill (startup ${startupMs} ms); ` +
          `${ledger.sent.length - sentBefore} sent; errors: ${errors.slice(0, 5).join(' | ')}`,
      ).toBeGreaterThan(0);
    }
    broker = await BrokerProcess.start(port, dataDir, [...WAL_ARGS, ...extraArgs]);
    const counts = await verify(port, ledger);
    console.log(
      `sigkill seed=${SEED} rounds=${ROUNDS} (${startupKills} kills during startup, ${shutdownKills} during shutdown) ${o.label}: ` +
        `first ack after ready in ${firstAckMs.join('/')} ms; ` +
        `${counts.acked} acknowledged records all present once; ${counts.unacked} unacknowledged ` +
        `(${counts.unackedFound} of them present); ${counts.total} records in the log`,
    );
    expect(counts.acked).toBeGreaterThan(0);
    // A real consumer (kcat, librdkafka) reads partition 0 the same way.
    const c0 = await RawClient.connect(port);
    const ours = await readPartition(c0, TOPIC, 0);
    c0.close();
    const theirs = await kcatRead(port, TOPIC, 0);
    expect(theirs.length).toBe(ours.length);
    expect(theirs.every((r, i) => r.offset === ours[i]!.offset && r.value === ours[i]!.value)).toBe(true);
    // The broker still appends after the crashes, and a graceful stop exits 0.
    const c = await RawClient.connect(port);
    const r = await produceRaw(c, TOPIC, 0, buildRecordBatch([{ value: Buffer.from('after-crashes') }]));
    c.close();
    expect(r.errorCode).toBe(ErrorCode.NONE);
    await broker.stop();
    expect((await broker.exited).code, broker.log).toBe(0);
  } catch (err) {
    if (broker) (err as Error).message += `\nseed ${SEED}; broker log tail:\n${broker.log.slice(-4000)}`;
    throw err;
  } finally {
    await broker?.crash().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * kafkajs idempotent producers (acks=-1, retries) that live across the kills: a batch written
 * before a kill but not acknowledged is retried after the restart with the same producer id and
 * sequence, and must not be written twice.
 */
async function idempotentAcrossRestarts(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-sigkill-idem-'));
  const rand = prng(SEED ^ 0x5bd1e995);
  const ledger: Ledger = { sent: [] };
  const port = await freePort();
  let broker: BrokerProcess | undefined;
  const stop = { stopped: false };
  const producers: Promise<void>[] = [];
  try {
    broker = await BrokerProcess.start(port, dataDir, WAL_ARGS);
    const admin = await RawClient.connect(port);
    await createTopic(admin, TOPIC, PARTITIONS);
    admin.close();
    for (let k = 0; k < CONNECTIONS; k++) {
      producers.push(
        (async () => {
          const kafka = new Kafka({
            clientId: `robust-idem-${k}`,
            brokers: [`127.0.0.1:${port}`],
            logLevel: logLevel.NOTHING,
            connectionTimeout: 2_000,
            requestTimeout: 10_000,
            retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 },
          });
          const producer = kafka.producer({
            idempotent: true,
            maxInFlightRequests: 1,
            allowAutoTopicCreation: false,
          });
          await producer.connect();
          const prand = prng(Math.floor(rand() * 2 ** 31));
          let seq = 0;
          try {
            while (!stop.stopped) {
              const partition = Math.floor(prand() * PARTITIONS);
              const values = Array.from(
                { length: 1 + Math.floor(prand() * 20) },
                (_, i) => `idem${k}-${seq}-${i}`,
              );
              seq++;
              const sent: Sent = { partition, values };
              ledger.sent.push(sent);
              try {
                const meta = await producer.send({
                  topic: TOPIC,
                  acks: -1,
                  timeout: 10_000,
                  messages: values.map((v) => ({ partition, value: v })),
                });
                const m = meta.find((x) => x.partition === partition);
                if (m?.baseOffset === undefined || m.errorCode !== 0) sent.error = JSON.stringify(meta);
                else sent.baseOffset = BigInt(m.baseOffset);
              } catch (err) {
                sent.error = String(err);
              }
            }
          } finally {
            await within(producer.disconnect(), 5_000, 'kafkajs disconnect').catch(() => {});
          }
        })(),
      );
    }
    let killed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const ackedBefore = ledger.sent.filter((x) => x.baseOffset !== undefined).length;
      const waitUntil = Date.now() + FIRST_ACK_MS;
      while (ledger.sent.filter((x) => x.baseOffset !== undefined).length === ackedBefore) {
        if (Date.now() > waitUntil) throw new Error(`round ${round}: no acknowledgement after the restart`);
        await sleep(20);
      }
      await sleep(KILL_AFTER_MS[0] + Math.floor(rand() * (KILL_AFTER_MS[1] - KILL_AFTER_MS[0])));
      await broker.crash();
      killed++;
      broker = await BrokerProcess.start(port, dataDir, WAL_ARGS);
    }
    // Let the producers finish their retries against the last broker, then stop them.
    await sleep(1_000);
    stop.stopped = true;
    await within(Promise.all(producers), 60_000, 'the producers to stop');
    const counts = await verify(port, ledger);
    const failed = ledger.sent.filter((x) => x.baseOffset === undefined).length;
    console.log(
      `sigkill seed=${SEED} idempotent kafkajs across ${killed} restarts: ${counts.acked} acknowledged records ` +
        `all present once; ${failed} sends failed (${counts.unacked} records, ${counts.unackedFound} present); no duplicates`,
    );
    await broker.stop();
  } catch (err) {
    stop.stopped = true;
    if (broker) (err as Error).message += `\nseed ${SEED}; broker log tail:\n${broker.log.slice(-4000)}`;
    throw err;
  } finally {
    stop.stopped = true;
    await broker?.crash().catch(() => {});
    await Promise.allSettled(producers);
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * A raw idempotent producer: 5 batches (sequences 0–4) pipelined, SIGKILL a few ms later,
 * restart, the same 5 batches resent — each must be acknowledged, and written once: a batch that
 * was durable before the kill is recognised from the rebuilt producer state.
 */
async function idempotentResend(iterations: number, extraArgs: string[] = []): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-sigkill-resend-'));
  const rand = prng(SEED ^ 0x2545f491);
  const ledger: Ledger = { sent: [] };
  const port = await freePort();
  let broker: BrokerProcess | undefined;
  let duplicatesRecognised = 0;
  try {
    broker = await BrokerProcess.start(port, dataDir, [...WAL_ARGS, ...extraArgs]);
    const admin = await RawClient.connect(port);
    await createTopic(admin, TOPIC, PARTITIONS);
    admin.close();
    for (let it = 0; it < iterations; it++) {
      const c = await RawClient.connect(port);
      const init = await c.request<InitProducerIdResponse>(ApiKey.InitProducerId, 4, {
        transactionalId: null,
        transactionTimeoutMs: 60_000,
        producerId: -1n,
        producerEpoch: -1,
      });
      expect(init.errorCode).toBe(ErrorCode.NONE);
      const partition = it % PARTITIONS;
      const batches: { values: string[]; batch: Buffer }[] = [];
      let seq = 0;
      for (let k = 0; k < 5; k++) {
        const values = Array.from({ length: 1 + Math.floor(rand() * 10) }, (_, i) => `resend${it}-${k}-${i}`);
        batches.push({
          values,
          batch: buildRecordBatch(
            values.map((v) => ({ value: Buffer.from(v) })),
            { producerId: init.producerId, producerEpoch: init.producerEpoch, baseSequence: seq },
          ),
        });
        seq += values.length;
      }
      const firstTry = batches.map((b) =>
        produceRaw(c, TOPIC, partition, Buffer.from(b.batch)).catch(() => undefined),
      );
      await sleep(Math.floor(rand() * 15));
      await broker.crash();
      const firstAcks = (await Promise.all(firstTry)).filter((r) => r?.errorCode === ErrorCode.NONE).length;
      c.close();
      broker = await BrokerProcess.start(port, dataDir, [...WAL_ARGS, ...extraArgs]);
      const d = await RawClient.connect(port);
      // Resent in order, pipelined, as a producer retries its in-flight batches.
      const retries = await Promise.all(
        batches.map((b) => produceRaw(d, TOPIC, partition, Buffer.from(b.batch))),
      );
      d.close();
      retries.forEach((r, k) => {
        const b = batches[k]!;
        const sent: Sent = { partition, values: b.values };
        if (r.errorCode === ErrorCode.NONE) sent.baseOffset = r.baseOffset;
        else sent.error = `error ${r.errorCode} ${r.errorMessage ?? ''}`;
        ledger.sent.push(sent);
        expect(r.errorCode, `iteration ${it} batch ${k} resent: ${r.errorMessage ?? ''}`).toBe(
          ErrorCode.NONE,
        );
      });
      duplicatesRecognised += firstAcks;
    }
    const counts = await verify(port, ledger);
    console.log(
      `sigkill seed=${SEED} idempotent resend after ${iterations} kills${extraArgs.length > 0 ? ' (s3)' : ''}: ` +
        `${counts.acked} records written once; ` +
        `${duplicatesRecognised} batches acknowledged before a kill and resent`,
    );
    await broker.stop();
  } catch (err) {
    if (broker) (err as Error).message += `\nseed ${SEED}; broker log tail:\n${broker.log.slice(-4000)}`;
    throw err;
  } finally {
    await broker?.crash().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * The Java KafkaProducer with its defaults (idempotence on, acks=all, retries) running through
 * all the kills (test/broker/CrashProducer.java): every record it acknowledged is there once, none
 * fails, and nothing is written twice.
 */
async function javaAcrossRestarts(rounds: number, extraArgs: string[] = []): Promise<void> {
  const jars = join(ROOT, 'tools/.cache/java');
  if (!existsSync(jars)) throw new Error(`${jars} missing: run scripts/install-tools.sh`);
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-sigkill-java-'));
  const rand = prng(SEED ^ 0x68e31da4);
  const port = await freePort();
  let broker: BrokerProcess | undefined;
  let java: ChildProcess | undefined;
  let out = '';
  let err = '';
  const acks = () => out.split('\nACK ').length - 1;
  try {
    broker = await BrokerProcess.start(port, dataDir, [...WAL_ARGS, ...extraArgs]);
    const admin = await RawClient.connect(port);
    await createTopic(admin, TOPIC, PARTITIONS);
    admin.close();
    java = spawn(
      'java',
      [
        '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
        '-cp',
        `${jars}/*`,
        join(ROOT, 'test/broker/CrashProducer.java'),
        `127.0.0.1:${port}`,
        TOPIC,
        String(PARTITIONS),
        'java',
      ],
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const javaExit = new Promise<number | null>((r) => java!.once('exit', (code) => r(code)));
    java.stdout!.on('data', (b: Buffer) => {
      out += b.toString('utf8');
    });
    java.stderr!.on('data', (b: Buffer) => {
      err = (err + b.toString('utf8')).slice(-8_000);
    });
    out = '\n';
    const waitForAcks = async (more: number, what: string) => {
      const target = acks() + more;
      const deadline = Date.now() + 60_000;
      while (acks() < target) {
        if (java!.exitCode !== null) throw new Error(`java producer exited (${java!.exitCode}):\n${err}`);
        if (Date.now() > deadline) throw new Error(`no acknowledgements ${what} within 60 s:\n${err}`);
        await sleep(50);
      }
    };
    await waitForAcks(1, 'after the start');
    for (let round = 0; round < rounds; round++) {
      await sleep(KILL_AFTER_MS[0] + Math.floor(rand() * (KILL_AFTER_MS[1] - KILL_AFTER_MS[0])));
      await broker.crash();
      broker = await BrokerProcess.start(port, dataDir, [...WAL_ARGS, ...extraArgs]);
      await waitForAcks(100, `after restart ${round + 1}`);
    }
    java.stdin!.end();
    const code = await within(javaExit, 150_000, 'the java producer to flush and exit');
    expect(code, err).toBe(0);
    expect(out.trimEnd().endsWith('DONE'), err).toBe(true);
    const ledger: Ledger = { sent: [] };
    const errors: string[] = [];
    for (const line of out.split('\n')) {
      const f = line.split(' ');
      if (f[0] === 'ACK')
        ledger.sent.push({ partition: Number(f[1]), values: [f[3]!], baseOffset: BigInt(f[2]!) });
      else if (f[0] === 'ERR') {
        ledger.sent.push({ partition: Number(f[1]), values: [f[2]!], error: f[3] ?? '' });
        errors.push(line);
      }
    }
    const counts = await verify(port, ledger);
    console.log(
      `sigkill seed=${SEED} java idempotent producer across ${rounds} restarts${extraArgs.length > 0 ? ' (s3)' : ''}: ${counts.acked} acknowledged ` +
        `records all present once, ${errors.length} failed; ${counts.total} records in the log`,
    );
    expect(errors.slice(0, 5), 'records the Java producer failed').toEqual([]);
    expect(counts.total).toBe(counts.acked);
    await broker.stop();
  } catch (e) {
    if (broker)
      (e as Error).message +=
        `\nseed ${SEED}; java stderr:\n${err.slice(-2000)}\nbroker log tail:\n${broker.log.slice(-3000)}`;
    throw e;
  } finally {
    if (java && java.exitCode === null) java.kill('SIGKILL');
    await broker?.crash().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  }
}

type TopicState = 'created' | 'deleted' | 'unknown';

/**
 * Admin operations cut by SIGKILL: CreateTopics / DeleteTopics / DeleteRecords one at a time,
 * killed at random moments. After the restarts: an acknowledged creation is there with its
 * partition count, an acknowledged deletion is gone, an acknowledged DeleteRecords holds (log
 * start offset), and every topic that exists is usable (produce and fetch on each partition).
 */
async function adminRounds(rounds: number): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-sigkill-admin-'));
  const rand = prng(SEED ^ 0x1b873593);
  const port = await freePort();
  const topics = new Map<string, { partitions: number; state: TopicState; lowWatermark: bigint }>();
  let n = 0;
  let ops = 0;
  let broker: BrokerProcess | undefined;
  try {
    for (let round = 0; round < rounds; round++) {
      broker = await BrokerProcess.start(port, dataDir, WAL_ARGS);
      const stop = { stopped: false };
      const loop = (async () => {
        const c = await RawClient.connect(port);
        try {
          while (!stop.stopped && !c.closed) {
            const existing = [...topics].filter(([, t]) => t.state === 'created');
            const r = rand();
            if (existing.length < 3 || r < 0.5) {
              const name = `adm-${n++}`;
              const partitions = 1 + Math.floor(rand() * 3);
              topics.set(name, { partitions, state: 'unknown', lowWatermark: 0n });
              await createTopic(c, name, partitions);
              topics.get(name)!.state = 'created';
            } else if (r < 0.75) {
              const [name, t] = existing[Math.floor(rand() * existing.length)]!;
              t.state = 'unknown';
              const res = await c.request<DeleteTopicsResponse>(ApiKey.DeleteTopics, 6, {
                topics: [{ name, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
                topicNames: [],
                timeoutMs: 10_000,
              });
              const code = res.responses[0]?.errorCode;
              if (code !== ErrorCode.NONE) throw new Error(`DeleteTopics ${name}: ${code}`);
              t.state = 'deleted';
            } else {
              const [name, t] = existing[Math.floor(rand() * existing.length)]!;
              const base = await produceValues(
                c,
                name,
                0,
                Array.from({ length: 10 }, (_, i) => `${name}-${i}`),
              );
              const to = base + 5n;
              const res = await c.request<DeleteRecordsResponse>(ApiKey.DeleteRecords, 2, {
                topics: [{ name, partitions: [{ partitionIndex: 0, offset: to }] }],
                timeoutMs: 10_000,
              });
              const p = res.topics[0]?.partitions[0];
              if (p?.errorCode !== ErrorCode.NONE) throw new Error(`DeleteRecords ${name}: ${p?.errorCode}`);
              expect(p.lowWatermark).toBe(to);
              t.lowWatermark = to;
            }
            ops++;
          }
        } catch (err) {
          if (!(err instanceof ConnectionClosedError) && !/timed out/.test(String(err))) throw err;
        } finally {
          c.close();
        }
      })();
      await sleep(200 + Math.floor(rand() * 1_500));
      await broker.crash();
      stop.stopped = true;
      await loop;
    }
    broker = await BrokerProcess.start(port, dataDir, WAL_ARGS);
    const c = await RawClient.connect(port);
    let present = 0;
    for (const [name, t] of topics) {
      const md = await c.request<MetadataResponse>(ApiKey.Metadata, 12, metadataRequest([name], false));
      const mt = md.topics[0]!;
      if (t.state === 'created') {
        expect(mt.errorCode, `${name} was created`).toBe(ErrorCode.NONE);
        expect(mt.partitions.length, `${name} partitions`).toBe(t.partitions);
      } else if (t.state === 'deleted') {
        expect(mt.errorCode, `${name} was deleted`).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      }
      if (mt.errorCode !== ErrorCode.NONE) continue;
      present++;
      const lo = await c.request<ListOffsetsResponse>(ApiKey.ListOffsets, 7, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [
          {
            name,
            partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2n, maxNumOffsets: 1 }],
          },
        ],
        timeoutMs: 1000,
      });
      const earliest = lo.topics[0]?.partitions[0]?.offset ?? -1n;
      expect(earliest, `${name} log start after DeleteRecords`).toBeGreaterThanOrEqual(t.lowWatermark);
      for (let p = 0; p < mt.partitions.length; p++) {
        const base = await produceValues(c, name, p, [`check-${name}-${p}`]);
        const got = await readPartitionFrom(c, name, p, base);
        expect(got.map((r) => r.value)).toEqual([`check-${name}-${p}`]);
      }
    }
    c.close();
    const count = (st: TopicState) => [...topics.values()].filter((t) => t.state === st).length;
    console.log(
      `sigkill seed=${SEED} admin: ${ops} operations over ${rounds} kills; ${count('created')} created, ` +
        `${count('deleted')} deleted, ${count('unknown')} cut by a kill; ${present} present, all usable`,
    );
    await broker.stop();
  } catch (err) {
    if (broker) (err as Error).message += `\nseed ${SEED}; broker log tail:\n${broker.log.slice(-4000)}`;
    throw err;
  } finally {
    await broker?.crash().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Records of a partition from `offset` to the high watermark. */
async function readPartitionFrom(c: RawClient, topic: string, partition: number, offset: bigint) {
  const res = await c.request<FetchResponse>(ApiKey.Fetch, 11, fetchRequest(topic, partition, offset));
  const p = res.responses[0]?.partitions[0];
  if (p === undefined || p.errorCode !== ErrorCode.NONE)
    throw new Error(`fetch ${topic}-${partition}: ${p?.errorCode}`);
  const out: { offset: bigint; value: string | null }[] = [];
  for (const batch of iterateBatches(p.records ?? Buffer.alloc(0))) {
    for (const r of readRecords(batch)) {
      if (r.offset >= offset) out.push({ offset: r.offset, value: r.value?.toString('utf8') ?? null });
    }
  }
  return out;
}

describe('SIGKILL the broker while producing (acks=all)', () => {
  it(
    `file object store: ${ROUNDS} kill/restart rounds lose no acknowledged record`,
    async () => {
      await crashRounds({ label: 'file store, raw producer' });
    },
    60_000 + ROUNDS * 30_000,
  );

  it(
    `kafkajs producer (acks=-1, no retries), file object store: ${ROUNDS} kill/restart rounds`,
    async () => {
      await crashRounds({ label: 'file store, kafkajs producer', producer: kafkajsLoop });
    },
    60_000 + ROUNDS * 30_000,
  );

  it(
    `kafkajs idempotent producers living across ${ROUNDS} kill/restart rounds write no duplicates`,
    async () => {
      await idempotentAcrossRestarts();
    },
    90_000 + ROUNDS * 30_000,
  );

  it(
    `raw idempotent producer: 5 in-flight batches resent after each of ${ROUNDS * 2} kills are written once`,
    async () => {
      await idempotentResend(ROUNDS * 2);
    },
    60_000 + ROUNDS * 2 * 15_000,
  );

  let s3: S3TestServer | undefined;
  /** moto_server, started by the first test that needs it. */
  async function s3Server(): Promise<S3TestServer> {
    s3 ??= await startS3Server('tributary-sigkill');
    return s3;
  }
  afterAll(async () => {
    await s3?.stop();
  });

  it(
    `S3 object store (moto): ${ROUNDS} kill/restart rounds with data uploaded before each kill`,
    async () => {
      const s3 = await s3Server();
      const prefix = `sigkill-${SEED}`;
      const store = s3.store({ prefix });
      const seen = new Set<string>();
      try {
        await crashRounds({
          label: 's3 store, raw producer',
          extraArgs: [
            '--object-store',
            s3.uri(prefix),
            '--upload-bytes',
            '65536',
            '--upload-interval-ms',
            '100',
          ],
          // Data of this round went to S3 before the kill: some object is new.
          onBeforeKill: async () => {
            let fresh = 0;
            let token: string | undefined;
            do {
              const page = await store.list(token === undefined ? {} : { continuationToken: token });
              for (const obj of page.objects) {
                if (!seen.has(obj.key)) fresh++;
                seen.add(obj.key);
              }
              token = page.continuationToken;
            } while (token !== undefined);
            expect(fresh, 'objects uploaded to S3 in this round before the kill').toBeGreaterThan(0);
          },
        });
      } finally {
        await store.close();
      }
    },
    90_000 + ROUNDS * 30_000,
  );

  it(
    `S3 object store: idempotent batches resent after each of ${ROUNDS} kills are written once`,
    async () => {
      const s3 = await s3Server();
      await idempotentResend(ROUNDS, [
        '--object-store',
        s3.uri(`resend-${SEED}`),
        '--upload-bytes',
        '4096',
        '--upload-interval-ms',
        '50',
      ]);
    },
    90_000 + ROUNDS * 15_000,
  );

  it(
    `admin operations (create, delete, DeleteRecords) cut by ${ROUNDS} kills leave consistent, usable topics`,
    async () => {
      await adminRounds(ROUNDS);
    },
    60_000 + ROUNDS * 20_000,
  );

  it(
    `Java producer (default idempotence) running through ${ROUNDS} kill/restart rounds`,
    async () => {
      await javaAcrossRestarts(ROUNDS);
    },
    180_000 + ROUNDS * 30_000,
  );

  it(
    `S3 object store: Java producer (default idempotence) running through ${ROUNDS} kill/restart rounds`,
    async () => {
      const s3 = await s3Server();
      await javaAcrossRestarts(ROUNDS, [
        '--object-store',
        s3.uri(`java-${SEED}`),
        '--upload-bytes',
        '1048576',
        '--upload-interval-ms',
        '200',
      ]);
    },
    180_000 + ROUNDS * 30_000,
  );
});
