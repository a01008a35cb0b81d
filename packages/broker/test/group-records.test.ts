/**
 * KIP-848 consumer-group records of __consumer_offsets (records.ts): round trips, byte vectors
 * derived by hand from Kafka's ConsumerGroup*{Key,Value}.json schemas, unknown tagged fields,
 * truncated input.
 */
import { describe, expect, it } from 'vitest';
import {
  type ConsumerCurrentMemberValue,
  type ConsumerGroupValue,
  type ConsumerMemberValue,
  type ConsumerTargetMemberValue,
  decodeConsumerCurrentMemberValue,
  decodeConsumerGroupValue,
  decodeConsumerMemberValue,
  decodeConsumerPartitionMetadataValue,
  decodeConsumerTargetMemberValue,
  decodeConsumerTargetMetadataValue,
  decodeGroupValue,
  decodeKey,
  decodeOffsetValue,
  encodeConsumerCurrentMemberKey,
  encodeConsumerCurrentMemberValue,
  encodeConsumerGroupKey,
  encodeConsumerGroupValue,
  encodeConsumerMemberKey,
  encodeConsumerMemberValue,
  encodeConsumerPartitionMetadataKey,
  encodeConsumerTargetMemberKey,
  encodeConsumerTargetMemberValue,
  encodeConsumerTargetMetadataKey,
  encodeConsumerTargetMetadataValue,
  encodeGroupKey,
  encodeOffsetKey,
  type TopicPartitionsValue,
} from '../src/groups/records.ts';

/** Hex with spaces and line breaks allowed (for readable layouts). */
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const TOPIC_A = '00010203-0405-0607-0809-0a0b0c0d0e0f';
const TOPIC_A_BYTES = '000102030405060708090a0b0c0d0e0f';
const TOPIC_B = 'f0e1d2c3-b4a5-9687-7869-5a4b3c2d1e0f';

function member(o: Partial<ConsumerMemberValue> = {}): ConsumerMemberValue {
  return {
    instanceId: null,
    rackId: null,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    subscribedTopicNames: ['t'],
    subscribedTopicRegex: null,
    serverAssignor: null,
    rebalanceTimeoutMs: 30000,
    classic: null,
    ...o,
  };
}

