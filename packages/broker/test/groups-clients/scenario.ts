/**
 * What the group tests with members in their own processes share (groups-members.test.ts: the
 * Java KafkaConsumer and librdkafka; groups-franz.test.ts: franz-go): a member process and its
 * parsed output, `until`, a broker with a kafkajs admin, and the scenario "3 members on 12
 * partitions: join, leave, kill; every record consumed", parameterised by how a member starts
 * and by the client's own expectations.
 *
 * A member prints one line per event on stdout: `assigned <p,p,…>` (its whole assignment;
 * `topic:p` entries for a regex subscription), `revoked …`, `lost …`, `rec <partition>
 * <offset> <value>`, `protocol …`, `closed`. It reads `stop` on stdin to commit, leave and close.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Admin, Kafka, logLevel, type Producer } from 'kafkajs';
import { afterEach, expect } from 'vitest';
import { type Broker, type BrokerOptions, startBroker } from '../../src/index.ts';

/** The repository's root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** What a test undoes once it ends, in reverse order. */
export type Cleanups = (() => unknown)[];

/** A cleanup list run (last first, errors ignored) after each test of the calling file. */
export function useCleanups(): Cleanups {
  const cleanups: Cleanups = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
  });
  return cleanups;
}

export async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Member {
  child: ChildProcess;
  /** The last "assigned" line's partitions. */
  assigned: number[];
  /** The last "assigned" line's entries as printed ("3", or "topic:3" for a regex subscription). */
  assignedNames: string[];
  /** value → partition of every delivery. */
  deliveries: [string, number][];
  closed: boolean;
  /** Every line but the records (assigned, revoked, lost, protocol, closed, stderr). */
  lines: string[];
}

/** Starts `command args` as a group member (SIGKILLed by the cleanups) and follows its output. */
export function spawnMember(
  cleanups: Cleanups,
  command: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): Member {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
  cleanups.push(() => child.kill('SIGKILL'));
  const m: Member = { child, assigned: [], assignedNames: [], deliveries: [], closed: false, lines: [] };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('rec ')) {
      const [, p, , v] = line.split(' ');
      m.deliveries.push([v!, Number(p)]);
      return;
    }
    m.lines.push(line);
    if (line.startsWith('assigned')) {
      m.assignedNames = line.slice(9).split(',').filter(Boolean);
      m.assigned = m.assignedNames.map(Number);
    } else if (line === 'closed') m.closed = true;
  });
  child.stderr!.on('data', (d: Buffer) => m.lines.push(`stderr: ${d.toString().trim()}`));
  return m;
}

/** Writes "stop" to the member and waits until it says it closed. */
export async function stopMember(m: Member, what: string): Promise<void> {
  m.child.stdin!.write('stop\n');
  await until(what, () => m.closed);
}

/** How many times each value was delivered, over all the members. */
export function deliveryCounts(ms: Member[]): Map<string, number> {
  const c = new Map<string, number>();
  for (const m of ms) for (const [v] of m.deliveries) c.set(v, (c.get(v) ?? 0) + 1);
  return c;
}

/**
 * Runs `body`; if it throws, the error is thrown again with the last `lines` lines of each of
 * `ms` (read when it fails, so members added meanwhile count).
 */
export async function withDiagnostics(ms: Member[], lines: number, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    const diag = ms.map((m, i) => `member ${i}: ${m.lines.slice(-lines).join(' | ')}`).join('\n');
    throw new Error(`${String(err)}\n${diag}`);
  }
}

/** A broker on memory storage (group settings for quick tests) and a kafkajs admin on it. */
export async function startGroupBroker(
  cleanups: Cleanups,
  clientId: string,
  o: Partial<BrokerOptions> = {},
): Promise<{ b: Broker; k: Kafka; admin: Admin }> {
  const b = await startBroker({
    port: 0,
    wal: 'memory://',
    objectStore: 'memory://',
    metadata: 'memory',
    groupInitialRebalanceDelayMs: 500,
    groupMinSessionTimeoutMs: 1000,
    offsetsTopicPartitions: 8,
    // KIP-848: the session timeout and heartbeat interval are the broker's, not the client's.
    groupConsumerSessionTimeoutMs: 6000,
    groupConsumerHeartbeatIntervalMs: 300,
    ...o,
  });
  cleanups.push(() => b.close());
  const k = new Kafka({ clientId, brokers: [`127.0.0.1:${b.address.port}`], logLevel: logLevel.NOTHING });
  const admin = k.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  return { b, k, admin };
}

/** A connected kafkajs producer, disconnected by the cleanups. */
export async function connectedProducer(cleanups: Cleanups, k: Kafka): Promise<Producer> {
  const producer = k.producer();
  await producer.connect();
  cleanups.push(() => producer.disconnect());
  return producer;
}

/** Expects every committed offset of `group` on `topic` to be the partition's end. */
export async function expectCommittedAtEnds(admin: Admin, group: string, topic: string): Promise<void> {
  const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((e) => [e.partition, e.offset]));
  for (const p of committed[0]!.partitions) expect(p.offset).toBe(ends.get(p.partition));
}

