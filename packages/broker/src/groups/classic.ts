/**
 * The classic group protocol's requests: JoinGroup (new, known and static members, the
 * replacement of a static member), SyncGroup (the leader's assignments made durable),
 * Heartbeat and LeaveGroup. They drive the rebalance machinery of rebalance.ts; the
 * {@link GroupCoordinator} exposes them.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '@tributary/protocol';
import type { ConsumerProtocol } from './consumer-protocol.ts';
import { Group, type JoinResult, Member, type Protocol, type SyncResult } from './group.ts';
import type { GroupCoordinatorOptions } from './options.ts';
import {
  answerJoin,
  answerSync,
  EMPTY,
  fencedError,
  groupRecord,
  joinError,
  joinResult,
  maybePrepareRebalance,
  prepareRebalance,
  removeMemberAndUpdate,
  syncError,
  touch,
  tryCompleteJoin,
} from './rebalance.ts';
import { type Shard, storeErrorCode } from './shard.ts';

export interface JoinParams {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: Protocol[];
  /** JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED and its id. */
  requireKnownMemberId: boolean;
  /** JoinGroup v9+: a rejoining static leader of a stable group gets the members with skipAssignment. */
  supportsSkipAssignment?: boolean;
}

export interface SyncParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface MemberRef {
  memberId: string;
  groupInstanceId: string | null;
}

/** What the coordinator lends the classic protocol. */
export interface ClassicHost {
  /** The shard of a group, loaded. */
  shardFor(groupId: string): Promise<Shard>;
  groupCount(): number;
  readonly consumer: ConsumerProtocol;
}

/** A member as its JoinGroup describes it. */
function newMember(memberId: string, p: JoinParams): Member {
  return new Member(
    memberId,
    p.groupInstanceId,
    p.clientId,
    p.clientHost,
    p.rebalanceTimeoutMs,
    p.sessionTimeoutMs,
    p.protocols,
  );
}

/** Drops a group that never got further than MEMBER_ID_REQUIRED (nothing of it was stored). */
function maybeForget(s: Shard, g: Group): void {
  if (
    g.state === 'Empty' &&
    g.generation === 0 &&
    g.members.size === 0 &&
    g.pending.size === 0 &&
    g.offsetCount() === 0 &&
    s.groups.get(g.groupId) === g
  )
    s.groups.delete(g.groupId);
}

export class ClassicProtocol {
  constructor(
    private readonly host: ClassicHost,
    private readonly options: GroupCoordinatorOptions,
  ) {}