describe('KIP-848 record keys', () => {
  it('encode as int16 record type + int16-length strings (hand-built vectors)', () => {
    // ConsumerGroupMetadataKey: type 3 | GroupId "g1" (len 2)
    expect(encodeConsumerGroupKey('g1')).toEqual(hex('0003 0002 6731'));
    // ConsumerGroupPartitionMetadataKey: type 4 | "g"
    expect(encodeConsumerPartitionMetadataKey('g')).toEqual(hex('0004 0001 67'));
    // ConsumerGroupMemberMetadataKey: type 5 | GroupId "g" | MemberId "m1"
    expect(encodeConsumerMemberKey('g', 'm1')).toEqual(hex('0005 0001 67 0002 6d31'));
    // ConsumerGroupTargetAssignmentMetadataKey: type 6 | "g"
    expect(encodeConsumerTargetMetadataKey('g')).toEqual(hex('0006 0001 67'));
    // ConsumerGroupTargetAssignmentMemberKey: type 7 | "g" | "m"
    expect(encodeConsumerTargetMemberKey('g', 'm')).toEqual(hex('0007 0001 67 0001 6d'));
    // ConsumerGroupCurrentMemberAssignmentKey: type 8 | "g" | "m"
    expect(encodeConsumerCurrentMemberKey('g', 'm')).toEqual(hex('0008 0001 67 0001 6d'));
  });

  it('decodeKey returns the new types', () => {
    expect(decodeKey(hex('0003 0002 6731'))).toEqual({ type: 'consumer-group', group: 'g1' });
    expect(decodeKey(hex('0004 0001 67'))).toEqual({ type: 'consumer-partition-metadata', group: 'g' });
    expect(decodeKey(hex('0005 0001 67 0002 6d31'))).toEqual({
      type: 'consumer-member',
      group: 'g',
      memberId: 'm1',
    });
    expect(decodeKey(hex('0006 0001 67'))).toEqual({ type: 'consumer-target-metadata', group: 'g' });
    expect(decodeKey(hex('0007 0001 67 0001 6d'))).toEqual({
      type: 'consumer-target-member',
      group: 'g',
      memberId: 'm',
    });
    expect(decodeKey(hex('0008 0001 67 0001 6d'))).toEqual({
      type: 'consumer-current-member',
      group: 'g',
      memberId: 'm',
    });
  });

  it('round trip unicode and empty names; classic keys unchanged; unknown types undefined', () => {
    const g = 'grüppe-🚀-組';
    const m = 'mémbre-🙂';
    expect(decodeKey(encodeConsumerGroupKey(g))).toEqual({ type: 'consumer-group', group: g });
    expect(decodeKey(encodeConsumerMemberKey(g, m))).toEqual({
      type: 'consumer-member',
      group: g,
      memberId: m,
    });
    expect(decodeKey(encodeConsumerTargetMetadataKey(''))).toEqual({
      type: 'consumer-target-metadata',
      group: '',
    });
    expect(decodeKey(encodeConsumerTargetMemberKey(g, ''))).toEqual({
      type: 'consumer-target-member',
      group: g,
      memberId: '',
    });
    expect(decodeKey(encodeConsumerCurrentMemberKey(g, m))).toEqual({
      type: 'consumer-current-member',
      group: g,
      memberId: m,
    });
    expect(decodeKey(encodeOffsetKey('g', 't', 3))).toEqual({
      type: 'offset',
      group: 'g',
      topic: 't',
      partition: 3,
    });
    expect(decodeKey(encodeGroupKey('g'))).toEqual({ type: 'group', group: 'g' });
    // 9+ (share groups), 16 (ConsumerGroupRegularExpression), 17+ (streams): not ours.
    for (const t of [9, 10, 15, 16, 17, 100, -1]) {
      const b = Buffer.alloc(5);
      b.writeInt16BE(t, 0);
      b.writeInt16BE(1, 2);
      b[4] = 0x67;
      expect(decodeKey(b)).toBeUndefined();
    }
  });

  it('truncated keys throw an Error naming the record', () => {
    const cases: [Buffer, RegExp][] = [
      [encodeConsumerGroupKey('group'), /ConsumerGroupMetadata key/],
      [encodeConsumerPartitionMetadataKey('group'), /ConsumerGroupPartitionMetadata key/],
      [encodeConsumerMemberKey('group', 'member'), /ConsumerGroupMemberMetadata key/],
      [encodeConsumerTargetMetadataKey('group'), /ConsumerGroupTargetAssignmentMetadata key/],
      [encodeConsumerTargetMemberKey('group', 'member'), /ConsumerGroupTargetAssignmentMember key/],
      [encodeConsumerCurrentMemberKey('group', 'member'), /ConsumerGroupCurrentMemberAssignment key/],
    ];
    for (const [buf, re] of cases) {
      for (let n = 2; n < buf.length; n++) expect(() => decodeKey(buf.subarray(0, n))).toThrow(re);
    }
  });
});

describe('ConsumerGroupMetadataValue (3)', () => {
  it('hand-built vectors', () => {
    // version 0 | Epoch int32 5 | tagged fields: none (00)
    const plain = hex('0000 00000005 00');
    expect(encodeConsumerGroupValue({ epoch: 5, metadataHash: 0n })).toEqual(plain);
    expect(decodeConsumerGroupValue(plain)).toEqual({ epoch: 5, metadataHash: 0n });
    // version 0 | Epoch 7 | 1 tagged field: tag 0 (MetadataHash), size 8, int64 0x0102030405060708
    const hashed = hex('0000 00000007 01 00 08 0102030405060708');
    const v = { epoch: 7, metadataHash: 0x0102030405060708n };
    expect(encodeConsumerGroupValue(v)).toEqual(hashed);
    expect(decodeConsumerGroupValue(hashed)).toEqual(v);
  });

  it('round trips (negative and extreme hashes, epochs)', () => {
    const cases: ConsumerGroupValue[] = [
      { epoch: 0, metadataHash: 0n },
      { epoch: -1, metadataHash: -1n },
      { epoch: 2147483647, metadataHash: -(1n << 63n) },
      { epoch: 1, metadataHash: (1n << 63n) - 1n },
    ];
    for (const v of cases) expect(decodeConsumerGroupValue(encodeConsumerGroupValue(v))).toEqual(v);
  });

  it('skips unknown tagged fields around MetadataHash', () => {
    // Epoch 9 | 2 tags: tag 0 size 8 hash = 0xff..fe (-2) | tag 3 size 2 (unknown) abcd
    const b = hex('0000 00000009 02 00 08 fffffffffffffffe 03 02 abcd');
    expect(decodeConsumerGroupValue(b)).toEqual({ epoch: 9, metadataHash: -2n });
    // Only an unknown tag: the hash stays 0.
    expect(decodeConsumerGroupValue(hex('0000 00000009 01 05 01 ff'))).toEqual({
      epoch: 9,
      metadataHash: 0n,
    });
    // Trailing bytes after the value are ignored, as Kafka does.
    expect(decodeConsumerGroupValue(hex('0000 00000009 00 1234'))).toEqual({ epoch: 9, metadataHash: 0n });
  });
});

