/**
 * The in-memory state of one KIP-848 ("consumer" protocol) group and the reconciliation of a
 * member's assignment towards its target: epochs, the target assignment computed by a
 * server-side assignor, and which member currently holds each partition. The protocol rules
 * (heartbeats, timers, records) live in consumer-protocol.ts.
 *
 * A member moves towards its target in steps: partitions it must give up are first kept
 * "pending revocation" (member epoch unchanged) until the member reports it no longer owns
 * them; then it takes the next epoch with its kept partitions plus those of its target that
 * nobody else holds; partitions still held by another member ("unreleased") are handed over
 * on a later heartbeat, once released. So no partition is ever owned by two members.
 */

/** topic id → partitions. */
export type Assignment = Map<string, Set<number>>;

export const MemberState = { STABLE: 0, UNREVOKED_PARTITIONS: 1, UNRELEASED_PARTITIONS: 2 } as const;
export type MemberStateValue = (typeof MemberState)[keyof typeof MemberState];

/** Member epoch of a static member that left temporarily (KIP-848). */
export const LEAVE_STATIC_EPOCH = -2;

export type ConsumerGroupState = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable';

export interface OwnedPartitions {
  topicId: string;
  partitions: number[];
}

export class ConsumerMember {
  memberEpoch = 0;
  previousMemberEpoch = 0;
  state: MemberStateValue = MemberState.STABLE;
  assigned: Assignment = new Map();
  pendingRevocation: Assignment = new Map();
  instanceId: string | null = null;
  rackId: string | null = null;
  clientId = '';
  clientHost = '';
  subscribedTopicNames: string[] = [];
  subscribedTopicRegex: string | null = null;
  serverAssignor: string | null = null;
  rebalanceTimeoutMs = 300_000;
  /** Set for a member that speaks the classic protocol (JoinGroup/SyncGroup) in this group. */
  classic: { sessionTimeoutMs: number; protocols: { name: string; metadata: Buffer }[] } | null = null;
  sessionTimer: NodeJS.Timeout | undefined;
  /** Classic members: the rejoin deadline after REBALANCE_IN_PROGRESS, and the sync deadline. */
  joinTimer: NodeJS.Timeout | undefined;
  syncTimer: NodeJS.Timeout | undefined;
  rebalanceTimer: NodeJS.Timeout | undefined;

  constructor(readonly memberId: string) {}

  /** Copy under another member id (a static member replaced by its new incarnation). */
  cloneAs(memberId: string): ConsumerMember {
    const m = new ConsumerMember(memberId);
    m.state = this.state;
    m.assigned = copyAssignment(this.assigned);
    m.pendingRevocation = copyAssignment(this.pendingRevocation);
    m.instanceId = this.instanceId;
    m.rackId = this.rackId;
    m.clientId = this.clientId;
    m.clientHost = this.clientHost;
    m.subscribedTopicNames = [...this.subscribedTopicNames];
    m.subscribedTopicRegex = this.subscribedTopicRegex;
    m.serverAssignor = this.serverAssignor;
    m.rebalanceTimeoutMs = this.rebalanceTimeoutMs;
    m.classic = this.classic;
    return m;
  }

  isReconciledTo(epoch: number): boolean {
    return this.state === MemberState.STABLE && this.memberEpoch === epoch;
  }

  setEpoch(epoch: number): void {
    this.previousMemberEpoch = this.memberEpoch;
    this.memberEpoch = epoch;
  }
}

export function copyAssignment(a: Assignment): Assignment {
  const out: Assignment = new Map();
  for (const [t, ps] of a) out.set(t, new Set(ps));
  return out;
}

export function assignmentEquals(a: Assignment, b: Assignment): boolean {
  let na = 0;
  for (const [t, ps] of a) {
    if (ps.size === 0) continue;
    na++;
    const other = b.get(t);
    if (!other || other.size !== ps.size) return false;
    for (const p of ps) if (!other.has(p)) return false;
  }
  let nb = 0;
  for (const ps of b.values()) if (ps.size > 0) nb++;
  return na === nb;
}

