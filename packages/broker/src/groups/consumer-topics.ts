/**
 * The topics of KIP-848 groups: subscriptions by name and by regex (Kafka's RE2 syntax, see
 * {@link compileTopicRegex}), the hash of the subscribed topics' metadata (a change moves the
 * group epoch on), and the target assignment computed by a server-side assignor. Also
 * {@link ProtocolError}, how a ConsumerGroupHeartbeat fails (a bad regex is one way).
 */
import { createHash } from 'node:crypto';
import { ErrorCode } from '@tributary/protocol';
import { type GroupAssignment, SERVER_ASSIGNORS } from './assignors.ts';
import {
  type Assignment,
  assignmentEquals,
  type ConsumerGroup,
  type ConsumerMember,
} from './consumer-group.ts';
import type { ConsumerProtocolOptions, TopicView } from './consumer-protocol.ts';
import { targetRecord } from './consumer-records.ts';
import type { GroupLogRecord } from './log.ts';
import { encodeConsumerTargetMetadataKey, encodeConsumerTargetMetadataValue } from './records.ts';

/** Longest SubscribedTopicRegex accepted. */
const REGEX_MAX = 1024;

/** A request refused with a Kafka error code and message. */
export class ProtocolError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export function fail(code: number, message: string): never {
  throw new ProtocolError(code, message);
}

/** Kafka's subscription regexes are RE2 (full match); JS RegExp without RE2's missing features. */
export function compileTopicRegex(re: string): RegExp {
  if (re.length > REGEX_MAX) fail(ErrorCode.INVALID_REGULAR_EXPRESSION, `regex longer than ${REGEX_MAX}`);
  if (/\\[1-9]|\(\?<?[=!]/.test(re))
    fail(
      ErrorCode.INVALID_REGULAR_EXPRESSION,
      'backreferences and lookarounds are not supported (RE2 syntax)',
    );
  try {
    return new RegExp(`^(?:${re})$`, 'u');
  } catch (err) {
    return fail(ErrorCode.INVALID_REGULAR_EXPRESSION, `invalid regex ${JSON.stringify(re)}: ${String(err)}`);
  }
}

/** Subscriptions resolved against the topics, and target assignments. */
export class ConsumerTopics {
  private readonly regexCache = new Map<string, RegExp>();

  constructor(
    private readonly topics: TopicView,
    private readonly options: ConsumerProtocolOptions,
  ) {}

  /** A compiled subscription regex (cached). */
  regex(re: string): RegExp {
    let r = this.regexCache.get(re);
    if (!r) {
      r = compileTopicRegex(re);
      if (this.regexCache.size >= 10_000) this.regexCache.clear();
      this.regexCache.set(re, r);
    }
    return r;
  }

  /** A hash of the topics the group subscribes to, "id:name:partitions" lines (the epoch moves when it changes). */
  metadataHash(cg: ConsumerGroup): bigint {
    const names = this.resolvedNames(cg);
    const lines: string[] = [];
    for (const name of [...names].sort()) {
      const t = this.topics.byName(name);
      if (t) lines.push(`${t.id}:${name}:${t.partitions}`);
    }
    return createHash('sha256').update(lines.join('\n')).digest().readBigInt64BE(0);
  }

  /** Every existing topic name a member subscribes to, by name or regex. */
  resolvedNames(cg: ConsumerGroup): Set<string> {
    const names = cg.subscribedNames();
    const regexes = new Set<string>();
    for (const m of cg.members.values())
      if (m.subscribedTopicRegex !== null) regexes.add(m.subscribedTopicRegex);
    if (regexes.size > 0) {
      const compiled = [...regexes].map((r) => this.regex(r));
      for (const name of this.topics.names())
        if (!name.startsWith('__') && compiled.some((r) => r.test(name))) names.add(name);
    }
    cg.resolvedTopics = names;
    return names;
  }

  /** The topic names one member subscribes to: its names, and the existing topics its regex matches. */
  private memberTopics(m: ConsumerMember): Set<string> {
    const out = new Set(m.subscribedTopicNames);
    if (m.subscribedTopicRegex !== null) {
      const r = this.regex(m.subscribedTopicRegex);
      for (const name of this.topics.names()) if (!name.startsWith('__') && r.test(name)) out.add(name);
    }
    return out;
  }

  /** A new target assignment at the group epoch: records of the members whose target changed, and the epoch's. */
  computeTarget(groupId: string, cg: ConsumerGroup, records: GroupLogRecord[]): void {
    const topics = new Map<string, { name: string; partitions: number }>();
    const members = new Map<
      string,
      {
        instanceId: string | null;
        rackId: string | null;
        subscribed: Set<string>;
        current: Map<string, number[]>;
      }
    >();
    for (const m of [...cg.members.values()].sort((a, b) => (a.memberId < b.memberId ? -1 : 1))) {
      const subscribed = new Set<string>();
      for (const name of this.memberTopics(m)) {
        const t = this.topics.byName(name);
        if (!t) continue;
        subscribed.add(t.id);
        topics.set(t.id, { name, partitions: t.partitions });
      }
      const current = new Map<string, number[]>();
      for (const [t, ps] of cg.target.get(m.memberId) ?? []) current.set(t, [...ps]);
      members.set(m.memberId, { instanceId: m.instanceId, rackId: m.rackId, subscribed, current });
    }
    const name = cg.preferredAssignor() ?? this.options.assignors[0] ?? 'uniform';
    const assignor = SERVER_ASSIGNORS.get(name) ?? SERVER_ASSIGNORS.get('uniform')!;
    const result: GroupAssignment = assignor.assign({ members, topics });
    for (const memberId of cg.members.keys()) {
      const next: Assignment = new Map();
      for (const [t, ps] of result.get(memberId) ?? []) if (ps.length > 0) next.set(t, new Set(ps));
      const prev = cg.target.get(memberId);
      if (prev && assignmentEquals(prev, next)) continue;
      cg.target.set(memberId, next);
      records.push(targetRecord(groupId, memberId, next));
    }
    cg.assignmentEpoch = cg.groupEpoch;
    cg.assignorName = assignor.name;
    records.push({
      key: encodeConsumerTargetMetadataKey(groupId),
      value: encodeConsumerTargetMetadataValue({ assignmentEpoch: cg.assignmentEpoch }),
    });
  }
}