describe('ConsumerGroupMemberMetadataValue (5)', () => {
  it('hand-built vector', () => {
    const b = hex(
      `
      0000                 -- version 0
      00                   -- InstanceId: null
      02 72                -- RackId "r"
      02 63                -- ClientId "c"
      03 2f68              -- ClientHost "/h"
      02 02 74             -- SubscribedTopicNames: 1 element, "t"
      00                   -- SubscribedTopicRegex: null
      000003e8             -- RebalanceTimeoutMs 1000
      08 756e69666f726d    -- ServerAssignor "uniform"
      00                   -- tagged fields: none (ClassicMemberMetadata null)
    `.replace(/--.*$/gm, ''),
    );
    const v = member({
      rackId: 'r',
      clientId: 'c',
      clientHost: '/h',
      subscribedTopicNames: ['t'],
      rebalanceTimeoutMs: 1000,
      serverAssignor: 'uniform',
    });
    expect(encodeConsumerMemberValue(v)).toEqual(b);
    expect(decodeConsumerMemberValue(b)).toEqual(v);
  });

  it('round trips (nulls, empty arrays, unicode, many topics)', () => {
    const cases: ConsumerMemberValue[] = [
      member(),
      member({ subscribedTopicNames: [], subscribedTopicRegex: 'orders-.*', serverAssignor: 'range' }),
      member({ instanceId: 'static-1', rackId: 'rack-é', clientId: '', clientHost: '' }),
      member({
        instanceId: '实例',
        clientId: 'klient-🙂',
        subscribedTopicNames: Array.from({ length: 2000 }, (_, i) => `topic-${i}-ü`),
        rebalanceTimeoutMs: -1,
      }),
      member({ clientId: 'x'.repeat(32767) }),
    ];
    for (const v of cases) expect(decodeConsumerMemberValue(encodeConsumerMemberValue(v))).toEqual(v);
  });

  it('decodes ClassicMemberMetadata (tag 0) and skips unknown tags', () => {
    const b = hex(
      `
      0000 00 00 02 63 03 2f68 01 00 00007530 00   -- v0, nulls, "c", "/h", no topics, regex null, 30000, assignor null
      02                                          -- 2 tagged fields
      00 11                                       -- tag 0 ClassicMemberMetadata, 17 bytes:
        01                                        --   nullable struct: present
        0000afc8                                  --   SessionTimeoutMs 45000
        02                                        --   SupportedProtocols: 1 element
          06 72616e6765                           --     Name "range"
          03 0102                                 --     Metadata (compact bytes) 01 02
          00                                      --     struct tags
        00                                        --   struct tags
      07 03 aabbcc                                -- tag 7 (unknown), 3 bytes
    `.replace(/--.*$/gm, ''),
    );
    expect(decodeConsumerMemberValue(b)).toEqual(
      member({
        clientId: 'c',
        clientHost: '/h',
        subscribedTopicNames: [],
        rebalanceTimeoutMs: 30000,
        classic: {
          sessionTimeoutMs: 45000,
          supportedProtocols: [{ name: 'range', metadata: Buffer.from([1, 2]) }],
        },
      }),
    );
  });

  it('refuses a null for a non-nullable field', () => {
    // ClientId written as null (00)
    expect(() => decodeConsumerMemberValue(hex('0000 00 00 00 03 2f68 01 00 00007530 00 00'))).toThrow(
      /ConsumerGroupMemberMetadata value/,
    );
    // SubscribedTopicNames written as a null array (00)
    expect(() => decodeConsumerMemberValue(hex('0000 00 00 02 63 03 2f68 00 00 00007530 00 00'))).toThrow(
      /ConsumerGroupMemberMetadata value.*SubscribedTopicNames/,
    );
  });
});