export function assignmentSize(a: Assignment): number {
  let n = 0;
  for (const ps of a.values()) n += ps.size;
  return n;
}

/** Assignment as protocol topic-partitions (partitions sorted, empty topics left out). */
export function toTopicPartitions(a: Assignment): { topicId: string; partitions: number[] }[] {
  const out: { topicId: string; partitions: number[] }[] = [];
  for (const [topicId, ps] of a)
    if (ps.size > 0) out.push({ topicId, partitions: [...ps].sort((x, y) => x - y) });
  return out;
}

export function fromTopicPartitions(
  list: readonly { topicId: string; partitions: readonly number[] }[],
): Assignment {
  const a: Assignment = new Map();
  for (const tp of list) {
    let s = a.get(tp.topicId);
    if (!s) {
      s = new Set();
      a.set(tp.topicId, s);
    }
    for (const p of tp.partitions) s.add(p);
  }
  return a;
}

/** True when every partition of `owned` is in `a` (null owned: unknown, false). */
export function isSubset(owned: readonly OwnedPartitions[] | null, a: Assignment): boolean {
  if (owned === null) return false;
  for (const tp of owned) {
    if (tp.partitions.length === 0) continue;
    const s = a.get(tp.topicId);
    if (!s) return false;
    for (const p of tp.partitions) if (!s.has(p)) return false;
  }
  return true;
}

/** True when the member still reports owning one of `a` (null owned: unknown, so true). */
function ownsAnyOf(owned: readonly OwnedPartitions[] | null, a: Assignment): boolean {
  if (owned === null) return true;
  for (const tp of owned) {
    const s = a.get(tp.topicId);
    if (!s) continue;
    for (const p of tp.partitions) if (s.has(p)) return true;
  }
  return false;
}

/** Subscribed topic as the group last computed it. */
export interface SubscribedTopic {
  id: string;
  name: string;
  partitions: number;
}

export class ConsumerGroup {
  groupEpoch = 0;
  assignmentEpoch = 0;
  readonly members = new Map<string, ConsumerMember>();
  /** instance id → member id. */
  readonly staticMembers = new Map<string, string>();
  /** member id → target assignment (of assignmentEpoch). */
  readonly target = new Map<string, Assignment>();
  /** topic id → partition → epoch of the member holding it (assigned or pending revocation). */
  private readonly partitionEpochs = new Map<string, Map<number, number>>();
  /** Hash of the subscribed topics' ids, names and partition counts (Kafka's MetadataHash); 0: unknown. */
  metadataHash = 0n;
  /** When the subscribed topics' metadata is next compared with the topic store. */
  metadataRefreshDeadline = 0;
  /** Topic names the members subscribe to (by name or regex), as last resolved. */
  resolvedTopics = new Set<string>();
  /** The assignor that computed the target assignment. */
  assignorName: string | null = null;

  state(): ConsumerGroupState {
    if (this.members.size === 0) return 'Empty';
    if (this.groupEpoch !== this.assignmentEpoch) return 'Assigning';
    for (const m of this.members.values()) if (!m.isReconciledTo(this.assignmentEpoch)) return 'Reconciling';
    return 'Stable';
  }

  /** -1 when no member holds the partition. */
  partitionEpoch(topicId: string, partition: number): number {
    return this.partitionEpochs.get(topicId)?.get(partition) ?? -1;
  }

  /** Records which partitions `m` holds (call after every change of its assignment). */
  addPartitionEpochs(m: ConsumerMember): void {
    const put = (a: Assignment): void => {
      for (const [t, ps] of a) {
        let byPartition = this.partitionEpochs.get(t);
        if (!byPartition) {
          byPartition = new Map();
          this.partitionEpochs.set(t, byPartition);
        }
        for (const p of ps) byPartition.set(p, m.memberEpoch);
      }
    };
    put(m.assigned);
    put(m.pendingRevocation);
  }

