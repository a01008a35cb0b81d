/**
 * The in-memory state of one classic group: members, generation, selected protocol, committed
 * offsets. The rules that move it between states live in coordinator.ts.
 */
import { decodeConsumerProtocolSubscription, Reader } from '@tributary/protocol';
import type { ConsumerGroup } from './consumer-group.ts';
import type { OffsetValue } from './records.ts';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export const GROUP_STATES: readonly GroupState[] = [
  'Empty',
  'PreparingRebalance',
  'CompletingRebalance',
  'Stable',
  'Dead',
];

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  skipAssignment: boolean;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export interface Protocol {
  name: string;
  metadata: Buffer;
}

export class Member {
  /** Resolves the member's pending JoinGroup (set while it waits for the join to complete). */
  joinWaiter: ((r: JoinResult) => void) | undefined;
  /** Resolves the member's pending SyncGroup. */
  syncWaiter: ((r: SyncResult) => void) | undefined;
  heartbeatTimer: NodeJS.Timeout | undefined;
  assignment: Buffer = Buffer.alloc(0);

  constructor(
    readonly memberId: string,
    readonly groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    public rebalanceTimeoutMs: number,
    public sessionTimeoutMs: number,
    public protocols: Protocol[],
  ) {}

  metadataFor(protocol: string | null): Buffer {
    for (const p of this.protocols) if (p.name === protocol) return p.metadata;
    return Buffer.alloc(0);
  }

  sameProtocols(other: readonly Protocol[]): boolean {
    if (other.length !== this.protocols.length) return false;
    for (let i = 0; i < other.length; i++) {
      if (
        other[i]!.name !== this.protocols[i]!.name ||
        !other[i]!.metadata.equals(this.protocols[i]!.metadata)
      )
        return false;
    }
    return true;
  }
}

export class Group {
  state: GroupState = 'Empty';
  /** When the group entered its current state (retention of empty groups counts from here). */
  stateTimestamp: number;
  /** null for a group that only stores offsets (simple consumers, admin resets). */
  protocolType: string | null = null;
  protocolName: string | null = null;
  generation = 0;
  leader: string | null = null;
  readonly members = new Map<string, Member>();
  /** group.instance.id → member id. */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, waiting for the member's second join. */
  readonly pending = new Map<string, NodeJS.Timeout>();
  readonly offsets = new Map<string, Map<number, OffsetValue>>();
  /** Set for a KIP-848 consumer group (its membership; the classic fields stay unused). */
  consumer: ConsumerGroup | undefined;
  /** Offset keys (`topic` NUL `partition`) of commits being written: a deletion tombstones them too. */
  readonly committing = new Map<string, number>();
  /** The join phase's timer (rebalance timeout or the initial delay). */
  joinTimer: NodeJS.Timeout | undefined;
  /** Initial delayed join: a member arrived since the last tick; rebalance time left. */
  initialJoin: { newMemberAdded: boolean; remainingMs: number } | undefined;
  /** Members that got their join response but have not synced yet (the sync deadline's set). */
  readonly pendingSync = new Set<string>();
  syncTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly groupId: string,
    now: number,
  ) {
    this.stateTimestamp = now;
  }

  transition(state: GroupState, now: number): void {
    this.state = state;
    this.stateTimestamp = now;
  }

  get size(): number {
    return this.members.size;
  }

  offsetCount(): number {
    let n = 0;
    for (const m of this.offsets.values()) n += m.size;
    return n;
  }

  /** True when a protocol of `protocols` is supported by every current member. */
  supportsProtocols(protocolType: string, protocols: readonly Protocol[]): boolean {
    if (this.members.size === 0) return protocolType !== '' && protocols.length > 0;
    if (this.protocolType !== protocolType) return false;
    return protocols.some((p) => this.supportedBy(p.name) === this.members.size);
  }

  private supportedBy(name: string): number {
    let n = 0;
    for (const m of this.members.values()) if (m.protocols.some((p) => p.name === name)) n++;
    return n;
  }

  /** Kafka's vote: protocols every member supports; each member votes its first preference. */
  selectProtocol(): string | null {
    const candidates = new Set<string>();
    const first = this.members.values().next().value;
    if (first === undefined) return null;
    for (const p of first.protocols)
      if (this.supportedBy(p.name) === this.members.size) candidates.add(p.name);
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const choice = m.protocols.find((p) => candidates.has(p.name));
      if (choice) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1);
    }
    let best: string | null = null;
    let bestVotes = -1;
    for (const [name, n] of votes) {
      if (n > bestVotes) {
        best = name;
        bestVotes = n;
      }
    }
    return best;
  }

  allMembersJoined(): boolean {
    if (this.pending.size > 0) return false;
    for (const m of this.members.values()) if (m.joinWaiter === undefined) return false;
    return true;
  }

  /**
   * Topics the members subscribe to (consumer protocol only); undefined when unknown (another
   * protocol type, or metadata that does not parse).
   */
  subscribedTopics(): Set<string> | undefined {
    if (this.protocolType !== 'consumer' || this.protocolName === null) return undefined;
    const topics = new Set<string>();
    for (const m of this.members.values()) {
      const meta = m.metadataFor(this.protocolName);
      try {
        const r = new Reader(meta);
        const version = Math.min(r.readInt16(), 3);
        for (const t of decodeConsumerProtocolSubscription(r, Math.max(version, 0)).topics) topics.add(t);
      } catch {
        return undefined;
      }
    }
    return topics;
  }
}