describe('ConsumerGroupTargetAssignmentMetadataValue (6)', () => {
  it('hand-built vector and round trips', () => {
    // version 0 | AssignmentEpoch 10 | no tags
    const b = hex('0000 0000000a 00');
    expect(encodeConsumerTargetMetadataValue({ assignmentEpoch: 10 })).toEqual(b);
    expect(decodeConsumerTargetMetadataValue(b)).toEqual({ assignmentEpoch: 10 });
    for (const e of [0, -1, 2147483647, -2147483648]) {
      expect(
        decodeConsumerTargetMetadataValue(encodeConsumerTargetMetadataValue({ assignmentEpoch: e })),
      ).toEqual({
        assignmentEpoch: e,
      });
    }
  });

  it("skips Kafka 4.3's AssignmentTimestamp (tag 0)", () => {
    // AssignmentEpoch 10 | 1 tag: tag 0, size 8, int64 timestamp
    expect(decodeConsumerTargetMetadataValue(hex('0000 0000000a 01 00 08 0000019abcdef012'))).toEqual({
      assignmentEpoch: 10,
    });
  });
});

describe('ConsumerGroupTargetAssignmentMemberValue (7)', () => {
  it('hand-built vector', () => {
    const b = hex(
      `
      0000                               -- version 0
      02                                 -- TopicPartitions: 1 element
        ${TOPIC_A_BYTES}                 --   TopicId (16 bytes)
        03 00000000 00000002             --   Partitions: 2 elements, 0 and 2
        00                               --   struct tags
      00                                 -- value tags
    `.replace(/--.*$/gm, ''),
    );
    const v: ConsumerTargetMemberValue = { topicPartitions: [{ topicId: TOPIC_A, partitions: [0, 2] }] };
    expect(encodeConsumerTargetMemberValue(v)).toEqual(b);
    expect(decodeConsumerTargetMemberValue(b)).toEqual(v);
    // Empty assignment: version 0 | 0 elements (01) | tags
    expect(encodeConsumerTargetMemberValue({ topicPartitions: [] })).toEqual(hex('0000 01 00'));
  });

  it('round trips big partition lists and many topics; topic ids normalised to lower case', () => {
    const big: TopicPartitionsValue[] = [
      { topicId: TOPIC_A, partitions: Array.from({ length: 100_000 }, (_, i) => i) },
      { topicId: TOPIC_B, partitions: [] },
      { topicId: '00000000-0000-0000-0000-000000000000', partitions: [2147483647, -1, 0] },
    ];
    for (let i = 0; i < 500; i++) {
      const h = i.toString(16).padStart(12, '0');
      big.push({ topicId: `12345678-9abc-def0-1234-${h}`, partitions: [i, i + 1] });
    }
    const v = { topicPartitions: big };
    const enc = encodeConsumerTargetMemberValue(v);
    expect(decodeConsumerTargetMemberValue(enc)).toEqual(v);
    const upper = { topicPartitions: [{ topicId: TOPIC_B.toUpperCase(), partitions: [1] }] };
    expect(decodeConsumerTargetMemberValue(encodeConsumerTargetMemberValue(upper))).toEqual({
      topicPartitions: [{ topicId: TOPIC_B, partitions: [1] }],
    });
  });

  it('refuses malformed topic ids on encode', () => {
    for (const id of [
      '',
      'not-a-uuid',
      'AAECAwQFBgcICQoLDA0ODw',
      `${TOPIC_A}0`,
      TOPIC_A.replaceAll('-', ''),
    ]) {
      expect(() =>
        encodeConsumerTargetMemberValue({ topicPartitions: [{ topicId: id, partitions: [] }] }),
      ).toThrow(/topic id/);
    }
  });

  it('skips unknown tags inside the struct and at the end', () => {
    const b = hex(
      `
      0000 02 ${TOPIC_A_BYTES} 02 00000005
      01 04 02 beef                      -- struct: 1 tag, tag 4, 2 bytes
      01 09 00                           -- value: 1 tag, tag 9, 0 bytes
    `.replace(/--.*$/gm, ''),
    );
    expect(decodeConsumerTargetMemberValue(b)).toEqual({
      topicPartitions: [{ topicId: TOPIC_A, partitions: [5] }],
    });
  });
});

