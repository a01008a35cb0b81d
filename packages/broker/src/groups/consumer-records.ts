/**
 * A KIP-848 group's records in `__consumer_offsets` (Kafka's record types 3, 5, 6, 7 and 8):
 * built from the group's state ({@link memberValue}, {@link epochRecord}, {@link targetRecord},
 * {@link currentRecord}), topic ids converted between the protocol's base64url form and the
 * records' text form, and the groups rebuilt from the records on loading ({@link ConsumerReplay}).
 */
import {
  type Assignment,
  ConsumerGroup,
  ConsumerMember,
  fromTopicPartitions,
  MemberState,
  toTopicPartitions,
} from './consumer-group.ts';
import type { GroupLogRecord } from './log.ts';
import {
  type ClassicMemberValue,
  type ConsumerCurrentMemberValue,
  type ConsumerMemberValue,
  decodeConsumerCurrentMemberValue,
  decodeConsumerGroupValue,
  decodeConsumerMemberValue,
  decodeConsumerTargetMemberValue,
  decodeConsumerTargetMetadataValue,
  encodeConsumerCurrentMemberKey,
  encodeConsumerCurrentMemberValue,
  encodeConsumerGroupKey,
  encodeConsumerGroupValue,
  encodeConsumerTargetMemberKey,
  encodeConsumerTargetMemberValue,
  type RecordKey,
} from './records.ts';

/** The same names in any order. */
export function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.every((x, i) => x === sb[i]);
}

export function memberValue(m: ConsumerMember): ConsumerMemberValue {
  return {
    instanceId: m.instanceId,
    rackId: m.rackId,
    clientId: m.clientId,
    clientHost: m.clientHost,
    subscribedTopicNames: m.subscribedTopicNames,
    subscribedTopicRegex: m.subscribedTopicRegex,
    serverAssignor: m.serverAssignor,
    rebalanceTimeoutMs: m.rebalanceTimeoutMs,
    classic:
      m.classic === null
        ? null
        : { sessionTimeoutMs: m.classic.sessionTimeoutMs, supportedProtocols: m.classic.protocols },
  };
}

export function sameValue(a: ConsumerMemberValue, b: ConsumerMemberValue): boolean {
  return (
    a.instanceId === b.instanceId &&
    a.rackId === b.rackId &&
    a.clientId === b.clientId &&
    a.clientHost === b.clientHost &&
    sameList(a.subscribedTopicNames, b.subscribedTopicNames) &&
    a.subscribedTopicRegex === b.subscribedTopicRegex &&
    a.serverAssignor === b.serverAssignor &&
    a.rebalanceTimeoutMs === b.rebalanceTimeoutMs &&
    sameClassic(a.classic ?? null, b.classic ?? null)
  );
}

function sameClassic(a: ClassicMemberValue | null, b: ClassicMemberValue | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.sessionTimeoutMs === b.sessionTimeoutMs &&
    a.supportedProtocols.length === b.supportedProtocols.length &&
    a.supportedProtocols.every(
      (p, i) =>
        p.name === b.supportedProtocols[i]!.name && p.metadata.equals(b.supportedProtocols[i]!.metadata),
    )
  );
}

export function epochRecord(groupId: string, cg: ConsumerGroup): GroupLogRecord {
  return {
    key: encodeConsumerGroupKey(groupId),
    value: encodeConsumerGroupValue({ epoch: cg.groupEpoch, metadataHash: cg.metadataHash }),
  };
}

export function targetRecord(groupId: string, memberId: string, a: Assignment): GroupLogRecord {
  return {
    key: encodeConsumerTargetMemberKey(groupId, memberId),
    value: encodeConsumerTargetMemberValue({ topicPartitions: toRecordPartitions(a) }),
  };
}

export function currentRecord(groupId: string, m: ConsumerMember): GroupLogRecord {
  const v: ConsumerCurrentMemberValue = {
    memberEpoch: m.memberEpoch,
    previousMemberEpoch: m.previousMemberEpoch,
    state: m.state,
    assignedPartitions: toRecordPartitions(m.assigned),
    partitionsPendingRevocation: toRecordPartitions(m.pendingRevocation),
  };
  return {
    key: encodeConsumerCurrentMemberKey(groupId, m.memberId),
    value: encodeConsumerCurrentMemberValue(v),
  };
}

