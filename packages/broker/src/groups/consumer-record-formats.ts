/**
 * Records of KIP-848 "consumer" groups in `__consumer_offsets` (record types 3–8), in Kafka's
 * own schemas; records.ts holds the classic ones and re-exports these. Described in
 * docs/formats.md.
 */
import { Reader, Writer } from '@tributary/protocol';

/** Keys of record types 3–8. */
export type ConsumerRecordKey =
  /** 3: ConsumerGroupMetadata. */
  | { type: 'consumer-group'; group: string }
  /** 4: ConsumerGroupPartitionMetadata (replaced by the metadata hash in Kafka 4.1; ignored on replay). */
  | { type: 'consumer-partition-metadata'; group: string }
  /** 5: ConsumerGroupMemberMetadata. */
  | { type: 'consumer-member'; group: string; memberId: string }
  /** 6: ConsumerGroupTargetAssignmentMetadata. */
  | { type: 'consumer-target-metadata'; group: string }
  /** 7: ConsumerGroupTargetAssignmentMember. */
  | { type: 'consumer-target-member'; group: string; memberId: string }
  /** 8: ConsumerGroupCurrentMemberAssignment. */
  | { type: 'consumer-current-member'; group: string; memberId: string };

// ---------------------------------------------------------------------------------------------
// KIP-848 "consumer" groups (Kafka 4.x group coordinator, group-coordinator/src/main/resources/
// common/message/ConsumerGroup*{Key,Value}.json). Keys are not flexible: int16 record type, then
// int16-length strings. Values are all version 0 (the highest Kafka 4.1 writes, and still the
// only one in 4.3) and flexible: compact strings and arrays (unsigned varint length + 1), and a
// tagged-field section at the end of the value and of every struct inside it. Tagged fields we
// do not model are skipped on read and not written (Kafka writes a tagged field only when it
// differs from its default, and all of those have defaults we keep).
// ---------------------------------------------------------------------------------------------

const KEY_CONSUMER_GROUP = 3;
const KEY_CONSUMER_PARTITION_METADATA = 4;
const KEY_CONSUMER_MEMBER = 5;
const KEY_CONSUMER_TARGET_METADATA = 6;
const KEY_CONSUMER_TARGET_MEMBER = 7;
const KEY_CONSUMER_CURRENT_MEMBER = 8;

const KEY_NAMES: Record<number, string> = {
  3: 'ConsumerGroupMetadata',
  4: 'ConsumerGroupPartitionMetadata',
  5: 'ConsumerGroupMemberMetadata',
  6: 'ConsumerGroupTargetAssignmentMetadata',
  7: 'ConsumerGroupTargetAssignmentMember',
  8: 'ConsumerGroupCurrentMemberAssignment',
};

/** The value version written for every consumer-group record (Kafka 4.1: validVersions "0"). */
const CONSUMER_VALUE_VERSION = 0;

/** ConsumerGroupMemberMetadataValue's tagged field ClassicMemberMetadata. */
const TAG_CLASSIC_MEMBER = 0;

/** ConsumerGroupMetadataValue's tagged field MetadataHash (KIP-1101, Kafka 4.1). */
const TAG_METADATA_HASH = 0;

/** One topic's partitions in an assignment (Kafka's TopicPartition(s) struct). */
export interface TopicPartitionsValue {
  /** UUID text, lower-case 8-4-4-4-12. */
  topicId: string;
  partitions: number[];
}

/** ConsumerGroupMetadataValue v0. */
export interface ConsumerGroupValue {
  /** The group epoch. */
  epoch: number;
  /** Hash of the subscribed topics' metadata (tagged field 0; 0n = none, as before Kafka 4.1). */
  metadataHash: bigint;
}

/** A classic-protocol member of a consumer group: its JoinGroup session timeout and protocols. */
export interface ClassicMemberValue {
  sessionTimeoutMs: number;
  supportedProtocols: { name: string; metadata: Buffer }[];
}