export interface JoinLeaveKillOptions {
  cleanups: Cleanups;
  /** The kafkajs client id of the admin and the producer. */
  clientId: string;
  topic: string;
  group: string;
  /** Starts one member of `group` on `topic`. */
  start: (b: Broker, group: string, topic: string) => Member;
  /** The client's own expectations once the 3 members have 4 partitions each. */
  checkAssigned?: (b: Broker, ms: Member[]) => Promise<void> | void;
  /** How many of each member's last lines a failure shows. */
  diagLines: number;
  /** Heads the line logged at the end. */
  label: string;
}

/**
 * 3 members on a 12-partition topic get 4 partitions each; one leaves cleanly, the other two
 * take its partitions; one is SIGKILLed while records flow and the last takes everything after
 * the session timeout. Every record is consumed; a record is delivered twice only on a
 * partition the killed member owned; records produced once the group settled are delivered
 * exactly once; the committed offsets end at the partitions' ends.
 */
export async function joinLeaveKill(o: JoinLeaveKillOptions): Promise<void> {
  const { cleanups, topic, group } = o;
  const { b, k, admin } = await startGroupBroker(cleanups, o.clientId);
  await admin.createTopics({ topics: [{ topic, numPartitions: 12 }] });
  const producer = await connectedProducer(cleanups, k);
  const produce = async (from: number, count: number) => {
    for (let i = from; i < from + count; i += 100) {
      const messages = [];
      for (let j = i; j < Math.min(from + count, i + 100); j++)
        messages.push({ key: `k${j}`, value: `v${j}` });
      await producer.send({ topic, messages });
    }
  };
  await produce(0, 1200);
  const ms = [o.start(b, group, topic), o.start(b, group, topic), o.start(b, group, topic)];
  const allSeen = (from: number, to: number) => {
    const s = deliveryCounts(ms);
    for (let i = from; i < to; i++) if (!s.has(`v${i}`)) return false;
    return true;
  };
  const t0 = Date.now();
  const phases: string[] = [];
  const phase = (what: string) => phases.push(`${what} ${Date.now() - t0} ms`);
  await withDiagnostics(ms, o.diagLines, async () => {
    await until('3 members with 4 partitions each', () => ms.every((m) => m.assigned.length === 4), 60_000);
    phase('3×4 assigned');
    expect(new Set(ms.flatMap((m) => m.assigned)).size).toBe(12);
    await o.checkAssigned?.(b, ms);
    await until('records 0–1200 consumed', () => allSeen(0, 1200));

    // Clean leave.
    await stopMember(ms[2]!, 'member 2 closed');
    await until(
      'two members with 6 partitions each',
      () => ms[0]!.assigned.length === 6 && ms[1]!.assigned.length === 6,
    );
    phase('2×6 after leave');
    await produce(1200, 1200);
    await until('records 0–2400 consumed', () => allSeen(0, 2400));

    // SIGKILL while records flow: the last member takes everything after the session
    // timeout, and re-reads what the killed member consumed but had not committed.
    const killedOwned = new Set(ms[1]!.assigned);
    const flowing = (async () => {
      for (let i = 2400; i < 3600; i += 100) {
        await produce(i, 100);
        await sleep(50);
      }
    })();
    const killedBefore = ms[1]!.deliveries.length;
    await until(
      'the member to kill consumes new records',
      () => ms[1]!.deliveries.length > killedBefore + 20,
    );
    ms[1]!.child.kill('SIGKILL');
    const killedAt = Date.now();
    await flowing;
    await until('one member with 12 partitions', () => ms[0]!.assigned.length === 12, 30_000);
    phase(`1×12 ${Date.now() - killedAt} ms after the kill`);
    await until('records 0–3600 consumed', () => allSeen(0, 3600));
    // Settled: what is produced now is delivered exactly once.
    const settled = ms[0]!.deliveries.length;
    await produce(3600, 1200);
    await until('records 0–4800 consumed', () => allSeen(0, 4800));
    await sleep(500);
    const late = ms[0]!.deliveries.slice(settled).filter(([v]) => Number(v.slice(1)) >= 3600);
    expect(late.length).toBe(1200);
    expect(new Set(late.map(([v]) => v)).size).toBe(1200);
    // Duplicates only on the killed member's partitions.
    const counts = deliveryCounts(ms);
    const dupPartitions = new Set<number>();
    let dups = 0;
    for (const m of ms)
      for (const [v, p] of m.deliveries)
        if (counts.get(v)! > 1) {
          dupPartitions.add(p);
          dups++;
        }
    for (const p of dupPartitions) expect(killedOwned.has(p)).toBe(true);

    await stopMember(ms[0]!, 'member 0 closed');
    await expectCommittedAtEnds(admin, group, topic);
    console.log(
      `${o.label}: 4800 records, ${dups / 2} delivered twice (killed member's uncommitted poll); ${phases.join(', ')}`,
    );
  });
}
