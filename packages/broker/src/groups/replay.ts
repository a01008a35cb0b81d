/**
 * Loading a {@link Shard}: its groups rebuilt by replaying its log partition, classic groups
 * (group metadata and offsets) here and KIP-848 groups by {@link ConsumerReplay}; the caller
 * starts the members' timers of each group rebuilt.
 */
import { maybeCompact } from './compaction.ts';
import { ConsumerReplay } from './consumer-records.ts';
import { Group, Member } from './group.ts';
import {
  decodeGroupValue,
  decodeKey,
  decodeOffsetValue,
  type GroupValue,
  type OffsetValue,
} from './records.ts';
import type { Shard } from './shard.ts';

/** Replays the shard's partition into `s.groups`; `started` is called for each group as it is added. */
export async function replayShard(s: Shard, started: (g: Group) => void): Promise<void> {
  const { log, options } = s.env;
  const values = new Map<string, { value: GroupValue; timestamp: number } | null>();
  const offsets = new Map<string, Map<string, Map<number, OffsetValue>>>();
  const consumers = new ConsumerReplay();
  let records = 0;
  for await (const r of log.replay(s.partition)) {
    records++;
    s.appendedBytes += r.key.length + (r.value?.length ?? 0);
    let key: ReturnType<typeof decodeKey>;
    try {
      key = decodeKey(r.key);
    } catch {
      continue;
    }
    if (key === undefined) continue;
    try {
      if (consumers.apply(key, r.value)) continue;
    } catch (err) {
      options.logger.warn({ partition: s.partition, err: String(err) }, 'skipped an unreadable group record');
      continue;
    }
    if (key.type === 'group') {
      values.set(
        key.group,
        r.value === null ? null : { value: decodeGroupValue(r.value), timestamp: r.timestamp },
      );
      continue;
    }
    if (key.type !== 'offset') continue;
    let byTopic = offsets.get(key.group);
    if (!byTopic) {
      byTopic = new Map();
      offsets.set(key.group, byTopic);
    }
    let byPartition = byTopic.get(key.topic);
    if (!byPartition) {
      byPartition = new Map();
      byTopic.set(key.topic, byPartition);
    }
    if (r.value === null) byPartition.delete(key.partition);
    else byPartition.set(key.partition, decodeOffsetValue(r.value));
  }
  const now = Date.now();
  const consumerGroups = consumers.finish();
  const ids = new Set([...values.keys(), ...offsets.keys(), ...consumerGroups.keys()]);
  for (const id of ids) {
    const cg = consumerGroups.get(id);
    const v = cg ? null : (values.get(id) ?? null);
    const byTopic = offsets.get(id);
    for (const [t, m] of byTopic ?? []) if (m.size === 0) byTopic!.delete(t);
    if (v === null && cg === undefined && (byTopic === undefined || byTopic.size === 0)) continue;
    const g = new Group(id, now);
    if (byTopic) for (const [t, m] of byTopic) g.offsets.set(t, m);
    if (cg) {
      g.consumer = cg;
      g.protocolType = 'consumer';
      g.transition(cg.members.size > 0 ? 'Stable' : 'Empty', now);
    }
    if (v !== null) {
      const gv = v.value;
      g.protocolType = gv.protocolType === '' && gv.members.length === 0 ? null : gv.protocolType;
      g.generation = gv.generation;
      g.protocolName = gv.protocol;
      g.leader = gv.leader;
      for (const mv of gv.members) {
        const m = new Member(
          mv.memberId,
          mv.groupInstanceId,
          mv.clientId,
          mv.clientHost,
          mv.rebalanceTimeoutMs,
          mv.sessionTimeoutMs,
          gv.protocol === null ? [] : [{ name: gv.protocol, metadata: mv.subscription }],
        );
        m.assignment = mv.assignment;
        g.members.set(m.memberId, m);
        if (m.groupInstanceId !== null) g.staticMembers.set(m.groupInstanceId, m.memberId);
      }
      const stateTs = gv.currentStateTimestamp > 0 ? gv.currentStateTimestamp : v.timestamp;
      g.transition(g.members.size > 0 ? 'Stable' : 'Empty', stateTs);
      if (g.leader !== null && !g.members.has(g.leader)) g.leader = g.members.keys().next().value ?? null;
    }
    s.groups.set(id, g);
    started(g);
  }
  if (records > 0)
    options.logger.info(
      { partition: s.partition, records, groups: s.groups.size },
      'group log partition loaded',
    );
  // A long log is compacted soon after loading (the next load replays less).
  setImmediate(() => maybeCompact(s));
}