  async join(p: JoinParams): Promise<JoinResult> {
    const o = this.options;
    if (p.groupId === '') return joinError(ErrorCode.INVALID_GROUP_ID, p.memberId);
    if (p.sessionTimeoutMs < o.minSessionTimeoutMs || p.sessionTimeoutMs > o.maxSessionTimeoutMs)
      return joinError(ErrorCode.INVALID_SESSION_TIMEOUT, p.memberId);
    let metaBytes = 0;
    for (const pr of p.protocols) metaBytes += pr.metadata.length + pr.name.length;
    if (metaBytes > o.memberMetadataMaxBytes) return joinError(ErrorCode.INVALID_REQUEST, p.memberId);
    const s = await this.host.shardFor(p.groupId);
    let g = s.groups.get(p.groupId);
    if (!g) {
      if (p.memberId !== '') return joinError(ErrorCode.UNKNOWN_MEMBER_ID, p.memberId);
      if (p.protocolType === '' || p.protocols.length === 0)
        return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, p.memberId);
      if (this.host.groupCount() >= o.maxGroups) return joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      g = new Group(p.groupId, Date.now());
      s.groups.set(p.groupId, g);
    }
    if (g.state === 'Dead') return joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, p.memberId);
    if (g.consumer) {
      // A KIP-848 group with members takes classic members as such (consumer-classic.ts); an
      // empty one becomes classic again.
      if (g.consumer.members.size > 0) return this.host.consumer.classic.join(s, g, p);
      s.write(this.host.consumer.groupTombstones(g)).catch(() => {});
      g.consumer = undefined;
      g.protocolType = null;
    }
    if (!g.supportsProtocols(p.protocolType, p.protocols))
      return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, p.memberId);
    return p.memberId === '' ? this.joinUnknown(s, g, p) : this.joinKnown(s, g, p);
  }

  private joinUnknown(s: Shard, g: Group, p: JoinParams): Promise<JoinResult> | JoinResult {
    const o = this.options;
    if (p.groupInstanceId !== null) {
      const newId = `${p.groupInstanceId}-${randomUUID()}`;
      const old = g.staticMembers.get(p.groupInstanceId);
      if (old !== undefined && g.members.has(old)) return this.replaceStaticMember(s, g, old, newId, p);
      if (g.members.size + g.pending.size >= o.maxGroupSize)
        return joinError(ErrorCode.GROUP_MAX_SIZE_REACHED);
      return this.addMemberAndRebalance(s, g, newId, p);
    }
    if (g.members.size + g.pending.size >= o.maxGroupSize) return joinError(ErrorCode.GROUP_MAX_SIZE_REACHED);
    const newId = `${p.clientId}-${randomUUID()}`;
    if (p.requireKnownMemberId) {
      const t = setTimeout(() => {
        if (!g.pending.delete(newId)) return;
        tryCompleteJoin(s, g);
        maybeForget(s, g);
      }, p.sessionTimeoutMs);
      t.unref();
      g.pending.set(newId, t);
      return joinError(ErrorCode.MEMBER_ID_REQUIRED, newId);
    }
    return this.addMemberAndRebalance(s, g, newId, p);
  }

  private joinKnown(s: Shard, g: Group, p: JoinParams): Promise<JoinResult> | JoinResult {
    const pendingTimer = g.pending.get(p.memberId);
    if (pendingTimer !== undefined) {
      clearTimeout(pendingTimer);
      g.pending.delete(p.memberId);
      return this.addMemberAndRebalance(s, g, p.memberId, p);
    }
    if (p.groupInstanceId !== null) {
      const cur = g.staticMembers.get(p.groupInstanceId);
      if (cur !== undefined && cur !== p.memberId) return joinError(ErrorCode.FENCED_INSTANCE_ID, p.memberId);
    }
    const m = g.members.get(p.memberId);
    if (!m) return joinError(ErrorCode.UNKNOWN_MEMBER_ID, p.memberId);
    if (m.groupInstanceId !== null && m.groupInstanceId !== p.groupInstanceId)
      return joinError(ErrorCode.FENCED_INSTANCE_ID, p.memberId);
    switch (g.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(s, g, m, p);
      case 'CompletingRebalance':
        if (m.sameProtocols(p.protocols)) return joinResult(g, m);
        return this.updateMemberAndRebalance(s, g, m, p);
      case 'Stable':
        if (m.memberId === g.leader || !m.sameProtocols(p.protocols))
          return this.updateMemberAndRebalance(s, g, m, p);
        touch(s, g, m);
        return joinResult(g, m);
      default:
        return joinError(ErrorCode.UNKNOWN_MEMBER_ID, p.memberId);
    }
  }

  private addMemberAndRebalance(s: Shard, g: Group, memberId: string, p: JoinParams): Promise<JoinResult> {
    const m = newMember(memberId, p);
    if (g.members.size === 0) g.protocolType = p.protocolType;
    g.members.set(memberId, m);
    if (p.groupInstanceId !== null) g.staticMembers.set(p.groupInstanceId, memberId);
    if (g.leader === null || !g.members.has(g.leader)) g.leader = memberId;
    if (g.initialJoin) g.initialJoin.newMemberAdded = true;
    const result = new Promise<JoinResult>((resolve) => {
      m.joinWaiter = resolve;
    });
    // A new member waiting in its first join is dropped after newMemberJoinTimeoutMs (a client
    // that went away mid-rebalance must not hold the group until a long rebalance timeout).
    // Completing the join replaces this timer with the session timer (touch).
    m.heartbeatTimer = setTimeout(() => {
      if (s.unloaded || g.members.get(memberId) !== m || m.joinWaiter === undefined) return;
      this.options.logger.info(
        { group: g.groupId, member: memberId },
        'new group member did not complete its join in time',
      );
      removeMemberAndUpdate(s, g, m);
    }, this.options.newMemberJoinTimeoutMs);
    m.heartbeatTimer.unref();
    maybePrepareRebalance(s, g);
    tryCompleteJoin(s, g);
    return result;
  }

  private updateMemberAndRebalance(s: Shard, g: Group, m: Member, p: JoinParams): Promise<JoinResult> {
    m.protocols = p.protocols;
    m.sessionTimeoutMs = p.sessionTimeoutMs;
    m.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    m.clientId = p.clientId;
    m.clientHost = p.clientHost;
    answerJoin(m, joinError(ErrorCode.REBALANCE_IN_PROGRESS, m.memberId));
    const result = new Promise<JoinResult>((resolve) => {
      m.joinWaiter = resolve;
    });
    maybePrepareRebalance(s, g);
    tryCompleteJoin(s, g);
    return result;
  }

  /** A known static instance joins with a new member id: the old id is fenced. */
  private async replaceStaticMember(
    s: Shard,
    g: Group,
    oldId: string,
    newId: string,
    p: JoinParams,
  ): Promise<JoinResult> {
    const old = g.members.get(oldId)!;
    clearTimeout(old.heartbeatTimer);
    answerJoin(old, joinError(ErrorCode.FENCED_INSTANCE_ID, oldId));
    answerSync(old, syncError(ErrorCode.FENCED_INSTANCE_ID));
    const m = newMember(newId, p);
    m.assignment = old.assignment;
    // Same position in the member order (the leader's view stays stable).
    const entries = [...g.members.entries()].map(([id, x]): [string, Member] =>
      id === oldId ? [newId, m] : [id, x],
    );
    g.members.clear();
    for (const [id, x] of entries) g.members.set(id, x);
    g.staticMembers.set(p.groupInstanceId!, newId);
    const leaderBefore = g.leader;
    if (g.leader === oldId) g.leader = newId;
    if (g.pendingSync.delete(oldId)) g.pendingSync.add(newId);
    switch (g.state) {
      case 'Stable': {
        const selectedStays = g.protocolName !== null && g.selectProtocol() === g.protocolName;
        if (!selectedStays) {
          const result = new Promise<JoinResult>((resolve) => {
            m.joinWaiter = resolve;
          });
          prepareRebalance(s, g);
          return result;
        }
        touch(s, g, m);
        const gen = g.generation;
        try {
          await s.write([groupRecord(g)]);
        } catch (err) {
          return joinError(storeErrorCode(err, false), newId);
        }
        if (g.generation !== gen || g.members.get(newId) !== m)
          return joinError(ErrorCode.REBALANCE_IN_PROGRESS, newId);
        // KIP-814 (v9+): a returning static leader learns it leads, with the members' metadata,
        // and skips the assignment. Before v9 the old leader id is returned so that the member
        // does not assign as a leader of a stable group.
        if (p.supportsSkipAssignment === true) {
          const r = joinResult(g, m);
          return { ...r, skipAssignment: g.leader === newId };
        }
        return { ...joinResult(g, m), leader: leaderBefore ?? '', members: [] };
      }
      case 'CompletingRebalance': {
        const result = new Promise<JoinResult>((resolve) => {
          m.joinWaiter = resolve;
        });
        prepareRebalance(s, g);
        return result;
      }
      default: {
        const result = new Promise<JoinResult>((resolve) => {
          m.joinWaiter = resolve;
        });
        tryCompleteJoin(s, g);
        return result;
      }
    }
  }

  async sync(p: SyncParams): Promise<SyncResult> {
    const s = await this.host.shardFor(p.groupId);
    const g = s.groups.get(p.groupId);
    if (!g) return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
    if (g.consumer) return this.host.consumer.classic.sync(s, g, p);
    const fenced = fencedError(g, p.memberId, p.groupInstanceId);
    if (fenced !== ErrorCode.NONE) return syncError(fenced);
    const m = g.members.get(p.memberId);
    if (!m) return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
    if (p.generationId !== g.generation) return syncError(ErrorCode.ILLEGAL_GENERATION);
    if (
      (p.protocolType !== null && p.protocolType !== g.protocolType) ||
      (p.protocolName !== null && p.protocolName !== g.protocolName)
    )
      return syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const ok = (assignment: Buffer): SyncResult => ({
      errorCode: ErrorCode.NONE,
      protocolType: g.protocolType,
      protocolName: g.protocolName,
      assignment,
    });
    switch (g.state) {
      case 'PreparingRebalance':
        return syncError(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'Stable':
        g.pendingSync.delete(m.memberId);
        touch(s, g, m);
        return ok(m.assignment);
      case 'CompletingRebalance': {
        g.pendingSync.delete(m.memberId);
        touch(s, g, m);
        answerSync(m, syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        const result = new Promise<SyncResult>((resolve) => {
          m.syncWaiter = resolve;
        });
        if (m.memberId === g.leader) {
          const assignments = new Map<string, Buffer>();
          for (const a of p.assignments) {
            if (!g.members.has(a.memberId)) continue;
            if (a.assignment.length > this.options.memberMetadataMaxBytes) {
              answerSync(m, syncError(ErrorCode.INVALID_REQUEST));
              return result;
            }
            assignments.set(a.memberId, a.assignment);
          }
          const gen = g.generation;
          s.write([groupRecord(g, assignments)]).then(
            () => {
              if (g.generation !== gen || g.state !== 'CompletingRebalance') return;
              for (const x of g.members.values()) x.assignment = assignments.get(x.memberId) ?? EMPTY;
              g.transition('Stable', Date.now());
              for (const x of g.members.values()) answerSync(x, ok(x.assignment));
            },
            (err: unknown) => {
              if (g.generation !== gen || g.state !== 'CompletingRebalance') return;
              const code = storeErrorCode(err, false);
              for (const x of g.members.values()) answerSync(x, syncError(code));
              prepareRebalance(s, g);
            },
          );
        }
        return result;
      }
      default:
        return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  async heartbeat(
    groupId: string,
    generationId: number,
    memberId: string,
    groupInstanceId: string | null,
  ): Promise<number> {
    const s = await this.host.shardFor(groupId);
    const g = s.groups.get(groupId);
    if (!g) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (g.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (g.consumer)
      return this.host.consumer.classic.heartbeat(s, g, memberId, groupInstanceId, generationId);
    const fenced = fencedError(g, memberId, groupInstanceId);
    if (fenced !== ErrorCode.NONE) return fenced;
    const m = g.members.get(memberId);
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== g.generation) return ErrorCode.ILLEGAL_GENERATION;
    touch(s, g, m);
    return g.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  /** Removes members; per member error codes in order. */
  async leave(groupId: string, members: MemberRef[]): Promise<number[]> {
    const s = await this.host.shardFor(groupId);
    const g = s.groups.get(groupId);
    if (!g) return members.map(() => ErrorCode.UNKNOWN_MEMBER_ID);
    if (g.consumer) return this.host.consumer.classic.leave(s, g, members);
    return members.map((ref) => {
      let id = ref.memberId;
      if (ref.groupInstanceId !== null) {
        const cur = g.staticMembers.get(ref.groupInstanceId);
        if (cur === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
        if (id !== '' && id !== cur) return ErrorCode.FENCED_INSTANCE_ID;
        id = cur;
      }
      const t = g.pending.get(id);
      if (t !== undefined) {
        clearTimeout(t);
        g.pending.delete(id);
        tryCompleteJoin(s, g);
        maybeForget(s, g);
        return ErrorCode.NONE;
      }
      const m = g.members.get(id);
      if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
      removeMemberAndUpdate(s, g, m);
      return ErrorCode.NONE;
    });
  }
}
