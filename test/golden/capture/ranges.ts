/**
 * The version ranges the capture broker advertises in ApiVersions: the ranges Tributary will
 * serve (shared/design/kafka-compat.md), so clients pick the versions they will use against
 * it. SASL is left out (off by default).
 */
export const ADVERTISED_RANGES: ReadonlyMap<number, readonly [number, number]> = new Map([
  [18, [0, 4]], // ApiVersions
  [3, [0, 12]], // Metadata
  [0, [0, 11]], // Produce (0-2 answered with UNSUPPORTED_VERSION)
  [1, [4, 12]], // Fetch
  [2, [1, 7]], // ListOffsets
  [23, [2, 4]], // OffsetForLeaderEpoch
  [10, [0, 4]], // FindCoordinator
  [11, [0, 9]], // JoinGroup
  [14, [0, 5]], // SyncGroup
  [12, [0, 4]], // Heartbeat
  [13, [0, 5]], // LeaveGroup
  [8, [2, 9]], // OffsetCommit
  [9, [1, 9]], // OffsetFetch
  [15, [0, 5]], // DescribeGroups
  [16, [0, 4]], // ListGroups
  [42, [0, 2]], // DeleteGroups
  [47, [0, 0]], // OffsetDelete
  [22, [0, 4]], // InitProducerId
  [24, [0, 3]], // AddPartitionsToTxn
  [25, [0, 3]], // AddOffsetsToTxn
  [26, [0, 4]], // EndTxn
  [28, [0, 3]], // TxnOffsetCommit
  [19, [2, 7]], // CreateTopics
  [20, [1, 6]], // DeleteTopics
  [37, [0, 3]], // CreatePartitions
  [32, [1, 4]], // DescribeConfigs
  [33, [0, 2]], // AlterConfigs
  [44, [0, 1]], // IncrementalAlterConfigs
  [60, [0, 1]], // DescribeCluster
  [21, [0, 2]], // DeleteRecords
]);