  /** Forgets which partitions `m` holds (call before changing its assignment or removing it). */
  removePartitionEpochs(m: ConsumerMember): void {
    const drop = (a: Assignment): void => {
      for (const [t, ps] of a) {
        const byPartition = this.partitionEpochs.get(t);
        if (!byPartition) continue;
        for (const p of ps) byPartition.delete(p);
        if (byPartition.size === 0) this.partitionEpochs.delete(t);
      }
    };
    drop(m.assigned);
    drop(m.pendingRevocation);
  }

  /** Every topic name any member subscribes to by name. */
  subscribedNames(): Set<string> {
    const out = new Set<string>();
    for (const m of this.members.values()) for (const t of m.subscribedTopicNames) out.add(t);
    return out;
  }

  /** Assignor preferred by most members (ties: first by name); null when none names one. */
  preferredAssignor(): string | null {
    const votes = new Map<string, number>();
    for (const m of this.members.values())
      if (m.serverAssignor !== null) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
    let best: string | null = null;
    let bestVotes = 0;
    for (const [name, n] of [...votes].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
      if (n > bestVotes) {
        best = name;
        bestVotes = n;
      }
    return best;
  }
}

/**
 * The member's next state towards `target` (Kafka's current-assignment rules). Mutates `m`;
 * the caller removes the member's partition epochs before and adds them back after, so that
 * "held by someone" means held by another member.
 */
export function reconcile(
  g: ConsumerGroup,
  m: ConsumerMember,
  targetEpoch: number,
  target: Assignment,
  owned: readonly OwnedPartitions[] | null,
): void {
  switch (m.state) {
    case MemberState.STABLE:
      if (m.memberEpoch !== targetEpoch) next(g, m, m.memberEpoch, targetEpoch, target, owned);
      return;
    case MemberState.UNREVOKED_PARTITIONS:
      if (ownsAnyOf(owned, m.pendingRevocation)) return;
      next(g, m, m.memberEpoch + 1, targetEpoch, target, owned);
      return;
    case MemberState.UNRELEASED_PARTITIONS:
      next(g, m, m.memberEpoch, targetEpoch, target, owned);
      return;
  }
}

function next(
  g: ConsumerGroup,
  m: ConsumerMember,
  memberEpoch: number,
  targetEpoch: number,
  target: Assignment,
  owned: readonly OwnedPartitions[] | null,
): void {
  let unreleased = false;
  const assigned: Assignment = new Map();
  const revoke: Assignment = new Map();
  const toAssign: Assignment = new Map();
  const topics = new Set([...target.keys(), ...m.assigned.keys()]);
  for (const t of topics) {
    const want = target.get(t) ?? new Set<number>();
    const have = m.assigned.get(t) ?? new Set<number>();
    const keep = new Set<number>();
    const gone = new Set<number>();
    for (const p of have) (want.has(p) ? keep : gone).add(p);
    const add = new Set<number>();
    for (const p of want) {
      if (keep.has(p)) continue;
      if (g.partitionEpoch(t, p) !== -1) unreleased = true;
      else add.add(p);
    }
    if (keep.size > 0) assigned.set(t, keep);
    if (gone.size > 0) revoke.set(t, gone);
    if (add.size > 0) toAssign.set(t, add);
  }
  if (revoke.size > 0 && ownsAnyOf(owned, revoke)) {
    m.state = MemberState.UNREVOKED_PARTITIONS;
    m.setEpoch(memberEpoch);
    m.assigned = assigned;
    m.pendingRevocation = revoke;
    return;
  }
  for (const [t, ps] of toAssign) {
    let s = assigned.get(t);
    if (!s) {
      s = new Set();
      assigned.set(t, s);
    }
    for (const p of ps) s.add(p);
  }
  m.state = unreleased ? MemberState.UNRELEASED_PARTITIONS : MemberState.STABLE;
  m.setEpoch(targetEpoch);
  m.assigned = assigned;
  m.pendingRevocation = new Map();
}