describe('ConsumerGroupCurrentMemberAssignmentValue (8)', () => {
  it('hand-built vector', () => {
    const b = hex(
      `
      0000                               -- version 0
      00000007                           -- MemberEpoch 7
      00000006                           -- PreviousMemberEpoch 6
      01                                 -- State 1 (unrevoked partitions)
      02                                 -- AssignedPartitions: 1 element
        ${TOPIC_A_BYTES}                 --   TopicId
        02 00000001                      --   Partitions: [1]
        00                               --   struct tags
      01                                 -- PartitionsPendingRevocation: 0 elements
      00                                 -- value tags
    `.replace(/--.*$/gm, ''),
    );
    const v: ConsumerCurrentMemberValue = {
      memberEpoch: 7,
      previousMemberEpoch: 6,
      state: 1,
      assignedPartitions: [{ topicId: TOPIC_A, partitions: [1] }],
      partitionsPendingRevocation: [],
    };
    expect(encodeConsumerCurrentMemberValue(v)).toEqual(b);
    expect(decodeConsumerCurrentMemberValue(b)).toEqual(v);
  });

  it('round trips (negative state, big lists)', () => {
    const cases: ConsumerCurrentMemberValue[] = [
      {
        memberEpoch: 0,
        previousMemberEpoch: -1,
        state: -1,
        assignedPartitions: [],
        partitionsPendingRevocation: [],
      },
      {
        memberEpoch: 2147483647,
        previousMemberEpoch: 2147483646,
        state: 2,
        assignedPartitions: [
          { topicId: TOPIC_A, partitions: Array.from({ length: 50_000 }, (_, i) => i * 2) },
          { topicId: TOPIC_B, partitions: [] },
        ],
        partitionsPendingRevocation: [
          { topicId: TOPIC_B, partitions: Array.from({ length: 50_000 }, (_, i) => i) },
        ],
      },
      {
        memberEpoch: 3,
        previousMemberEpoch: 2,
        state: 0,
        assignedPartitions: [],
        partitionsPendingRevocation: [{ topicId: TOPIC_A, partitions: [0] }],
      },
    ];
    for (const v of cases)
      expect(decodeConsumerCurrentMemberValue(encodeConsumerCurrentMemberValue(v))).toEqual(v);
  });

  it("skips Kafka 4.3's AssignmentEpochs (struct tag 0) and unknown value tags", () => {
    const b = hex(
      `
      0000 00000007 00000006 00
      02 ${TOPIC_A_BYTES} 02 00000001
        01 00 05 02 00000007             -- struct tag 0 AssignmentEpochs, 5 bytes: [7]
      01
      02 00 01 ff 01 00                  -- value: 2 tags (0: 1 byte, 1: 0 bytes)
    `.replace(/--.*$/gm, ''),
    );
    expect(decodeConsumerCurrentMemberValue(b)).toEqual({
      memberEpoch: 7,
      previousMemberEpoch: 6,
      state: 0,
      assignedPartitions: [{ topicId: TOPIC_A, partitions: [1] }],
      partitionsPendingRevocation: [],
    });
  });
});

describe('ConsumerGroupPartitionMetadataValue (4, read only)', () => {
  it('decodes a hand-built vector, skipping rack data', () => {
    const b = hex(
      `
      0000                               -- version 0
      02                                 -- Topics: 1 element
        ${TOPIC_A_BYTES}                 --   TopicId
        02 74                            --   TopicName "t"
        00000002                         --   NumPartitions 2
        02                               --   PartitionMetadata: 1 element
          00000000                       --     Partition 0
          02 03 7231                     --     Racks: ["r1"]
          00                             --     struct tags
        00                               --   struct tags
      00                                 -- value tags
    `.replace(/--.*$/gm, ''),
    );
    expect(decodeConsumerPartitionMetadataValue(b)).toEqual({
      topics: [{ topicId: TOPIC_A, topicName: 't', numPartitions: 2 }],
    });
  });
});

