/**
 * A seeded, deterministic simulation of the group coordinator: one group over 1–3 topics (a
 * 4th may be created), driven by simulated KIP-848 clients (ConsumerGroupHeartbeat; by names or
 * regex, some static, some slow to revoke) and classic cooperative clients (JoinGroup/SyncGroup/
 * Heartbeat, subscription v1 with owned partitions; a classic client that finds itself leader
 * of a classic group assigns like a cooperative assignor), under random heartbeats, joins,
 * leaves (static ones for now), crashes, stalls, lost responses, offset commits,
 * resubscriptions, topics created and partitions added, coordinator restarts (a new coordinator
 * replaying the same log) and compactions, with time moved on by vitest's fake timers (the
 * caller installs them: setTimeout/setInterval/Date).
 *
 * The clients are careful ones: a classic client past its session (or, in a round, rebalance)
 * timeout without an answer treats its partitions as lost before it rejoins; a KIP-848 client
 * sends a full heartbeat after a lost response. Known coordinator bugs can be stepped past with
 * `tolerate` tags (see .tmp/notes-gsim.md).
 *
 * Checked after every step: the coordinator's own view (no partition held by two members,
 * partition epochs consistent); every client that is still a member at the coordinator
 * believes it owns only partitions the coordinator has it holding (assigned or pending
 * revocation); no two such clients believe they own the same partition; epochs never go down
 * except on a rejoin; a member revoking longer than its rebalance timeout is fenced; offset
 * commits are accepted exactly from current members at their epoch (zombies are refused); a
 * restart (and a compaction) replays exactly the state before it, offsets included. At the end, with the
 * actions stopped and every client heartbeating, the group settles: every partition of the
 * subscribed topics owned by exactly one live client, balanced for equal subscriptions, and
 * ConsumerGroupDescribe says Stable with groupEpoch == assignmentEpoch.
 */
import {
  decodeConsumerProtocolAssignment,
  decodeConsumerProtocolSubscription,
  ErrorCode,
  encodeConsumerProtocolAssignment,
  encodeConsumerProtocolSubscription,
  Reader,
  Writer,
} from '@tributary/protocol';
import { vi } from 'vitest';
import { type ConsumerGroup, MemberState } from '../../src/groups/consumer-group.ts';
import {
  CONSUMER_PROTOCOL_DEFAULTS,
  type HeartbeatParams,
  type HeartbeatResult,
  type TopicView,
} from '../../src/groups/consumer-protocol.ts';
import { GroupCoordinator } from '../../src/groups/coordinator.ts';
import type { Group, JoinResult, SyncResult } from '../../src/groups/group.ts';
import { resetUuids } from './ids.ts';
import { SimGroupLog } from './log.ts';

export class SimFailure extends Error {}

export interface SimOptions {
  seed: number;
  steps: number;
  /** Steps of the trace shown with a failure (default 40; at most 4 lines a step on average). */
  traceTail?: number;
  /** Probability that a response is lost (the coordinator applied the request). */
  lostResponses?: number;
  /** Known bugs to step past (to look for others): tags as in notes-gsim.md. */
  tolerate?: readonly string[];
  /**
   * Damage that the checks must notice: KIP-848 clients that secretly keep the partitions they
   * are told to revoke, or a log that loses records.
   */
  sabotage?: 'keep-revoked' | 'drop-log-records';
  /** Static members (group.instance.id) among the clients (default true). */
  statics?: boolean;
  /** Print the trace of the last traceTail steps even when the run passes. */
  dumpTrace?: boolean;
}

export interface SimReport {
  seed: number;
  steps: number;
  requests: number;
  lost: number;
  restarts: number;
  compactions: number;
  crashes: number;
  stalls: number;
  leaves: number;
  spawned: number;
  partitionsAdded: number;
  fencedOrUnknown: number;
  zombieObservations: number;
  classicGroupPhases: number;
  upgrades: number;
  settleMs: number;
  simulatedMs: number;
  logRecords: number;
  tolerated: number;
  /** Live clients when the group settled, and whether their assignment was checked for balance. */
  liveAtEnd: number;
  balanceChecked: boolean;
  commits: number;
  commitsAccepted: number;
}

const GROUP = 'sim-group';
const SESSION_MS = 10_000;
const REBALANCE_MS = 15_000;
const HEARTBEAT_MS = 1_000;
const QUANTUM_MS = 250;
const RETRY_MS = 500;
const T0 = Date.UTC(2026, 0, 1);

// ---- small helpers ---------------------------------------------------------------------------