/** Topic ids: the protocol's base64url form in memory, Kafka's 8-4-4-4-12 text in the records. */
function idText(b64: string): string {
  const h = Buffer.from(b64, 'base64url').toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function idB64(text: string): string {
  return Buffer.from(text.replaceAll('-', ''), 'hex').toString('base64url');
}

function toRecordPartitions(a: Assignment): { topicId: string; partitions: number[] }[] {
  return toTopicPartitions(a).map((tp) => ({ topicId: idText(tp.topicId), partitions: tp.partitions }));
}

function fromRecordPartitions(list: readonly { topicId: string; partitions: number[] }[]): Assignment {
  return fromTopicPartitions(list.map((tp) => ({ topicId: idB64(tp.topicId), partitions: tp.partitions })));
}

/** Consumer groups rebuilt from a log partition's records (the coordinator's replay feeds them). */
export class ConsumerReplay {
  readonly groups = new Map<string, ConsumerGroup>();

  private group(id: string): ConsumerGroup {
    let cg = this.groups.get(id);
    if (!cg) {
      cg = new ConsumerGroup();
      this.groups.set(id, cg);
    }
    return cg;
  }

  private member(cg: ConsumerGroup, memberId: string): ConsumerMember {
    let m = cg.members.get(memberId);
    if (!m) {
      m = new ConsumerMember(memberId);
      cg.members.set(memberId, m);
    }
    return m;
  }

  /** True when the key is a consumer group record (applied), false otherwise. */
  apply(key: RecordKey, value: Buffer | null): boolean {
    switch (key.type) {
      case 'consumer-group':
        if (value === null) this.groups.delete(key.group);
        else {
          const v = decodeConsumerGroupValue(value);
          const cg = this.group(key.group);
          cg.groupEpoch = v.epoch;
          cg.metadataHash = v.metadataHash;
        }
        return true;
      case 'consumer-partition-metadata':
        return true;
      case 'consumer-member': {
        const cg = this.group(key.group);
        if (value === null) {
          cg.members.delete(key.memberId);
          return true;
        }
        const v = decodeConsumerMemberValue(value);
        const m = this.member(cg, key.memberId);
        m.instanceId = v.instanceId;
        m.rackId = v.rackId;
        m.clientId = v.clientId;
        m.clientHost = v.clientHost;
        m.subscribedTopicNames = v.subscribedTopicNames;
        m.subscribedTopicRegex = v.subscribedTopicRegex;
        m.serverAssignor = v.serverAssignor;
        m.rebalanceTimeoutMs = v.rebalanceTimeoutMs;
        m.classic = v.classic
          ? { sessionTimeoutMs: v.classic.sessionTimeoutMs, protocols: v.classic.supportedProtocols }
          : null;
        return true;
      }
      case 'consumer-target-metadata':
        this.group(key.group).assignmentEpoch =
          value === null ? 0 : decodeConsumerTargetMetadataValue(value).assignmentEpoch;
        return true;
      case 'consumer-target-member': {
        const cg = this.group(key.group);
        if (value === null) cg.target.delete(key.memberId);
        else
          cg.target.set(
            key.memberId,
            fromRecordPartitions(decodeConsumerTargetMemberValue(value).topicPartitions),
          );
        return true;
      }
      case 'consumer-current-member': {
        const cg = this.group(key.group);
        if (value === null) return true; // the member record's tombstone removes it
        const v = decodeConsumerCurrentMemberValue(value);
        const m = this.member(cg, key.memberId);
        m.memberEpoch = v.memberEpoch;
        m.previousMemberEpoch = v.previousMemberEpoch;
        m.state =
          v.state === MemberState.UNREVOKED_PARTITIONS || v.state === MemberState.UNRELEASED_PARTITIONS
            ? v.state
            : MemberState.STABLE;
        m.assigned = fromRecordPartitions(v.assignedPartitions);
        m.pendingRevocation = fromRecordPartitions(v.partitionsPendingRevocation);
        return true;
      }
      default:
        return false;
    }
  }

  /** Finishes the groups: members without metadata dropped, indexes rebuilt. */
  finish(): Map<string, ConsumerGroup> {
    for (const cg of this.groups.values()) {
      for (const [id, m] of cg.members) {
        if (m.clientId === '' && m.subscribedTopicNames.length === 0 && m.subscribedTopicRegex === null) {
          cg.members.delete(id);
          continue;
        }
        if (m.instanceId !== null) cg.staticMembers.set(m.instanceId, id);
        cg.addPartitionEpochs(m);
      }
      for (const id of [...cg.target.keys()]) if (!cg.members.has(id)) cg.target.delete(id);
    }
    return this.groups;
  }
}