describe('bytes written by Kafka (generated classes of kafka-group-coordinator 4.3.1, MessageUtil)', () => {
  // Produced once with org.apache.kafka.coordinator.group.generated.* and
  // MessageUtil.toVersionPrefixedByteBuffer; pasted here so the test needs no JVM.
  it('keys and values we write are byte-identical', () => {
    expect(encodeConsumerGroupKey('g1').toString('hex')).toBe('000300026731');
    expect(encodeConsumerMemberKey('g', 'm1').toString('hex')).toBe('000500016700026d31');
    expect(encodeConsumerTargetMemberKey('g', 'm').toString('hex')).toBe('000700016700016d');
    expect(encodeConsumerGroupValue({ epoch: 5, metadataHash: 0n }).toString('hex')).toBe('00000000000500');
    expect(encodeConsumerGroupValue({ epoch: 7, metadataHash: 0x0102030405060708n }).toString('hex')).toBe(
      '0000000000070100080102030405060708',
    );
    expect(encodeConsumerGroupValue({ epoch: 1, metadataHash: -2n }).toString('hex')).toBe(
      '000000000001010008fffffffffffffffe',
    );
    const kafkaMember =
      '000007e5ae9ee4be8b000c6b6c69656e742df09f99820b2f3132372e302e302e310309746f7069632dc3bc02620a6f72646572732d2e2affffffff0000';
    const m = member({
      instanceId: '实例',
      clientId: 'klient-🙂',
      clientHost: '/127.0.0.1',
      subscribedTopicNames: ['topic-ü', 'b'],
      subscribedTopicRegex: 'orders-.*',
      rebalanceTimeoutMs: -1,
    });
    expect(encodeConsumerMemberValue(m).toString('hex')).toBe(kafkaMember);
    expect(decodeConsumerMemberValue(hex(kafkaMember))).toEqual(m);
    expect(encodeConsumerTargetMetadataValue({ assignmentEpoch: 10 }).toString('hex')).toBe('00000000000a00');
    expect(
      encodeConsumerTargetMemberValue({
        topicPartitions: [{ topicId: TOPIC_A, partitions: [0, 2] }],
      }).toString('hex'),
    ).toBe('000002000102030405060708090a0b0c0d0e0f0300000000000000020000');
  });

  it('values with fields we do not model decode', () => {
    // A classic-protocol member: unset strings are "" in Java, ClassicMemberMetadata present;
    // what we write for it is byte-identical to Kafka's own serialiser.
    const classicMember = {
      instanceId: '',
      rackId: '',
      clientId: 'c',
      clientHost: '/h',
      subscribedTopicNames: [],
      subscribedTopicRegex: '',
      serverAssignor: '',
      rebalanceTimeoutMs: 30000,
      classic: {
        sessionTimeoutMs: 45000,
        supportedProtocols: [{ name: 'range', metadata: Buffer.from([1, 2]) }],
      },
    };
    const javaBytes = hex('000001010263032f6801010000753001010011010000afc8020672616e67650301020000');
    expect(decodeConsumerMemberValue(javaBytes)).toEqual(classicMember);
    expect(encodeConsumerMemberValue(classicMember)).toEqual(javaBytes);
    // Kafka 4.3 AssignmentTimestamp = 1764000000000.
    expect(decodeConsumerTargetMetadataValue(hex('00000000000a0100080000019ab697e800'))).toEqual({
      assignmentEpoch: 10,
    });
    // Kafka 4.3 AssignmentEpochs = [7] inside the TopicPartitions struct.
    expect(
      decodeConsumerCurrentMemberValue(
        hex('000000000007000000060002000102030405060708090a0b0c0d0e0f020000000101000502000000070100'),
      ),
    ).toEqual({
      memberEpoch: 7,
      previousMemberEpoch: 6,
      state: 0,
      assignedPartitions: [{ topicId: TOPIC_A, partitions: [1] }],
      partitionsPendingRevocation: [],
    });
    expect(
      decodeConsumerPartitionMetadataValue(
        hex('000002000102030405060708090a0b0c0d0e0f027400000002020000000002037231000000'),
      ),
    ).toEqual({ topics: [{ topicId: TOPIC_A, topicName: 't', numPartitions: 2 }] });
  });
});