/** mulberry32 */
function rng(seed: number): () => number {
  let a = seed >>> 0 || 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Owned = Map<string, Set<number>>;

function ownedSize(a: Owned): number {
  let n = 0;
  for (const ps of a.values()) n += ps.size;
  return n;
}

function keyOf(a: Owned): string {
  return [...a]
    .filter(([, ps]) => ps.size > 0)
    .map(([t, ps]) => `${t}:${[...ps].sort((x, y) => x - y).join(',')}`)
    .sort()
    .join(' ');
}

function union(a: Owned, b: Owned): Owned {
  const out = copyOwned(a);
  for (const [t, ps] of b) out.set(t, new Set([...(out.get(t) ?? []), ...ps]));
  return out;
}

function copyOwned(a: Owned): Owned {
  const out: Owned = new Map();
  for (const [t, ps] of a) out.set(t, new Set(ps));
  return out;
}

function minus(a: Owned, b: Owned): Owned {
  const out: Owned = new Map();
  for (const [t, ps] of a) {
    const other = b.get(t);
    const left = [...ps].filter((p) => !other?.has(p));
    if (left.length > 0) out.set(t, new Set(left));
  }
  return out;
}

function flushOnce(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

async function flush(): Promise<void> {
  for (let i = 0; i < 4; i++) await flushOnce();
}

const CODE_NAMES = new Map<number, string>(
  Object.entries(ErrorCode).map(([k, v]) => [v as number, k] as [number, string]),
);
const codeName = (c: number): string => CODE_NAMES.get(c) ?? String(c);

// ---- the world --------------------------------------------------------------------------------

interface SimTopic {
  name: string;
  id: string;
  partitions: number;
}

type Kind = 'consumer' | 'classic';

interface ClientBase {
  name: string;
  kind: Kind;
  subscription: string[];
  owned: Owned;
  crashed: boolean;
  retired: boolean;
  stalledUntil: number;
  inFlight: { what: string; since: number } | undefined;
  nextAt: number;
  memberId: string;
  /** A static member's group.instance.id (reused by a later client once this one crashed or left). */
  instanceId: string | null;
}

interface ConsumerClient extends ClientBase {
  kind: 'consumer';
  epoch: number;
  sendFull: boolean;
  lastReported: string | null;
  /** Sabotage keep-revoked: partitions it was told to revoke and still uses. */
  secret: Owned;
  /** Subscribed by regex (SubscribedTopicRegex) instead of names. */
  regex: string | null;
  /** A slow client: it takes up to twice the rebalance timeout to revoke (and says it still owns them). */
  slow: boolean;
  /** Partitions it was told to revoke and has not released yet, and when it will. */
  revoking: Owned;
  revokeAt: number;
}

interface ClassicClient extends ClientBase {
  kind: 'classic';
  phase: 'join' | 'sync' | 'stable';
  generation: number;
  protocolName: string | null;
  leaderOf: JoinResult['members'] | null;
  /** Topic metadata the client last assigned with as leader (a change makes it rejoin). */
  leaderMeta: string | null;
  /** Coordinator restarts before the generation was learned (a generation is durable only once synced). */
  generationRestarts: number;
  /** When the client last had a successful answer (join, sync, heartbeat). */
  lastOk: number;
  /** When the current rebalance round started for the client (its first join of the round). */
  roundStart: number | undefined;
  /** The group was upgraded since this client's last SyncGroup answer (finding 2). */
  staleSinceUpgrade: boolean;
}

type Client = ConsumerClient | ClassicClient;

interface Snapshot {
  text: string;
}

export async function runGroupSimulation(o: SimOptions): Promise<SimReport> {
  const sim = new Simulation(o);
  return sim.run();
}

class Simulation {
  private readonly rand: () => number;
  private readonly rand2: () => number;
  /** The next offset a client commits (one counter, so every accepted commit is distinct). */
  private nextOffset = 1n;
  private readonly log = new SimGroupLog(3);
  private readonly topics: SimTopic[] = [];
  private readonly view: TopicView;
  private coord: GroupCoordinator;
  private readonly clients: Client[] = [];
  private readonly trace: { step: number; line: string }[] = [];
  private step = 0;
  private nextClient = 0;
  private readonly homogeneous: boolean;
  /** The server assignor the KIP-848 clients ask for (null: the coordinator's default). */
  private readonly assignor: string | null;
  private readonly maxConsumers: number;
  private readonly maxClassic: number;
  private readonly lostP: number;
  /** memberId → highest epoch the coordinator had for it (reset when it leaves or rejoins). */
  private readonly epochSeen = new Map<string, number>();
  private readonly rejoined = new Set<string>();
  /** memberId → since when the coordinator has had it revoking the same partitions at the same epoch. */
  private readonly unrevoked = new Map<string, { key: string; since: number }>();
  private groupEpochSeen = -1;
  private wasConsumerGroup = false;
  private wasClassicGroup = false;
  private lastCg: ConsumerGroup | undefined;
  private lastLoads = 0;
  /** Coordinator restarts and log partition moves so far (each replays the group). */
  private loads = 0;
  private settling = false;
  private readonly report: SimReport;
  private readonly tolerate: Set<string>;

  constructor(private readonly o: SimOptions) {
    resetUuids(o.seed);
    this.rand = rng(o.seed * 7919 + 17);
    // Offset commits draw from their own stream (adding them left the other decisions as they were).
    this.rand2 = rng(o.seed * 104_729 + 3);
    const nTopics = 1 + this.int(3);
    for (let i = 0; i < nTopics; i++) this.createTopic();
    this.view = {
      byName: (name) => {
        const t = this.topicOfName(name);
        return t ? { id: t.id, partitions: t.partitions } : undefined;
      },
      nameOfId: (id) => this.topicOfId(id)?.name,
      names: () => this.topics.map((t) => t.name),
    };
    this.homogeneous = nTopics === 1 || this.rand() < 0.6;
    this.assignor = this.pick([null, 'uniform', 'range']) ?? null;
    this.maxConsumers = 1 + this.int(4);
    this.maxClassic = this.int(3);
    this.lostP = o.lostResponses ?? 0.08;
    this.coord = this.newCoordinator();
    if (o.sabotage === 'drop-log-records') this.log.dropEvery = 11;
    this.report = {
      seed: o.seed,
      steps: o.steps,
      requests: 0,
      lost: 0,
      restarts: 0,
      compactions: 0,
      crashes: 0,
      stalls: 0,
      leaves: 0,
      spawned: 0,
      partitionsAdded: 0,
      fencedOrUnknown: 0,
      zombieObservations: 0,
      classicGroupPhases: 0,
      upgrades: 0,
      settleMs: 0,
      simulatedMs: 0,
      logRecords: 0,
      tolerated: 0,
      liveAtEnd: 0,
      balanceChecked: false,
      commits: 0,
      commitsAccepted: 0,
    };
    this.tolerate = new Set(o.tolerate ?? []);
  }

  /** A new topic t<n> (the view the coordinator gets sees it at once). */
  private createTopic(): SimTopic {
    const i = this.topics.length;
    const t = {
      name: `t${i}`,
      // Topic ids are 16 bytes in base64url (the protocol's form, as the broker's TopicStore has them).
      id: Buffer.from(
        `${(i + 1).toString(16).padStart(8, '0')}00004000a000${(this.o.seed >>> 0).toString(16).padStart(12, '0')}`,
        'hex',
      ).toString('base64url'),
      partitions: 1 + this.int(6),
    };
    this.topics.push(t);
    return t;
  }

  /** The topics a client subscribes to now (a regex subscription picks up new topics). */
  private subsOf(c: Client): string[] {
    if (c.kind === 'consumer' && c.regex !== null) {
      const re = new RegExp(`^(?:${c.regex})$`);
      return this.topics.map((t) => t.name).filter((n) => re.test(n));
    }
    return c.subscription;
  }

  private int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  private pick<T>(list: readonly T[]): T | undefined {
    return list.length === 0 ? undefined : list[this.int(list.length)];
  }

  private now(): number {
    return Date.now();
  }

  private newCoordinator(): GroupCoordinator {
    return new GroupCoordinator(this.log, {
      initialRebalanceDelayMs: 500,
      minSessionTimeoutMs: 1000,
      offsetsRetentionCheckIntervalMs: 0,
      logCompactMinBytes: 4096,
      topics: this.view,
      consumer: {
        ...CONSUMER_PROTOCOL_DEFAULTS,
        sessionTimeoutMs: SESSION_MS,
        heartbeatIntervalMs: HEARTBEAT_MS,
        metadataRefreshMs: 1000,
      },
    });
  }

  private note(line: string): void {
    const t = ((this.now() - T0) / 1000).toFixed(2);
    this.trace.push({ step: this.step, line: `#${this.step} t=${t}s ${line}` });
    if (this.trace.length > 20_000) this.trace.splice(0, 10_000);
  }

  private traceTail(): string[] {
    const steps = this.o.traceTail ?? 40;
    return this.trace
      .filter((e) => e.step > this.step - steps)
      .slice(-4 * steps)
      .map((e) => e.line);
  }

  private fail(msg: string): never {
    const steps = this.o.traceTail ?? 40;
    const tail = this.traceTail();
    throw new SimFailure(
      `group simulation seed ${this.o.seed} failed at step ${this.step}${this.settling ? ' (settling)' : ''}: ${msg}\n` +
        `  world: topics ${this.topics.map((t) => `${t.name}(${t.partitions})`).join(' ')}, ` +
        `${this.homogeneous ? 'equal' : 'mixed'} subscriptions, assignor ${this.assignor ?? 'default'}\n` +
        `  trace of the last ${steps} steps (${tail.length} lines):\n    ${tail.join('\n    ')}\n` +
        `  replay: SIM_SEED=${this.o.seed} SIM_STEPS=${this.o.steps} pnpm exec vitest run packages/broker/test/groups-sim.test.ts`,
    );
  }

  private fmt(a: Owned): string {
    const parts: string[] = [];
    for (const t of this.topics) {
      const ps = a.get(t.id);
      if (ps && ps.size > 0) parts.push(`${t.name}:${[...ps].sort((x, y) => x - y).join(',')}`);
    }
    for (const [id, ps] of a)
      if (!this.topics.some((t) => t.id === id) && ps.size > 0) parts.push(`?${id}:${[...ps].join(',')}`);
    return `[${parts.join(' ')}]`;
  }

  private topicOfName(name: string): SimTopic | undefined {
    return this.topics.find((t) => t.name === name);
  }

  private topicOfId(id: string): SimTopic | undefined {
    return this.topics.find((t) => t.id === id);
  }

  // ---- clients ------------------------------------------------------------------------------

  private spawn(kind: Kind): Client {
    const name = `${kind === 'consumer' ? 'k' : 'c'}${this.nextClient++}`;
    let subscription = this.topics.map((t) => t.name);
    if (!this.homogeneous) {
      subscription = subscription.filter(() => this.rand() < 0.6);
      if (subscription.length === 0) subscription = [this.pick(this.topics)!.name];
    }
    const taken = new Set(this.active().map((c) => c.instanceId));
    const free = ['s0', 's1', 's2', 's3'].filter((id) => !taken.has(id));
    const instanceId = this.o.statics !== false && this.rand() < 0.3 ? (this.pick(free) ?? null) : null;
    const base = {
      name,
      instanceId,
      subscription,
      owned: new Map(),
      crashed: false,
      retired: false,
      stalledUntil: 0,
      inFlight: undefined,
      nextAt: this.now(),
    };
    const c: Client =
      kind === 'consumer'
        ? {
            ...base,
            kind,
            // A KIP-848 client (v1) makes its own member id.
            memberId: `${name}-${this.o.seed}-${this.int(1 << 30).toString(36)}`,
            epoch: 0,
            sendFull: true,
            lastReported: null,
            secret: new Map(),
            regex:
              this.rand() < 0.25
                ? this.homogeneous
                  ? 't[0-9]+'
                  : (this.pick(['t[0-9]+', 't[01]', 't[02]', 't(1|3)']) ?? null)
                : null,
            slow: this.rand() < 0.25,
            revoking: new Map(),
            revokeAt: 0,
          }
        : {
            ...base,
            kind,
            memberId: '',
            phase: 'join',
            generation: -1,
            protocolName: null,
            leaderOf: null,
            leaderMeta: null,
            generationRestarts: 0,
            lastOk: this.now(),
            roundStart: undefined,
            staleSinceUpgrade: false,
          };
    this.clients.push(c);
    this.report.spawned++;
    this.note(
      `${name} (${kind}${instanceId ? `, static ${instanceId}` : ''}) starts, subscribed to ${
        c.kind === 'consumer' && c.regex !== null ? `/${c.regex}/` : subscription.join(',')
      }`,
    );
    return c;
  }

  private active(): Client[] {
    return this.clients.filter((c) => !c.retired && !c.crashed);
  }

  /** Sends the client's next request (whatever its state asks for). */
  private act(c: Client): void {
    if (c.inFlight || c.crashed || c.retired) return;
    if (c.kind === 'consumer') this.consumerHeartbeat(c);
    else if (c.phase === 'join') this.classicJoin(c);
    else if (c.phase === 'sync') this.classicSync(c);
    else this.classicHeartbeat(c);
  }

  private lose(): boolean {
    if (this.settling) return false;
    return this.rand() < this.lostP;
  }

  /** Runs a request; the answer (unless lost) is handled when it arrives. */
  private send<T>(
    c: Client,
    what: string,
    run: () => Promise<T>,
    handle: (r: T) => void,
    lost: () => void,
  ): void {
    const isLost = this.lose();
    const coord = this.coord;
    this.report.requests++;
    c.inFlight = { what, since: this.now() };
    run().then(
      (r) => {
        c.inFlight = undefined;
        if (c.retired || c.crashed) return;
        try {
          if (isLost) {
            this.report.lost++;
            this.note(`${c.name} ${what}: response LOST`);
            lost();
            return;
          }
          handle(r);
        } catch (err) {
          this.pendingFailure ??= err instanceof SimFailure ? err : new SimFailure(String(err));
        }
      },
      (err: unknown) => {
        c.inFlight = undefined;
        if (coord !== this.coord && !c.retired) {
          this.note(`${c.name} ${what}: old coordinator threw ${String(err)}`);
          c.nextAt = this.now() + RETRY_MS;
          return;
        }
        this.pendingError ??= `${c.name} ${what} threw: ${String(err)}`;
      },
    );
  }

  private pendingError: string | undefined;

  /** FENCED_INSTANCE_ID: another incarnation of its instance took over; the client stops (fatal, as in Kafka). */
  private retireFenced(c: Client): void {
    this.report.fencedOrUnknown++;
    c.owned = new Map();
    c.retired = true;
    this.note(`${c.name} stops: its instance ${c.instanceId} belongs to a newer incarnation`);
  }
  private pendingFailure: SimFailure | undefined;

  // KIP-848 ---------------------------------------------------------------------------------

  /** `leaveEpoch`: -1 leaves, -2 leaves for now (a static member), 0 is a heartbeat. */
  private consumerHeartbeat(c: ConsumerClient, leaveEpoch = 0): void {
    const leave = leaveEpoch < 0;
    if (ownedSize(c.revoking) > 0 && this.now() >= c.revokeAt) {
      this.note(`${c.name} (slow) revokes ${this.fmt(c.revoking)} now`);
      c.owned = minus(c.owned, c.revoking);
      c.revoking = new Map();
    }
    const joining = c.epoch === 0 && !leave;
    const staticFix = c.instanceId !== null && this.tolerate.has('static-clone-subscription');
    const owned = [...c.owned]
      .filter(([, ps]) => ps.size > 0)
      .map(([topicId, ps]) => ({ topicId, partitions: [...ps].sort((x, y) => x - y) }));
    const ownedKey = keyOf(c.owned);
    const full = joining || c.sendFull;
    const reportOwned = !leave && (full || ownedKey !== c.lastReported);
    const p: HeartbeatParams = {
      groupId: GROUP,
      memberId: c.memberId,
      memberEpoch: leave ? leaveEpoch : c.epoch,
      instanceId: c.instanceId,
      rackId: null,
      rebalanceTimeoutMs: full && !leave ? REBALANCE_MS : -1,
      subscribedTopicNames:
        full && !leave
          ? c.regex === null
            ? [...c.subscription]
            : // Bug 5 (notes-gsim.md): a regex member's full request counts only with names too.
              this.tolerate.has('regex-full-request') || (joining && staticFix)
              ? []
              : null
          : null,
      // Bug 6 (notes-gsim.md): a static member's new incarnation keeps the old one's regex unless it sends ''.
      subscribedTopicRegex: full && !leave ? (c.regex ?? (joining && staticFix ? '' : null)) : null,
      serverAssignor: full && !leave ? this.assignor : null,
      topicPartitions: joining ? [] : reportOwned ? owned : null,
      clientId: c.name,
      clientHost: '/127.0.0.1',
      version: 1,
    };
    const sentEpoch = p.memberEpoch;
    const what = leave
      ? `leave(e=${leaveEpoch})`
      : `hb(e=${sentEpoch}${full ? ' full' : ''}${p.topicPartitions ? ` owned=${this.fmt(c.owned)}` : ''})`;
    if (sentEpoch === 0) this.rejoined.add(c.memberId);
    this.send(
      c,
      what,
      () => this.coord.consumer.heartbeat(p),
      (r: HeartbeatResult) => {
        if (leave) {
          this.note(`${c.name} ${what} → ${codeName(r.errorCode)}`);
          return;
        }
        this.onConsumerResponse(c, what, sentEpoch, p.topicPartitions !== null ? ownedKey : null, r);
      },
      () => {
        c.sendFull = true;
        c.nextAt = this.now() + HEARTBEAT_MS;
      },
    );
  }

  private onConsumerResponse(
    c: ConsumerClient,
    what: string,
    sentEpoch: number,
    reportedKey: string | null,
    r: HeartbeatResult,
  ): void {
    const now = this.now();
    if (r.errorCode === ErrorCode.NONE) {
      if (r.memberEpoch < c.epoch && sentEpoch !== 0)
        this.fail(`${c.name}: member epoch went down from ${c.epoch} to ${r.memberEpoch} without a rejoin`);
      if (r.memberId !== c.memberId) this.fail(`${c.name}: answered for member ${r.memberId}`);
      c.epoch = r.memberEpoch;
      if (reportedKey !== null) c.lastReported = reportedKey;
      c.sendFull = false;
      let line = `${c.name} ${what} → e=${r.memberEpoch}`;
      if (r.assignment) {
        const a: Owned = new Map();
        for (const tp of r.assignment.topicPartitions) a.set(tp.topicId, new Set(tp.partitions));
        const revoked = minus(c.owned, a);
        const added = minus(a, c.owned);
        c.owned = a;
        if (c.slow && ownedSize(revoked) > 0) {
          // Still owned (and reported) until it gets round to revoking them.
          if (ownedSize(c.revoking) === 0) c.revokeAt = now + this.int(2 * REBALANCE_MS);
          c.revoking = union(c.revoking, revoked);
          line += ` (slow: revokes ${this.fmt(revoked)} at +${c.revokeAt - now} ms)`;
        }
        for (const [t, ps] of c.revoking)
          for (const p of ps) if (a.get(t)?.has(p)) c.revoking.get(t)!.delete(p);
        c.owned = union(c.owned, c.revoking);
        if (this.o.sabotage === 'keep-revoked')
          for (const [t, ps] of revoked) c.secret.set(t, new Set([...(c.secret.get(t) ?? []), ...ps]));
        line += ` assign=${this.fmt(a)}`;
        if (ownedSize(revoked) > 0) line += ` revoke=${this.fmt(revoked)}`;
        if (ownedSize(added) > 0) line += ` add=${this.fmt(added)}`;
      }
      this.note(line);
      // Acknowledge a changed assignment at once; otherwise heartbeat on the interval.
      c.nextAt = keyOf(c.owned) !== c.lastReported ? now : now + (r.heartbeatIntervalMs || HEARTBEAT_MS);
      return;
    }
    this.note(`${c.name} ${what} → ${codeName(r.errorCode)}${r.errorMessage ? ` (${r.errorMessage})` : ''}`);
    switch (r.errorCode) {
      case ErrorCode.FENCED_MEMBER_EPOCH:
      case ErrorCode.UNKNOWN_MEMBER_ID:
        // Partitions lost; rejoin with epoch 0 under the same member id.
        this.report.fencedOrUnknown++;
        c.owned = new Map();
        c.secret = new Map();
        c.revoking = new Map();
        c.epoch = 0;
        c.sendFull = true;
        c.lastReported = null;
        c.nextAt = now;
        return;
      case ErrorCode.COORDINATOR_NOT_AVAILABLE:
      case ErrorCode.NOT_COORDINATOR:
      case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
        c.sendFull = true;
        c.nextAt = now + RETRY_MS;
        return;
      case ErrorCode.UNRELEASED_INSTANCE_ID:
        // The instance's previous incarnation has not left (or timed out) yet.
        c.nextAt = now + RETRY_MS;
        return;
      case ErrorCode.FENCED_INSTANCE_ID:
        this.retireFenced(c);
        return;
      case ErrorCode.GROUP_ID_NOT_FOUND:
        if (sentEpoch > 0) {
          // The group became a classic group after this member was fenced (as in Kafka): start over.
          this.report.fencedOrUnknown++;
          c.owned = new Map();
          c.revoking = new Map();
          c.epoch = 0;
          c.sendFull = true;
          c.lastReported = null;
          c.nextAt = now;
          return;
        }
        // Bug 1 (notes-gsim.md): a join into an empty classic group with a pending member id.
        if (this.tolerate.has('pending-join')) {
          this.report.tolerated++;
          c.nextAt = now + RETRY_MS;
          return;
        }
        this.fail(`${c.name}: unexpected error ${codeName(r.errorCode)}: ${r.errorMessage}`);
        return;
      default:
        this.fail(`${c.name}: unexpected error ${codeName(r.errorCode)}: ${r.errorMessage}`);
    }
  }

  // classic ---------------------------------------------------------------------------------

  private subscriptionBytes(c: ClassicClient): Buffer {
    const w = new Writer(128);
    w.writeInt16(1);
    const ownedPartitions: { topic: string; partitions: number[] }[] = [];
    for (const [id, ps] of c.owned) {
      const t = this.topicOfId(id);
      if (t && ps.size > 0)
        ownedPartitions.push({ topic: t.name, partitions: [...ps].sort((a, b) => a - b) });
    }
    encodeConsumerProtocolSubscription(
      w,
      { topics: [...c.subscription], userData: null, ownedPartitions, generationId: -1, rackId: null },
      1,
    );
    return w.toBuffer();
  }

  private classicJoin(c: ClassicClient): void {
    // A careful client: past its session timeout without an answer, or past its rebalance
    // timeout in a round, the coordinator may have fenced it (and would take it back under its
    // old id as a new member): its partitions are lost before it rejoins.
    const now = this.now();
    const deadline = Math.min(
      c.lastOk + SESSION_MS,
      (c.roundStart ?? Number.POSITIVE_INFINITY) + REBALANCE_MS,
    );
    if (c.memberId !== '' && now >= deadline && ownedSize(c.owned) > 0) {
      this.note(
        `${c.name} past its deadline (${now - c.lastOk} ms since an answer): partitions ${this.fmt(c.owned)} lost`,
      );
      c.owned = new Map();
      // Its generation too (the group may even have been emptied and made anew meanwhile).
      c.generation = -1;
    }
    c.roundStart ??= now;
    const what = `join(${c.memberId === '' ? 'new' : c.memberId.slice(-4)} owned=${this.fmt(c.owned)})`;
    const sentId = c.memberId;
    if (sentId !== '') this.rejoined.add(sentId);
    this.send(
      c,
      what,
      () =>
        this.coord.join({
          groupId: GROUP,
          memberId: c.memberId,
          groupInstanceId: c.instanceId,
          clientId: c.name,
          clientHost: '/127.0.0.1',
          sessionTimeoutMs: SESSION_MS,
          rebalanceTimeoutMs: REBALANCE_MS,
          protocolType: 'consumer',
          protocols: [{ name: 'cooperative-sticky', metadata: this.subscriptionBytes(c) }],
          requireKnownMemberId: true,
        }),
      (r) => this.onJoin(c, what, r),
      () => {
        c.phase = 'join';
        c.nextAt = this.now() + HEARTBEAT_MS;
      },
    );
  }

  private onJoin(c: ClassicClient, what: string, r: JoinResult): void {
    const now = this.now();
    if (r.errorCode === ErrorCode.NONE) {
      if (c.memberId !== '' && r.memberId !== c.memberId)
        this.fail(`${c.name}: joined as ${r.memberId}, expected ${c.memberId}`);
      // A generation is stored when the leader's SyncGroup is: one lost with a restart may be handed out again.
      if (
        r.generationId < c.generation &&
        c.memberId === r.memberId &&
        c.generation >= 0 &&
        c.generationRestarts === this.report.restarts
      )
        this.fail(`${c.name}: generation went down from ${c.generation} to ${r.generationId}`);
      c.generationRestarts = this.report.restarts;
      c.memberId = r.memberId;
      c.generation = r.generationId;
      c.lastOk = now;
      c.protocolName = r.protocolName;
      c.leaderOf = r.leader !== '' && r.leader === r.memberId ? r.members : null;
      c.phase = 'sync';
      c.nextAt = now;
      this.note(
        `${c.name} ${what} → gen ${r.generationId} id …${r.memberId.slice(-4)}${c.leaderOf ? ` LEADER of ${r.members.length}` : r.leader === '' ? ' (consumer group)' : ''}`,
      );
      return;
    }
    this.note(`${c.name} ${what} → ${codeName(r.errorCode)}`);
    switch (r.errorCode) {
      case ErrorCode.MEMBER_ID_REQUIRED:
        c.memberId = r.memberId;
        c.nextAt = now;
        return;
      case ErrorCode.UNKNOWN_MEMBER_ID:
        this.report.fencedOrUnknown++;
        c.owned = new Map();
        c.memberId = '';
        c.generation = -1;
        c.nextAt = now;
        return;
      case ErrorCode.REBALANCE_IN_PROGRESS:
      case ErrorCode.COORDINATOR_NOT_AVAILABLE:
      case ErrorCode.NOT_COORDINATOR:
      case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
        c.nextAt = now + RETRY_MS;
        return;
      case ErrorCode.FENCED_INSTANCE_ID:
        this.retireFenced(c);
        return;
      default:
        this.fail(`${c.name}: unexpected JoinGroup error ${codeName(r.errorCode)}`);
    }
  }

  /** The leader's assignment of a classic group: round robin, withholding partitions another member still owns. */
  private leaderAssign(c: ClassicClient): { memberId: string; assignment: Buffer }[] {
    const members = [...(c.leaderOf ?? [])].sort((a, b) => (a.memberId < b.memberId ? -1 : 1));
    const subs = new Map<string, { topics: Set<string>; owned: Map<string, Set<number>> }>();
    for (const m of members) {
      const r = new Reader(m.metadata);
      const v = Math.min(Math.max(r.readInt16(), 0), 3);
      const s = decodeConsumerProtocolSubscription(r, v);
      const owned = new Map<string, Set<number>>();
      for (const tp of s.ownedPartitions) owned.set(tp.topic, new Set(tp.partitions));
      subs.set(m.memberId, { topics: new Set(s.topics), owned });
    }
    const out = new Map<string, { topic: string; partitions: number[] }[]>();
    for (const m of members) out.set(m.memberId, []);
    let rr = 0;
    const metaParts: string[] = [];
    for (const t of this.topics) {
      const eligible = members.filter((m) => subs.get(m.memberId)!.topics.has(t.name));
      if (eligible.length === 0) continue;
      metaParts.push(`${t.name}:${t.partitions}`);
      for (let p = 0; p < t.partitions; p++) {
        const target = eligible[rr++ % eligible.length]!.memberId;
        const claimants = members.filter((m) => subs.get(m.memberId)!.owned.get(t.name)?.has(p));
        if (claimants.length > 1 || (claimants.length === 1 && claimants[0]!.memberId !== target)) continue;
        const list = out.get(target)!;
        let e = list.find((x) => x.topic === t.name);
        if (!e) {
          e = { topic: t.name, partitions: [] };
          list.push(e);
        }
        e.partitions.push(p);
      }
    }
    c.leaderMeta = metaParts.join(' ');
    return members.map((m) => {
      const w = new Writer(64);
      w.writeInt16(1);
      encodeConsumerProtocolAssignment(w, { assignedPartitions: out.get(m.memberId)!, userData: null }, 1);
      return { memberId: m.memberId, assignment: w.toBuffer() };
    });
  }

  private leaderMetaNow(c: ClassicClient): string {
    const subscribed = new Set<string>();
    for (const m of c.leaderOf ?? []) {
      const r = new Reader(m.metadata);
      const v = Math.min(Math.max(r.readInt16(), 0), 3);
      for (const t of decodeConsumerProtocolSubscription(r, v).topics) subscribed.add(t);
    }
    return this.topics
      .filter((t) => subscribed.has(t.name))
      .map((t) => `${t.name}:${t.partitions}`)
      .join(' ');
  }

  private classicSync(c: ClassicClient): void {
    const assignments = c.leaderOf ? this.leaderAssign(c) : [];
    const what = `sync(gen ${c.generation}${c.leaderOf ? ' leader' : ''})`;
    this.send(
      c,
      what,
      () =>
        this.coord.sync({
          groupId: GROUP,
          generationId: c.generation,
          memberId: c.memberId,
          groupInstanceId: c.instanceId,
          protocolType: 'consumer',
          protocolName: c.protocolName,
          assignments,
        }),
      (r) => this.onSync(c, what, r),
      () => {
        // The client gives up on the sync and rejoins (keeping its partitions).
        c.phase = 'join';
        c.nextAt = this.now() + HEARTBEAT_MS;
      },
    );
  }

  private onSync(c: ClassicClient, what: string, r: SyncResult): void {
    const now = this.now();
    if (r.errorCode === ErrorCode.NONE) {
      const a: Owned = new Map();
      if (r.assignment.length > 0) {
        const rd = new Reader(r.assignment);
        const v = Math.min(Math.max(rd.readInt16(), 0), 3);
        for (const tp of decodeConsumerProtocolAssignment(rd, v).assignedPartitions) {
          const t = this.topicOfName(tp.topic);
          if (!t) this.fail(`${c.name}: assigned unknown topic ${tp.topic}`);
          a.set(t.id, new Set(tp.partitions));
        }
      }
      const revoked = minus(c.owned, a);
      const added = minus(a, c.owned);
      c.owned = a;
      let line = `${c.name} ${what} → assign=${this.fmt(a)}`;
      if (ownedSize(revoked) > 0) line += ` revoke=${this.fmt(revoked)} (rejoins)`;
      if (ownedSize(added) > 0) line += ` add=${this.fmt(added)}`;
      this.note(line);
      c.lastOk = now;
      c.staleSinceUpgrade = false;
      if (ownedSize(revoked) > 0) {
        c.phase = 'join';
        c.nextAt = now;
      } else {
        c.phase = 'stable';
        c.roundStart = undefined;
        c.nextAt = now + HEARTBEAT_MS;
      }
      return;
    }
    this.note(`${c.name} ${what} → ${codeName(r.errorCode)}`);
    this.classicError(c, r.errorCode, 'SyncGroup');
  }

  private classicError(c: ClassicClient, code: number, api: string): void {
    const now = this.now();
    switch (code) {
      case ErrorCode.REBALANCE_IN_PROGRESS:
        c.phase = 'join';
        c.nextAt = now;
        return;
      case ErrorCode.ILLEGAL_GENERATION:
        this.report.fencedOrUnknown++;
        c.owned = new Map();
        c.generation = -1;
        c.phase = 'join';
        c.nextAt = now;
        return;
      case ErrorCode.UNKNOWN_MEMBER_ID:
        this.report.fencedOrUnknown++;
        c.owned = new Map();
        c.generation = -1;
        c.memberId = '';
        c.phase = 'join';
        c.nextAt = now;
        return;
      case ErrorCode.COORDINATOR_NOT_AVAILABLE:
      case ErrorCode.NOT_COORDINATOR:
      case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
        c.phase = 'join';
        c.nextAt = now + RETRY_MS;
        return;
      case ErrorCode.FENCED_INSTANCE_ID:
        this.retireFenced(c);
        return;
      default:
        this.fail(`${c.name}: unexpected ${api} error ${codeName(code)}`);
    }
  }

  private classicHeartbeat(c: ClassicClient): void {
    if (c.leaderOf && c.leaderMeta !== null && this.leaderMetaNow(c) !== c.leaderMeta) {
      // The leader saw the subscribed topics change: it rejoins to rebalance.
      this.note(`${c.name} (leader) sees new topic metadata: rejoins`);
      c.phase = 'join';
      this.classicJoin(c);
      return;
    }
    const what = `heartbeat(gen ${c.generation})`;
    this.send(
      c,
      what,
      () => this.coord.heartbeat(GROUP, c.generation, c.memberId, c.instanceId),
      (code) => {
        if (code === ErrorCode.NONE) {
          c.lastOk = this.now();
          c.nextAt = this.now() + HEARTBEAT_MS;
          return;
        }
        this.note(`${c.name} ${what} → ${codeName(code)}`);
        this.classicError(c, code, 'Heartbeat');
      },
      () => {
        c.nextAt = this.now() + HEARTBEAT_MS;
      },
    );
  }

  private classicLeave(c: ClassicClient): void {
    const id = c.memberId;
    this.send(
      c,
      'leave',
      () => this.coord.leave(GROUP, [{ memberId: id, groupInstanceId: c.instanceId }]),
      (codes) => this.note(`${c.name} leave → ${codes.map(codeName).join(',')}`),
      () => {},
    );
  }

  // ---- the coordinator's state --------------------------------------------------------------

  private async group(): Promise<Group | undefined> {
    const s = await this.coord.loadPartition(this.log.partitionFor(GROUP));
    return s.groups.get(GROUP);
  }

  private snapshot(g: Group | undefined): Snapshot {
    // An empty classic group holding nothing (left by a MEMBER_ID_REQUIRED join) is no group.
    if (
      !g ||
      (!g.consumer &&
        g.state === 'Empty' &&
        g.generation === 0 &&
        g.members.size === 0 &&
        g.offsets.size === 0 &&
        g.protocolType === null)
    )
      return { text: 'no group' };
    const cg = g.consumer;
    if (cg) {
      const lines = [
        `consumer group ${g.state} epoch ${cg.groupEpoch} assignment epoch ${cg.assignmentEpoch} (${cg.state()})`,
      ];
      for (const m of [...cg.members.values()].sort((a, b) => (a.memberId < b.memberId ? -1 : 1)))
        lines.push(
          `  ${m.memberId} ${m.classic ? 'classic' : 'consumer'} e=${m.memberEpoch}/${m.previousMemberEpoch} ` +
            `state=${m.state} assigned=${this.fmt(m.assigned)} pending=${this.fmt(m.pendingRevocation)} ` +
            `target=${this.fmt(cg.target.get(m.memberId) ?? new Map())} subscribed=${m.subscribedTopicNames.join(',')} ` +
            `rebalanceTimeout=${m.rebalanceTimeoutMs}`,
        );
      for (const id of [...cg.target.keys()].sort())
        if (!cg.members.has(id))
          lines.push(`  target of a non-member ${id}: ${this.fmt(cg.target.get(id)!)}`);
      lines.push(this.offsetsLine(g));
      return { text: lines.join('\n') };
    }
    const lines = [
      `classic group ${g.state} gen ${g.generation} protocol ${g.protocolType}/${g.protocolName} leader ${g.leader}`,
    ];
    for (const m of [...g.members.values()].sort((a, b) => (a.memberId < b.memberId ? -1 : 1)))
      lines.push(`  ${m.memberId} assignment ${m.assignment.toString('hex')}`);
    lines.push(this.offsetsLine(g));
    return { text: lines.join('\n') };
  }

  private offsetsLine(g: Group): string {
    const out: string[] = [];
    for (const [topic, byPartition] of [...g.offsets].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
      for (const [p, v] of [...byPartition].sort((a, b) => a[0] - b[0]))
        out.push(`${topic}-${p}=${v.offset}`);
    return `  offsets ${out.join(' ')}`;
  }

  /**
   * Now and then a client commits offsets for the partitions it owns, with its member epoch (or
   * generation). The coordinator must accept exactly the commits of current members at their
   * current epoch: a fenced member's (a zombie's) commit is refused, which is what keeps it from
   * overwriting the new owner's progress.
   */
  private async maybeCommit(c: Client): Promise<void> {
    if (c.crashed || c.retired || ownedSize(c.owned) === 0 || this.rand2() >= 0.2) return;
    const g = await this.group();
    const epoch = c.kind === 'consumer' ? c.epoch : c.generation;
    let expectOk = false;
    let why = 'no group';
    if (g?.consumer) {
      const m = g.consumer.members.get(c.memberId);
      expectOk = m !== undefined && m.memberEpoch === epoch;
      why = m ? `member at epoch ${m.memberEpoch}` : 'not a member';
    } else if (g) {
      const m = g.members.get(c.memberId);
      expectOk = m !== undefined && epoch === g.generation && g.state !== 'CompletingRebalance';
      why = m ? `classic member, group gen ${g.generation} ${g.state}` : 'not a classic member';
    }
    const offsets: {
      topic: string;
      partition: number;
      offset: bigint;
      leaderEpoch: number;
      metadata: string;
    }[] = [];
    for (const [t, ps] of c.owned)
      for (const p of ps)
        offsets.push({
          topic: this.topicOfId(t)!.name,
          partition: p,
          offset: this.nextOffset++,
          leaderEpoch: -1,
          metadata: '',
        });
    const lost = this.rand2() < this.lostP && !this.settling;
    const what = `commit(e=${epoch} ${this.fmt(c.owned)})`;
    this.report.commits++;
    this.coord
      .commit({
        groupId: GROUP,
        generationId: epoch,
        memberId: c.memberId,
        groupInstanceId: c.instanceId,
        retentionTimeMs: -1,
        apiVersion: 9,
        offsets,
      })
      .then(
        (code) => {
          try {
            if (code === ErrorCode.NONE) this.report.commitsAccepted++;
            this.note(`${c.name} ${what} → ${codeName(code)}${lost ? ' (response LOST)' : ''} [${why}]`);
            if ((code === ErrorCode.NONE) !== expectOk)
              this.fail(
                `${c.name}'s offset commit at epoch ${epoch} was ${code === ErrorCode.NONE ? 'accepted' : `refused (${codeName(code)})`} ` +
                  `while it is ${why}\n${this.snapshot(g).text}`,
              );
          } catch (err) {
            this.pendingFailure ??= err instanceof SimFailure ? err : new SimFailure(String(err));
          }
        },
        (err: unknown) => {
          this.pendingError ??= `${c.name} ${what} threw: ${String(err)}`;
        },
      );
    await flush();
  }

  /** Whether the client is a current member at the coordinator (then its beliefs must hold). */
  private isMember(c: Client, g: Group | undefined): boolean {
    if (!g || c.memberId === '') return false;
    if (g.consumer) return g.consumer.members.has(c.memberId);
    return g.members.has(c.memberId);
  }

  private async check(): Promise<void> {
    if (this.pendingFailure) throw this.pendingFailure;
    if (this.pendingError) this.fail(this.pendingError);
    const g = await this.group();
    const cg = g?.consumer;
    if (this.wasClassicGroup && cg) {
      this.report.upgrades++;
      this.note('the classic group was upgraded to a consumer group');
      for (const c of this.clients) if (c.kind === 'classic') c.staleSinceUpgrade = true;
    }
    this.wasClassicGroup = g !== undefined && !g.consumer && g.members.size > 0;
    if (cg) this.checkCoordinatorView(cg);
    // Epochs at the coordinator.
    if (cg) {
      // A new consumer group object on the same coordinator: the group went through a classic
      // group (converted when empty, then upgraded), which starts its epochs over, as in Kafka.
      if (!this.wasConsumerGroup || (cg !== this.lastCg && this.loads === this.lastLoads)) {
        this.groupEpochSeen = -1;
        this.epochSeen.clear();
      }
      this.lastCg = cg;
      this.lastLoads = this.loads;
      if (cg.groupEpoch < this.groupEpochSeen)
        this.fail(`group epoch went down from ${this.groupEpochSeen} to ${cg.groupEpoch}`);
      this.groupEpochSeen = cg.groupEpoch;
      for (const m of cg.members.values()) {
        const seen = this.epochSeen.get(m.memberId);
        if (
          seen !== undefined &&
          m.memberEpoch < seen &&
          m.memberEpoch !== -2 &&
          !this.rejoined.has(m.memberId)
        )
          this.fail(`member ${m.memberId} epoch went down from ${seen} to ${m.memberEpoch} without a rejoin`);
        this.epochSeen.set(m.memberId, m.memberEpoch);
      }
      for (const id of [...this.epochSeen.keys()]) if (!cg.members.has(id)) this.epochSeen.delete(id);
    } else {
      this.epochSeen.clear();
    }
    this.wasConsumerGroup = cg !== undefined;
    this.rejoined.clear();
    // Client beliefs.
    const owners = new Map<string, Client>();
    for (const c of this.clients) {
      const believed = c.kind === 'consumer' && ownedSize(c.secret) > 0 ? union(c.owned, c.secret) : c.owned;
      if (c.crashed || c.retired || ownedSize(believed) === 0) continue;
      if (!this.isMember(c, g)) {
        this.report.zombieObservations++;
        continue;
      }
      if (cg && c.kind === 'classic' && c.staleSinceUpgrade && this.tolerate.has('upgrade-stale-owned')) {
        // Finding 2 (notes-gsim.md): an upgrade trusts the stored assignment over what the member holds.
        this.report.tolerated++;
        continue;
      }
      if (cg) {
        const m = cg.members.get(c.memberId)!;
        for (const [t, ps] of believed)
          for (const p of ps)
            if (!m.assigned.get(t)?.has(p) && !m.pendingRevocation.get(t)?.has(p))
              this.fail(
                `${c.name} believes it owns ${this.topicOfId(t)?.name ?? t}-${p} but the coordinator has member ` +
                  `${c.memberId} holding assigned=${this.fmt(m.assigned)} pending=${this.fmt(m.pendingRevocation)}\n${this.snapshot(g).text}`,
              );
      }
      for (const [t, ps] of believed)
        for (const p of ps) {
          const k = `${t}/${p}`;
          const other = owners.get(k);
          if (other)
            this.fail(
              `${this.topicOfId(t)?.name ?? t}-${p} is owned by both ${other.name} and ${c.name}\n${this.snapshot(g).text}`,
            );
          owners.set(k, c);
        }
    }
    // Requests that never get an answer.
    for (const c of this.active())
      if (c.inFlight && this.now() - c.inFlight.since > 2 * REBALANCE_MS + SESSION_MS)
        this.fail(`${c.name}: ${c.inFlight.what} unanswered for ${this.now() - c.inFlight.since} ms`);
  }

  /** No partition held by two members; partition epochs match the members holding them. */
  private checkCoordinatorView(cg: ConsumerGroup): void {
    const holder = new Map<string, string>();
    for (const m of cg.members.values()) {
      for (const a of [m.assigned, m.pendingRevocation])
        for (const [t, ps] of a)
          for (const p of ps) {
            const k = `${t}/${p}`;
            const other = holder.get(k);
            if (other !== undefined)
              this.fail(
                `coordinator: ${this.topicOfId(t)?.name ?? t}-${p} held by both ${other} and ${m.memberId}`,
              );
            holder.set(k, m.memberId);
            const e = cg.partitionEpoch(t, p);
            if (e !== m.memberEpoch)
              this.fail(
                `coordinator: partition epoch of ${this.topicOfId(t)?.name ?? t}-${p} is ${e}, its holder ${m.memberId} has epoch ${m.memberEpoch}`,
              );
          }
      // (A static member that left for now, epoch -2, keeps its state with nothing pending, as in Kafka.)
      if (
        m.state === MemberState.UNREVOKED_PARTITIONS &&
        ownedSize(m.pendingRevocation) === 0 &&
        m.memberEpoch !== -2
      )
        this.fail(`coordinator: ${m.memberId} is UNREVOKED_PARTITIONS with nothing pending`);
      // A KIP-848 member that does not revoke within its rebalance timeout is fenced.
      // (A static member that left for now, epoch -2, is timed out by its session instead.)
      if (m.state === MemberState.UNREVOKED_PARTITIONS && m.classic === null && m.memberEpoch !== -2) {
        const key = `${m.memberEpoch} ${keyOf(m.pendingRevocation)}`;
        const u = this.unrevoked.get(m.memberId);
        if (!u || u.key !== key) this.unrevoked.set(m.memberId, { key, since: this.now() });
        else if (this.now() - u.since > m.rebalanceTimeoutMs + 2 * QUANTUM_MS)
          this.fail(
            `coordinator: ${m.memberId} has been revoking ${this.fmt(m.pendingRevocation)} for ${this.now() - u.since} ms ` +
              `(rebalance timeout ${m.rebalanceTimeoutMs} ms) and is not fenced`,
          );
      } else this.unrevoked.delete(m.memberId);
    }
    for (const t of this.topics)
      for (let p = 0; p < t.partitions + 2; p++)
        if (cg.partitionEpoch(t.id, p) !== -1 && !holder.has(`${t.id}/${p}`))
          this.fail(
            `coordinator: ${t.name}-${p} has partition epoch ${cg.partitionEpoch(t.id, p)} but no holder`,
          );
  }

  // ---- actions ------------------------------------------------------------------------------

  /** Moves time on in quanta; clients due act in between. */
  private async advance(ms: number): Promise<void> {
    let left = ms;
    while (left > 0) {
      const q = Math.min(QUANTUM_MS, left);
      left -= q;
      await vi.advanceTimersByTimeAsync(q);
      await flush();
      await this.runDue();
      await this.check();
    }
  }

  private async runDue(): Promise<void> {
    const now = this.now();
    for (const c of this.active()) {
      if (c.stalledUntil > now || c.inFlight || c.nextAt > now) continue;
      this.act(c);
      await flush();
      // Acknowledgements and immediate rejoins go out at once.
      for (
        let i = 0;
        i < 4 && !c.inFlight && c.nextAt <= this.now() && c.stalledUntil <= now && !c.crashed;
        i++
      ) {
        this.act(c);
        await flush();
      }
      await this.maybeCommit(c);
    }
  }

  private async restart(): Promise<void> {
    await flush();
    const before = this.snapshot(await this.group()).text;
    const g = await this.group();
    const comparable = !g || g.consumer !== undefined || g.state === 'Stable' || g.state === 'Empty';
    // Half the time the coordinator restarts; otherwise its log partition moves away and back
    // (unloaded and loaded again by the same coordinator).
    const move = this.rand2() < 0.5;
    if (move) this.coord.unloadPartition(this.log.partitionFor(GROUP));
    else {
      this.coord.close();
      this.coord = this.newCoordinator();
    }
    this.loads++;
    this.report.restarts++;
    // A member replayed while revoking gets a full rebalance timeout from the load (as in Kafka's
    // onLoaded); with bug 3 tolerated (notes-gsim.md) it gets none.
    for (const u of this.unrevoked.values())
      u.since = this.tolerate.has('rebalance-timer-replay') ? Number.POSITIVE_INFINITY : this.now();
    const after = this.snapshot(await this.group()).text;
    this.note(
      `${move ? 'group log partition moved away and back' : 'coordinator restarted'} (log: ${this.log.size(this.log.partitionFor(GROUP))} records)`,
    );
    if (comparable && before !== after)
      this.fail(
        `the replayed state differs from the state before the restart:\nbefore:\n${before}\nafter:\n${after}`,
      );
    await flush();
  }

  private async compact(): Promise<void> {
    const p = this.log.partitionFor(GROUP);
    const size = this.log.size(p);
    const before = this.snapshot(await this.group()).text;
    const r = await this.coord.compactPartition(p);
    await flush();
    this.report.compactions++;
    this.note(`compacted: ${size} → ${this.log.size(p)} records (${JSON.stringify(r)})`);
    // A compacted log must replay to the same state: check with a second coordinator.
    const probe = this.newCoordinator();
    try {
      const s = await probe.loadPartition(p);
      const g = s.groups.get(GROUP);
      const now = this.snapshot(await this.group()).text;
      const replayed = this.snapshot(g).text;
      const g0 = await this.group();
      const comparable = !g0 || g0.consumer !== undefined || g0.state === 'Stable' || g0.state === 'Empty';
      if (comparable && now === before && replayed !== now)
        this.fail(`the compacted log replays to a different state:\nlive:\n${now}\nreplayed:\n${replayed}`);
    } finally {
      probe.close();
    }
  }

  private async randomAction(): Promise<void> {
    const x = this.rand();
    const live = this.active();
    const consumers = live.filter((c) => c.kind === 'consumer').length;
    const classics = live.filter((c) => c.kind === 'classic').length;
    if (x < 0.4) {
      await this.advance(100 + this.int(2400));
    } else if (x < 0.43) {
      const ms = 6000 + this.int(14_000);
      this.note(`a long pause: time moves ${ms} ms`);
      await this.advance(ms);
    } else if (x < 0.66) {
      const c = this.pick(live.filter((c) => !c.inFlight && c.stalledUntil <= this.now()));
      if (c) {
        this.act(c);
        await flush();
      }
    } else if (x < 0.68) {
      // A client changes its subscription (only where subscriptions differ anyway).
      const c = this.pick(live.filter((c) => !c.inFlight && c.stalledUntil <= this.now()));
      if (c && !this.homogeneous && !(c.kind === 'consumer' && c.regex !== null)) {
        let next = this.topics.map((t) => t.name).filter(() => this.rand() < 0.6);
        if (next.length === 0) next = [this.pick(this.topics)!.name];
        this.note(`${c.name} subscribes to ${next.join(',')} (was ${c.subscription.join(',')})`);
        c.subscription = next;
        if (c.kind === 'consumer') {
          c.sendFull = true;
        } else {
          // A classic client gives up the partitions of topics it left, then rejoins.
          for (const t of [...c.owned.keys()])
            if (!next.includes(this.topicOfId(t)?.name ?? '')) c.owned.delete(t);
          c.phase = 'join';
        }
        c.nextAt = this.now();
        this.act(c);
        await flush();
      }
    } else if (x < 0.76) {
      const kinds: Kind[] = [];
      if (consumers < this.maxConsumers) kinds.push('consumer');
      if (classics < this.maxClassic) kinds.push('classic');
      const kind = this.pick(kinds);
      if (kind) {
        this.act(this.spawn(kind));
        await flush();
      }
    } else if (x < 0.8) {
      const c = this.pick(live.filter((c) => !c.inFlight && c.stalledUntil <= this.now()));
      if (c) {
        this.report.leaves++;
        this.note(`${c.name} leaves (owned ${this.fmt(c.owned)} revoked)`);
        c.owned = new Map();
        if (c.kind === 'consumer' && c.epoch > 0)
          this.consumerHeartbeat(c, c.instanceId !== null && this.rand() < 0.7 ? -2 : -1);
        else if (c.kind === 'classic' && c.memberId !== '') this.classicLeave(c);
        await flush();
        c.retired = true;
      }
    } else if (x < 0.83) {
      const c = this.pick(live);
      if (c) {
        this.report.crashes++;
        c.crashed = true;
        this.note(`${c.name} CRASHES (believed ${this.fmt(c.owned)})`);
      }
    } else if (x < 0.87) {
      const c = this.pick(live);
      if (c) {
        const ms = 3000 + this.int(20_000);
        c.stalledUntil = this.now() + ms;
        this.report.stalls++;
        this.note(`${c.name} stalls for ${ms} ms`);
      }
    } else if (x < 0.9) {
      const t = this.pick(this.topics)!;
      if (this.topics.length < 4 && this.rand() < 0.25) {
        const n = this.createTopic();
        this.note(`topic ${n.name} created with ${n.partitions} partitions`);
      } else if (t.partitions < 12) {
        const n = 1 + this.int(2);
        t.partitions += n;
        this.report.partitionsAdded += n;
        this.note(`topic ${t.name} grows to ${t.partitions} partitions`);
      }
    } else if (x < 0.94) {
      await this.restart();
    } else if (x < 0.97) {
      await this.compact();
    } else {
      // Several clients at once (their requests interleave at the coordinator).
      const some = live.filter((c) => !c.inFlight && c.stalledUntil <= this.now());
      for (const c of some) this.act(c);
      await flush();
    }
  }

  // ---- settling -----------------------------------------------------------------------------

  private async settledProblem(): Promise<string | undefined> {
    const g = await this.group();
    const live = this.active();
    for (const c of live) {
      if (c.inFlight) return `${c.name} has ${c.inFlight.what} in flight`;
      if (!this.isMember(c, g)) return `${c.name} is not a member`;
      if (c.kind === 'classic' && c.phase !== 'stable') return `${c.name} is in phase ${c.phase}`;
    }
    if (live.length === 0) {
      if (g?.consumer && g.consumer.members.size > 0) return 'members left without clients';
      if (g && !g.consumer && g.members.size > 0) return 'classic members left without clients';
      return undefined;
    }
    if (!g) return 'no group';
    if (g.consumer) {
      const cg = g.consumer;
      if (cg.members.size !== live.length)
        return `${cg.members.size} members at the coordinator, ${live.length} live clients`;
      const d = await this.coord.consumer.describe(GROUP);
      if (d.errorCode !== ErrorCode.NONE) return `ConsumerGroupDescribe: ${codeName(d.errorCode)}`;
      if (d.groupState !== 'Stable') return `ConsumerGroupDescribe says ${d.groupState}`;
      if (d.groupEpoch !== d.assignmentEpoch)
        return `group epoch ${d.groupEpoch} != assignment epoch ${d.assignmentEpoch}`;
      for (const c of live) {
        const m = cg.members.get(c.memberId)!;
        if (keyOf(c.owned) !== keyOf(m.assigned))
          return `${c.name} owns ${this.fmt(c.owned)}, the coordinator says ${this.fmt(m.assigned)}`;
        if (c.kind === 'consumer' && c.epoch !== m.memberEpoch)
          return `${c.name} at epoch ${c.epoch}, the coordinator says ${m.memberEpoch}`;
      }
    } else {
      if (g.state !== 'Stable') return `classic group is ${g.state}`;
      if (g.members.size !== live.length)
        return `${g.members.size} classic members, ${live.length} live clients`;
    }
    // Coverage and balance.
    const subscribed = new Set(live.flatMap((c) => this.subsOf(c)));
    const owner = new Map<string, Client>();
    for (const c of live)
      for (const [t, ps] of c.owned) {
        const topic = this.topicOfId(t);
        if (!topic || !this.subsOf(c).includes(topic.name))
          return `${c.name} owns partitions of ${topic?.name ?? t}, which it does not subscribe to`;
        for (const p of ps) {
          if (p >= topic.partitions) return `${c.name} owns ${topic.name}-${p}, past the partition count`;
          owner.set(`${t}/${p}`, c);
        }
      }
    // Finding 4 (notes-gsim.md): a consumer group of classic members only never sees new partitions.
    const blind =
      g.consumer !== undefined &&
      live.every((c) => c.kind === 'classic') &&
      this.tolerate.has('classic-only-metadata');
    for (const t of this.topics) {
      if (!subscribed.has(t.name) || blind) continue;
      for (let p = 0; p < t.partitions; p++)
        if (!owner.has(`${t.id}/${p}`)) return `nobody owns ${t.name}-${p}`;
    }
    if (live.every((c) => this.subsOf(c).join() === this.subsOf(live[0]!).join())) {
      // Range balances each topic; uniform (and the simulated classic leader) the total.
      const range =
        g.consumer !== undefined && (await this.coord.consumer.describe(GROUP)).assignorName === 'range';
      const sizes = (c: Client): number[] =>
        range ? this.topics.map((t) => c.owned.get(t.id)?.size ?? 0) : [ownedSize(c.owned)];
      const per = live.map(sizes);
      this.report.balanceChecked = live.length > 1;
      for (let i = 0; i < per[0]!.length; i++) {
        const counts = per.map((x) => x[i]!);
        if (Math.max(...counts) - Math.min(...counts) > 1)
          return `unbalanced (${range ? `range, topic ${this.topics[i]!.name}` : 'total'}) for equal subscriptions: ${live.map((c) => `${c.name}=${this.fmt(c.owned)}`).join(' ')}`;
      }
    }
    return undefined;
  }

  private async settle(): Promise<void> {
    this.settling = true;
    this.note('---- actions stop; every client heartbeats until the group settles ----');
    for (const c of this.active()) {
      c.stalledUntil = 0;
      // Slow revokers are a fault too: from now on every client revokes at once.
      if (c.kind === 'consumer') c.slow = false;
    }
    // At least three clients, so that the final assignment is a split worth checking.
    while (this.active().length < 3) {
      this.act(this.spawn(this.rand() < 0.7 || this.maxClassic === 0 ? 'consumer' : 'classic'));
      await flush();
    }
    const start = this.now();
    const limit = 4 * REBALANCE_MS + 2 * SESSION_MS;
    let problem: string | undefined = 'not checked yet';
    while (this.now() - start < limit) {
      await this.advance(HEARTBEAT_MS);
      problem = await this.settledProblem();
      if (problem === undefined) {
        // Stays settled for a few more heartbeats.
        await this.advance(3 * HEARTBEAT_MS);
        problem = await this.settledProblem();
        if (problem === undefined) break;
      }
    }
    this.report.settleMs = this.now() - start;
    this.report.liveAtEnd = this.active().length;
    if (problem !== undefined)
      this.fail(
        `the group did not settle in ${limit} ms: ${problem}\n${this.snapshot(await this.group()).text}\n` +
          `clients: ${this.active()
            .map((c) => `${c.name}(${c.kind} …${c.memberId.slice(-4)} owns ${this.fmt(c.owned)})`)
            .join(' ')}`,
      );
    // The settled state survives a restart.
    await this.restart();
  }

  async run(): Promise<SimReport> {
    try {
      this.spawn('consumer');
      for (this.step = 1; this.step <= this.o.steps; this.step++) {
        await this.randomAction();
        await flush();
        await this.check();
        if (this.wasClassicGroup) this.report.classicGroupPhases++;
      }
      this.step = this.o.steps + 1;
      await this.settle();
      this.report.simulatedMs = this.now() - T0;
      this.report.logRecords = this.log.size(this.log.partitionFor(GROUP));
      if (this.o.dumpTrace) console.log(`seed ${this.o.seed} trace:\n  ${this.traceTail().join('\n  ')}`);
      return this.report;
    } finally {
      this.coord.close();
    }
  }
}

export const SIM_T0 = T0;
