/**
 * Records of `__consumer_offsets`, in Kafka's own key/value schemas (so Kafka's tools and any
 * client reading the topic see what Kafka writes). Keys start with an int16 version (Kafka's
 * record type): 0/1 = an offset commit (group, topic, partition), 2 = classic group metadata
 * (group), 3–8 = KIP-848 "consumer" group records (consumer-record-formats.ts). Values start with their own
 * int16 version; a null value is a tombstone. Described in docs/formats.md.
 */
import { Reader, Writer } from '@tributary/protocol';
import { type ConsumerRecordKey, decodeConsumerKey } from './consumer-record-formats.ts';

export * from './consumer-record-formats.ts';

export type RecordKey =
  | { type: 'offset'; group: string; topic: string; partition: number }
  | { type: 'group'; group: string }
  | ConsumerRecordKey;

export interface OffsetValue {
  offset: bigint;
  /** -1: unknown. */
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
  /** -1: none (expiry is decided by the group's retention). */
  expireTimestamp: number;
}

export interface GroupMemberValue {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  /** The metadata of the group's selected protocol. */
  subscription: Buffer;
  assignment: Buffer;
}

export interface GroupValue {
  protocolType: string;
  generation: number;
  protocol: string | null;
  leader: string | null;
  currentStateTimestamp: number;
  members: GroupMemberValue[];
}

export function encodeOffsetKey(group: string, topic: string, partition: number): Buffer {
  const w = new Writer(64);
  w.writeInt16(1);
  w.writeString(group);
  w.writeString(topic);
  w.writeInt32(partition);
  return w.toBuffer();
}

export function encodeGroupKey(group: string): Buffer {
  const w = new Writer(32);
  w.writeInt16(2);
  w.writeString(group);
  return w.toBuffer();
}

/** The key, or undefined for key versions this coordinator does not know (skipped on replay). */
export function decodeKey(buf: Buffer): RecordKey | undefined {
  const r = new Reader(buf);
  const version = r.readInt16();
  if (version === 0 || version === 1) {
    const group = r.readString();
    const topic = r.readString();
    const partition = r.readInt32();
    return { type: 'offset', group, topic, partition };
  }
  if (version === 2) return { type: 'group', group: r.readString() };
  return decodeConsumerKey(version, r);
}

/** OffsetCommitValue: v3 (offset, leader epoch, metadata, commit time), v1 when it expires explicitly. */
export function encodeOffsetValue(v: OffsetValue): Buffer {
  const w = new Writer(64 + v.metadata.length * 3);
  if (v.expireTimestamp >= 0) {
    w.writeInt16(1);
    w.writeInt64(v.offset);
    w.writeString(v.metadata);
    w.writeInt64Number(v.commitTimestamp);
    w.writeInt64Number(v.expireTimestamp);
  } else {
    w.writeInt16(3);
    w.writeInt64(v.offset);
    w.writeInt32(v.leaderEpoch);
    w.writeString(v.metadata);
    w.writeInt64Number(v.commitTimestamp);
  }
  return w.toBuffer();
}

export function decodeOffsetValue(buf: Buffer): OffsetValue {
  const r = new Reader(buf);
  const version = r.readInt16();
  if (version < 0 || version > 4) throw new Error(`unknown offset commit value version ${version}`);
  const offset = r.readInt64();
  let leaderEpoch = -1;
  if (version >= 3) leaderEpoch = r.readInt32();
  const metadata = version >= 4 ? r.readCompactString() : r.readString();
  const commitTimestamp = r.readInt64Number();
  const expireTimestamp = version === 1 ? r.readInt64Number() : -1;
  return { offset, leaderEpoch, metadata, commitTimestamp, expireTimestamp };
}

/** GroupMetadataValue v3 (non-flexible, with static member ids). */
export function encodeGroupValue(v: GroupValue): Buffer {
  const w = new Writer(256);
  w.writeInt16(3);
  w.writeString(v.protocolType);
  w.writeInt32(v.generation);
  w.writeNullableString(v.protocol);
  w.writeNullableString(v.leader);
  w.writeInt64Number(v.currentStateTimestamp);
  w.writeArrayLength(v.members.length);
  for (const m of v.members) {
    w.writeString(m.memberId);
    w.writeNullableString(m.groupInstanceId);
    w.writeString(m.clientId);
    w.writeString(m.clientHost);
    w.writeInt32(m.rebalanceTimeoutMs);
    w.writeInt32(m.sessionTimeoutMs);
    w.writeBytes(m.subscription);
    w.writeBytes(m.assignment);
  }
  return w.toBuffer();
}

export function decodeGroupValue(buf: Buffer): GroupValue {
  const r = new Reader(buf);
  const version = r.readInt16();
  if (version < 0 || version > 3) throw new Error(`unknown group metadata value version ${version}`);
  const protocolType = r.readString();
  const generation = r.readInt32();
  const protocol = r.readNullableString();
  const leader = r.readNullableString();
  const currentStateTimestamp = version >= 2 ? r.readInt64Number() : -1;
  const n = r.readArrayLength();
  const members: GroupMemberValue[] = [];
  for (let i = 0; i < n; i++) {
    const memberId = r.readString();
    const groupInstanceId = version >= 3 ? r.readNullableString() : null;
    const clientId = r.readString();
    const clientHost = r.readString();
    const rebalanceTimeoutMs = version >= 1 ? r.readInt32() : -1;
    const sessionTimeoutMs = r.readInt32();
    const subscription = Buffer.from(r.readBytes());
    const assignment = Buffer.from(r.readBytes());
    members.push({
      memberId,
      groupInstanceId,
      clientId,
      clientHost,
      rebalanceTimeoutMs: rebalanceTimeoutMs < 0 ? sessionTimeoutMs : rebalanceTimeoutMs,
      sessionTimeoutMs,
      subscription,
      assignment,
    });
  }
  return { protocolType, generation, protocol, leader, currentStateTimestamp, members };
}