/**
 * ConsumerGroupMemberMetadataValue v0, with its tagged ClassicMemberMetadata (tag 0, a nullable
 * struct: a presence byte, then the struct) for members that joined with the classic protocol.
 */
export interface ConsumerMemberValue {
  /** Absent (undefined or null) for a member of the consumer protocol. */
  classic?: ClassicMemberValue | null;
  instanceId: string | null;
  rackId: string | null;
  clientId: string;
  clientHost: string;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  rebalanceTimeoutMs: number;
}

/** ConsumerGroupTargetAssignmentMetadataValue v0. */
export interface ConsumerTargetMetadataValue {
  assignmentEpoch: number;
}

/** ConsumerGroupTargetAssignmentMemberValue v0. */
export interface ConsumerTargetMemberValue {
  topicPartitions: TopicPartitionsValue[];
}

/** ConsumerGroupCurrentMemberAssignmentValue v0. */
export interface ConsumerCurrentMemberValue {
  memberEpoch: number;
  previousMemberEpoch: number;
  /** int8 (Kafka's MemberState): 0 stable, 1 unrevoked partitions, 2 unreleased partitions, -1 unknown. */
  state: number;
  assignedPartitions: TopicPartitionsValue[];
  partitionsPendingRevocation: TopicPartitionsValue[];
}

/**
 * Runs a decoder and turns any failure (truncated input, bad length, bad version) into an Error
 * that names the record, keeping the original as its cause.
 */