describe('errors', () => {
  const values: [string, Buffer, (b: Buffer) => unknown][] = [
    [
      'ConsumerGroupMetadata value',
      encodeConsumerGroupValue({ epoch: 3, metadataHash: 77n }),
      decodeConsumerGroupValue,
    ],
    [
      'ConsumerGroupMemberMetadata value',
      encodeConsumerMemberValue(
        member({ instanceId: 'i', subscribedTopicNames: ['a', 'b'], serverAssignor: 'u' }),
      ),
      decodeConsumerMemberValue,
    ],
    [
      'ConsumerGroupTargetAssignmentMetadata value',
      encodeConsumerTargetMetadataValue({ assignmentEpoch: 4 }),
      decodeConsumerTargetMetadataValue,
    ],
    [
      'ConsumerGroupTargetAssignmentMember value',
      encodeConsumerTargetMemberValue({ topicPartitions: [{ topicId: TOPIC_A, partitions: [1, 2, 3] }] }),
      decodeConsumerTargetMemberValue,
    ],
    [
      'ConsumerGroupCurrentMemberAssignment value',
      encodeConsumerCurrentMemberValue({
        memberEpoch: 1,
        previousMemberEpoch: 0,
        state: 0,
        assignedPartitions: [{ topicId: TOPIC_A, partitions: [1] }],
        partitionsPendingRevocation: [{ topicId: TOPIC_B, partitions: [2] }],
      }),
      decodeConsumerCurrentMemberValue,
    ],
    [
      'ConsumerGroupPartitionMetadata value',
      hex(`0000 02 ${TOPIC_A_BYTES} 02 74 00000002 02 00000000 02 03 7231 00 00 00`),
      decodeConsumerPartitionMetadataValue,
    ],
  ];

  it('every truncation of every value throws an Error naming the record', () => {
    for (const [name, buf, decode] of values) {
      expect(() => decode(buf)).not.toThrow();
      for (let n = 0; n < buf.length; n++) {
        let err: unknown;
        try {
          decode(buf.subarray(0, n));
        } catch (e) {
          err = e;
        }
        expect(err, `${name} cut at ${n}`).toBeInstanceOf(Error);
        expect(err).not.toBeInstanceOf(RangeError);
        expect((err as Error).message).toContain(`cannot decode ${name}`);
      }
    }
  });

  it('unknown value versions and impossible lengths throw naming the record', () => {
    for (const [name, buf, decode] of values) {
      const v1 = Buffer.from(buf);
      v1.writeInt16BE(1, 0);
      expect(() => decode(v1)).toThrow(new RegExp(`${name}.*unknown value version 1`));
    }
    // Partitions claims 1000 elements in a 10-byte tail.
    expect(() =>
      decodeConsumerTargetMemberValue(hex(`0000 02 ${TOPIC_A_BYTES} e907 00000001 00 00`)),
    ).toThrow(/ConsumerGroupTargetAssignmentMember value/);
    // MetadataHash with a size that is not 8.
    expect(() => decodeConsumerGroupValue(hex('0000 00000001 01 00 04 00000001'))).toThrow(/MetadataHash/);
    // Tags out of order.
    expect(() => decodeConsumerGroupValue(hex('0000 00000001 02 03 00 01 00'))).toThrow(
      /ConsumerGroupMetadata value/,
    );
  });

  it('classic records still decode as before', () => {
    const o = { offset: 1n, leaderEpoch: 2, metadata: 'm', commitTimestamp: 3, expireTimestamp: -1 };
    expect(decodeOffsetValue(hex('0003 0000000000000001 00000002 0001 6d 0000000000000003'))).toEqual(o);
    const g = decodeGroupValue(
      hex('0003 0008 636f6e73756d6572 00000001 ffff ffff 0000000000000000 00000000'),
    );
    expect(g).toEqual({
      protocolType: 'consumer',
      generation: 1,
      protocol: null,
      leader: null,
      currentStateTimestamp: 0,
      members: [],
    });
  });
});
