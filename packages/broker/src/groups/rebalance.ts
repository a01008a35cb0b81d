/**
 * The classic group's rebalance machinery: preparing a rebalance (with the initial delay of a
 * new group), completing the join phase (a new generation, the leader, the answers to waiting
 * JoinGroups), the sync timeout, member sessions and removal, and the group metadata record
 * of a generation. The requests that drive it are in classic.ts.
 */
import { ErrorCode } from '@tributary/protocol';
import type { Group, JoinResult, Member, SyncResult } from './group.ts';
import type { GroupLogRecord } from './log.ts';
import { encodeGroupKey, encodeGroupValue, type GroupValue } from './records.ts';
import type { Shard } from './shard.ts';

export const EMPTY = Buffer.alloc(0);

export function joinError(errorCode: number, memberId = ''): JoinResult {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leader: '',
    skipAssignment: false,
    memberId,
    members: [],
  };
}

export function syncError(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

/** FENCED_INSTANCE_ID when a static instance id belongs to another member id. */
export function fencedError(g: Group, memberId: string, groupInstanceId: string | null): number {
  if (groupInstanceId === null) return ErrorCode.NONE;
  const cur = g.staticMembers.get(groupInstanceId);
  if (cur === undefined) return ErrorCode.NONE;
  return cur === memberId ? ErrorCode.NONE : ErrorCode.FENCED_INSTANCE_ID;
}

export function joinResult(g: Group, m: Member): JoinResult {
  const isLeader = g.leader === m.memberId;
  return {
    errorCode: ErrorCode.NONE,
    generationId: g.generation,
    protocolType: g.protocolType,
    protocolName: g.protocolName,
    leader: g.leader ?? '',
    skipAssignment: false,
    memberId: m.memberId,
    members: isLeader
      ? [...g.members.values()].map((x) => ({
          memberId: x.memberId,
          groupInstanceId: x.groupInstanceId,
          metadata: x.metadataFor(g.protocolName),
        }))
      : [],
  };
}

export function answerJoin(m: Member, r: JoinResult): void {
  const w = m.joinWaiter;
  m.joinWaiter = undefined;
  w?.(r);
}

export function answerSync(m: Member, r: SyncResult): void {
  const w = m.syncWaiter;
  m.syncWaiter = undefined;
  w?.(r);
}

function maxRebalanceTimeout(g: Group): number {
  let t = 0;
  for (const m of g.members.values()) t = Math.max(t, m.rebalanceTimeoutMs);
  return t;
}

export function maybePrepareRebalance(s: Shard, g: Group): void {
  if (g.state === 'Stable' || g.state === 'CompletingRebalance' || g.state === 'Empty')
    prepareRebalance(s, g);
}

export function prepareRebalance(s: Shard, g: Group): void {
  if (g.state === 'CompletingRebalance') {
    for (const m of g.members.values()) {
      m.assignment = EMPTY;
      answerSync(m, syncError(ErrorCode.REBALANCE_IN_PROGRESS));
    }
  }
  clearTimeout(g.syncTimer);
  g.syncTimer = undefined;
  g.pendingSync.clear();
  clearTimeout(g.joinTimer);
  const initial = g.state === 'Empty';
  g.transition('PreparingRebalance', Date.now());
  const delay = s.env.options.initialRebalanceDelayMs;
  const rebalanceMs = maxRebalanceTimeout(g);
  if (initial && delay > 0) {
    g.initialJoin = { newMemberAdded: false, remainingMs: Math.max(rebalanceMs - delay, 0) };
    g.joinTimer = setTimeout(() => onInitialDelay(s, g, delay), delay);
  } else {
    g.initialJoin = undefined;
    g.joinTimer = setTimeout(() => completeJoin(s, g), rebalanceMs);
  }
  g.joinTimer.unref();
  // Nobody left to wait for (the last member left or expired): complete at once.
  tryCompleteJoin(s, g);
}

function onInitialDelay(s: Shard, g: Group, delay: number): void {
  const ij = g.initialJoin;
  if (!ij || g.state !== 'PreparingRebalance') return;
  if (ij.newMemberAdded && ij.remainingMs > 0) {
    const d = Math.min(delay, ij.remainingMs);
    ij.remainingMs -= d;
    ij.newMemberAdded = false;
    g.joinTimer = setTimeout(() => onInitialDelay(s, g, delay), d);
    g.joinTimer.unref();
    return;
  }
  completeJoin(s, g);
}

export function tryCompleteJoin(s: Shard, g: Group): void {
  if (g.state === 'PreparingRebalance' && g.initialJoin === undefined && g.allMembersJoined())
    completeJoin(s, g);
}

function completeJoin(s: Shard, g: Group): void {
  if (g.state !== 'PreparingRebalance') return;
  clearTimeout(g.joinTimer);
  g.joinTimer = undefined;
  g.initialJoin = undefined;
  for (const m of [...g.members.values()])
    if (m.joinWaiter === undefined && m.groupInstanceId === null) removeMember(g, m);
  const now = Date.now();
  g.generation++;
  if (g.members.size === 0) {
    g.protocolName = null;
    g.leader = null;
    g.transition('Empty', now);
    s.write([groupRecord(g)]).catch((err: unknown) =>
      s.env.options.logger.warn({ group: g.groupId, err: String(err) }, 'storing the empty group failed'),
    );
    return;
  }
  if (g.leader === null || g.members.get(g.leader)?.joinWaiter === undefined) {
    const joined = [...g.members.values()].find((m) => m.joinWaiter !== undefined);
    g.leader = (joined ?? g.members.values().next().value!).memberId;
  }
  g.protocolName = g.selectProtocol();
  g.transition('CompletingRebalance', now);
  for (const m of g.members.values()) {
    if (m.joinWaiter === undefined) continue;
    answerJoin(m, joinResult(g, m));
    g.pendingSync.add(m.memberId);
    touch(s, g, m);
  }
  const gen = g.generation;
  g.syncTimer = setTimeout(() => onSyncTimeout(s, g, gen), maxRebalanceTimeout(g));
  g.syncTimer.unref();
}

function onSyncTimeout(s: Shard, g: Group, gen: number): void {
  g.syncTimer = undefined;
  if (g.generation !== gen || g.pendingSync.size === 0) return;
  if (g.state !== 'CompletingRebalance' && g.state !== 'Stable') return;
  for (const id of [...g.pendingSync]) {
    const m = g.members.get(id);
    if (m) removeMember(g, m);
  }
  g.pendingSync.clear();
  prepareRebalance(s, g);
}

function removeMember(g: Group, m: Member): void {
  clearTimeout(m.heartbeatTimer);
  answerJoin(m, joinError(ErrorCode.UNKNOWN_MEMBER_ID, m.memberId));
  answerSync(m, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
  g.members.delete(m.memberId);
  if (m.groupInstanceId !== null && g.staticMembers.get(m.groupInstanceId) === m.memberId)
    g.staticMembers.delete(m.groupInstanceId);
  g.pendingSync.delete(m.memberId);
  if (g.leader === m.memberId) g.leader = g.members.keys().next().value ?? null;
}

export function removeMemberAndUpdate(s: Shard, g: Group, m: Member): void {
  removeMember(g, m);
  if (g.state === 'Stable' || g.state === 'CompletingRebalance') prepareRebalance(s, g);
  else if (g.state === 'PreparingRebalance') tryCompleteJoin(s, g);
}

/** Heartbeat received (or implied): the member's session restarts. */
export function touch(s: Shard, g: Group, m: Member): void {
  clearTimeout(m.heartbeatTimer);
  m.heartbeatTimer = setTimeout(() => {
    if (g.members.get(m.memberId) !== m || s.unloaded) return;
    if (m.joinWaiter !== undefined || m.syncWaiter !== undefined) {
      touch(s, g, m);
      return;
    }
    s.env.options.logger.info({ group: g.groupId, member: m.memberId }, 'group member session expired');
    removeMemberAndUpdate(s, g, m);
  }, m.sessionTimeoutMs);
  m.heartbeatTimer.unref();
}

/** The group metadata record of the current generation (assignments as given or current). */
export function groupRecord(g: Group, assignments?: Map<string, Buffer>): GroupLogRecord {
  const value: GroupValue = {
    protocolType: g.protocolType ?? '',
    generation: g.generation,
    protocol: g.protocolName,
    leader: g.members.size > 0 ? g.leader : null,
    currentStateTimestamp: g.stateTimestamp,
    members: [...g.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      sessionTimeoutMs: m.sessionTimeoutMs,
      subscription: m.metadataFor(g.protocolName),
      assignment: assignments ? (assignments.get(m.memberId) ?? EMPTY) : m.assignment,
    })),
  };
  return { key: encodeGroupKey(g.groupId), value: encodeGroupValue(value) };
}