function decoding<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot decode ${what}: ${msg}`, { cause: err });
  }
}

function consumerKey(type: number, group: string, memberId?: string): Buffer {
  const w = new Writer(32 + group.length * 3 + (memberId?.length ?? 0) * 3);
  w.writeInt16(type);
  w.writeString(group);
  if (memberId !== undefined) w.writeString(memberId);
  return w.toBuffer();
}

export function encodeConsumerGroupKey(group: string): Buffer {
  return consumerKey(KEY_CONSUMER_GROUP, group);
}

/** Kafka 4.1 no longer writes this record; the encoder exists for tests and replay of old logs. */
export function encodeConsumerPartitionMetadataKey(group: string): Buffer {
  return consumerKey(KEY_CONSUMER_PARTITION_METADATA, group);
}

export function encodeConsumerMemberKey(group: string, memberId: string): Buffer {
  return consumerKey(KEY_CONSUMER_MEMBER, group, memberId);
}

export function encodeConsumerTargetMetadataKey(group: string): Buffer {
  return consumerKey(KEY_CONSUMER_TARGET_METADATA, group);
}

export function encodeConsumerTargetMemberKey(group: string, memberId: string): Buffer {
  return consumerKey(KEY_CONSUMER_TARGET_MEMBER, group, memberId);
}

export function encodeConsumerCurrentMemberKey(group: string, memberId: string): Buffer {
  return consumerKey(KEY_CONSUMER_CURRENT_MEMBER, group, memberId);
}

// --- shared pieces ---------------------------------------------------------------------------

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function writeUuidText(w: Writer, id: string): void {
  if (!UUID_TEXT.test(id)) throw new Error(`invalid topic id "${id}" (expected 8-4-4-4-12 hex)`);
  w.writeRaw(Buffer.from(id.replaceAll('-', ''), 'hex'));
}

function readUuidText(r: Reader): string {
  const h = r.readRaw(16, 'uuid').toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A non-nullable compact array length (Kafka refuses a null for a non-nullable array). */
function readArrayCount(r: Reader, field: string): number {
  const n = r.readCompactArrayLength();
  if (n < 0) throw new Error(`non-nullable array ${field} is null`);
  return n;
}

function writeStringArray(w: Writer, list: readonly string[]): void {
  w.writeCompactArrayLength(list.length);
  for (const s of list) w.writeCompactString(s);
}

function readStringArray(r: Reader, field: string): string[] {
  const n = readArrayCount(r, field);
  const out: string[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = r.readCompactString();
  return out;
}

function writeTopicPartitions(w: Writer, list: readonly TopicPartitionsValue[]): void {
  w.writeCompactArrayLength(list.length);
  for (const tp of list) {
    writeUuidText(w, tp.topicId);
    w.writeCompactArrayLength(tp.partitions.length);
    for (const p of tp.partitions) w.writeInt32(p);
    w.writeEmptyTaggedFields();
  }
}

function readTopicPartitions(r: Reader, field: string): TopicPartitionsValue[] {
  const n = readArrayCount(r, field);
  const out: TopicPartitionsValue[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const topicId = readUuidText(r);
    const count = readArrayCount(r, `${field}.Partitions`);
    if (count * 4 > r.remaining())
      throw new Error(`${count} partitions cannot fit in ${r.remaining()} bytes`);
    const partitions: number[] = new Array(count);
    for (let j = 0; j < count; j++) partitions[j] = r.readInt32();
    // Kafka 4.3 adds a tagged AssignmentEpochs here (tag 0): skipped like any unknown tag.
    r.readTaggedFields();
    out[i] = { topicId, partitions };
  }
  return out;
}

function startValue(size: number): Writer {
  const w = new Writer(size);
  w.writeInt16(CONSUMER_VALUE_VERSION);
  return w;
}

/** Reads the int16 value version and runs `body` under an error naming the record. */
function decodeValue<T>(name: string, buf: Buffer, body: (r: Reader) => T): T {
  return decoding(`${name} value`, () => {
    const r = new Reader(buf);
    const version = r.readInt16();
    if (version !== CONSUMER_VALUE_VERSION) throw new Error(`unknown value version ${version}`);
    return body(r);
  });
}

// --- 3: ConsumerGroupMetadataValue -----------------------------------------------------------

/** Epoch int32, then the tagged MetadataHash (tag 0, int64) when it is not 0. */
export function encodeConsumerGroupValue(v: ConsumerGroupValue): Buffer {
  const w = startValue(32);
  w.writeInt32(v.epoch);
  if (v.metadataHash !== 0n) {
    w.writeUnsignedVarint(1);
    w.writeUnsignedVarint(TAG_METADATA_HASH);
    w.writeUnsignedVarint(8);
    w.writeInt64(BigInt.asIntN(64, v.metadataHash));
  } else {
    w.writeEmptyTaggedFields();
  }
  return w.toBuffer();
}

export function decodeConsumerGroupValue(buf: Buffer): ConsumerGroupValue {
  return decodeValue(KEY_NAMES[KEY_CONSUMER_GROUP]!, buf, (r) => {
    const epoch = r.readInt32();
    let metadataHash = 0n;
    r.readTaggedFields((tag, size, tr) => {
      if (tag !== TAG_METADATA_HASH) return false;
      if (size !== 8) throw new Error(`MetadataHash tagged field of ${size} bytes (expected 8)`);
      metadataHash = tr.readInt64();
      return true;
    });
    return { epoch, metadataHash };
  });
}

// --- 4: ConsumerGroupPartitionMetadataValue (read only) --------------------------------------

/** What a replay may want from the pre-4.1 partition metadata record (rack data is skipped). */
export interface ConsumerPartitionMetadataValue {
  topics: { topicId: string; topicName: string; numPartitions: number }[];
}

/** Decodes (and so validates) a pre-4.1 partition metadata value; the coordinator ignores it. */
export function decodeConsumerPartitionMetadataValue(buf: Buffer): ConsumerPartitionMetadataValue {
  return decodeValue(KEY_NAMES[KEY_CONSUMER_PARTITION_METADATA]!, buf, (r) => {
    const n = readArrayCount(r, 'Topics');
    const topics: ConsumerPartitionMetadataValue['topics'] = new Array(n);
    for (let i = 0; i < n; i++) {
      const topicId = readUuidText(r);
      const topicName = r.readCompactString();
      const numPartitions = r.readInt32();
      const pm = readArrayCount(r, 'PartitionMetadata');
      for (let j = 0; j < pm; j++) {
        r.readInt32();
        readStringArray(r, 'Racks');
        r.readTaggedFields();
      }
      r.readTaggedFields();
      topics[i] = { topicId, topicName, numPartitions };
    }
    r.readTaggedFields();
    return { topics };
  });
}

// --- 5: ConsumerGroupMemberMetadataValue -----------------------------------------------------

export function encodeConsumerMemberValue(v: ConsumerMemberValue): Buffer {
  const w = startValue(128);
  w.writeCompactNullableString(v.instanceId);
  w.writeCompactNullableString(v.rackId);
  w.writeCompactString(v.clientId);
  w.writeCompactString(v.clientHost);
  writeStringArray(w, v.subscribedTopicNames);
  w.writeCompactNullableString(v.subscribedTopicRegex);
  w.writeInt32(v.rebalanceTimeoutMs);
  w.writeCompactNullableString(v.serverAssignor);
  if (v.classic) {
    // ClassicMemberMetadata (tag 0): presence byte, SessionTimeoutMs, SupportedProtocols, tags.
    const t = new Writer(64);
    t.writeInt8(1);
    t.writeInt32(v.classic.sessionTimeoutMs);
    t.writeCompactArrayLength(v.classic.supportedProtocols.length);
    for (const p of v.classic.supportedProtocols) {
      t.writeCompactString(p.name);
      t.writeCompactBytes(p.metadata);
      t.writeEmptyTaggedFields();
    }
    t.writeEmptyTaggedFields();
    const body = t.toBuffer();
    w.writeUnsignedVarint(1);
    w.writeUnsignedVarint(TAG_CLASSIC_MEMBER);
    w.writeUnsignedVarint(body.length);
    w.writeRaw(body);
  } else {
    w.writeEmptyTaggedFields();
  }
  return w.toBuffer();
}

export function decodeConsumerMemberValue(buf: Buffer): ConsumerMemberValue {
  return decodeValue(KEY_NAMES[KEY_CONSUMER_MEMBER]!, buf, (r) => {
    const instanceId = r.readCompactNullableString();
    const rackId = r.readCompactNullableString();
    const clientId = r.readCompactString();
    const clientHost = r.readCompactString();
    const subscribedTopicNames = readStringArray(r, 'SubscribedTopicNames');
    const subscribedTopicRegex = r.readCompactNullableString();
    const rebalanceTimeoutMs = r.readInt32();
    const serverAssignor = r.readCompactNullableString();
    let classic: ClassicMemberValue | null = null;
    r.readTaggedFields((tag, _size, tr) => {
      if (tag !== TAG_CLASSIC_MEMBER) return false;
      if (tr.readInt8() < 0) return true;
      const sessionTimeoutMs = tr.readInt32();
      const n = readArrayCount(tr, 'SupportedProtocols');
      const supportedProtocols: ClassicMemberValue['supportedProtocols'] = [];
      for (let i = 0; i < n; i++) {
        const name = tr.readCompactString();
        const metadata = Buffer.from(tr.readCompactBytes());
        tr.readTaggedFields();
        supportedProtocols.push({ name, metadata });
      }
      tr.readTaggedFields();
      classic = { sessionTimeoutMs, supportedProtocols };
      return true;
    });
    return {
      classic,
      instanceId,
      rackId,
      clientId,
      clientHost,
      subscribedTopicNames,
      subscribedTopicRegex,
      serverAssignor,
      rebalanceTimeoutMs,
    };
  });
}

// --- 6: ConsumerGroupTargetAssignmentMetadataValue -------------------------------------------

export function encodeConsumerTargetMetadataValue(v: ConsumerTargetMetadataValue): Buffer {
  const w = startValue(16);
  w.writeInt32(v.assignmentEpoch);
  w.writeEmptyTaggedFields();
  return w.toBuffer();
}

export function decodeConsumerTargetMetadataValue(buf: Buffer): ConsumerTargetMetadataValue {
  return decodeValue(KEY_NAMES[KEY_CONSUMER_TARGET_METADATA]!, buf, (r) => {
    const assignmentEpoch = r.readInt32();
    r.readTaggedFields(); // Kafka 4.3's AssignmentTimestamp (tag 0) and newer: skipped
    return { assignmentEpoch };
  });
}

// --- 7: ConsumerGroupTargetAssignmentMemberValue ---------------------------------------------

export function encodeConsumerTargetMemberValue(v: ConsumerTargetMemberValue): Buffer {
  const w = startValue(64 + v.topicPartitions.length * 24);
  writeTopicPartitions(w, v.topicPartitions);
  w.writeEmptyTaggedFields();
  return w.toBuffer();
}

export function decodeConsumerTargetMemberValue(buf: Buffer): ConsumerTargetMemberValue {
  return decodeValue(KEY_NAMES[KEY_CONSUMER_TARGET_MEMBER]!, buf, (r) => {
    const topicPartitions = readTopicPartitions(r, 'TopicPartitions');
    r.readTaggedFields();
    return { topicPartitions };
  });
}

// --- 8: ConsumerGroupCurrentMemberAssignmentValue --------------------------------------------

export function encodeConsumerCurrentMemberValue(v: ConsumerCurrentMemberValue): Buffer {
  const w = startValue(64 + (v.assignedPartitions.length + v.partitionsPendingRevocation.length) * 24);
  w.writeInt32(v.memberEpoch);
  w.writeInt32(v.previousMemberEpoch);
  w.writeInt8(v.state);
  writeTopicPartitions(w, v.assignedPartitions);
  writeTopicPartitions(w, v.partitionsPendingRevocation);
  w.writeEmptyTaggedFields();
  return w.toBuffer();
}

export function decodeConsumerCurrentMemberValue(buf: Buffer): ConsumerCurrentMemberValue {
  return decodeValue(KEY_NAMES[KEY_CONSUMER_CURRENT_MEMBER]!, buf, (r) => {
    const memberEpoch = r.readInt32();
    const previousMemberEpoch = r.readInt32();
    const state = r.readInt8();
    const assignedPartitions = readTopicPartitions(r, 'AssignedPartitions');
    const partitionsPendingRevocation = readTopicPartitions(r, 'PartitionsPendingRevocation');
    r.readTaggedFields();
    return { memberEpoch, previousMemberEpoch, state, assignedPartitions, partitionsPendingRevocation };
  });
}

/** A key of record types 3–8 (after its int16 type `version`), or undefined for other types. */
export function decodeConsumerKey(version: number, r: Reader): ConsumerRecordKey | undefined {
  if (version < KEY_CONSUMER_GROUP || version > KEY_CONSUMER_CURRENT_MEMBER) return undefined;
  return decoding(`${KEY_NAMES[version]} key`, () => {
    const group = r.readString();
    switch (version) {
      case KEY_CONSUMER_GROUP:
        return { type: 'consumer-group', group };
      case KEY_CONSUMER_PARTITION_METADATA:
        return { type: 'consumer-partition-metadata', group };
      case KEY_CONSUMER_MEMBER:
        return { type: 'consumer-member', group, memberId: r.readString() };
      case KEY_CONSUMER_TARGET_METADATA:
        return { type: 'consumer-target-metadata', group };
      case KEY_CONSUMER_TARGET_MEMBER:
        return { type: 'consumer-target-member', group, memberId: r.readString() };
      default:
        return { type: 'consumer-current-member', group, memberId: r.readString() };
    }
  });
}
