/**
 * Control batches (transaction markers). A control batch has the transactional and control
 * attribute bits, the producer's id and epoch, and one record whose
 * key is (version i16 = 0, type i16: 0 abort, 1 commit) and
 * value is (version i16 = 0, coordinatorEpoch i32).
 */

import { buildRecordBatch } from './builder.ts';
import { RecordBatchError } from './errors.ts';
import type { KafkaRecord } from './record.ts';

/** Control record types (the i16 in the key). */
export const ControlType = { abort: 0, commit: 1 } as const;

/** A transaction marker to write. */
export interface ControlMarker {
  type: 'abort' | 'commit';
  producerId: bigint;
  producerEpoch: number;
  coordinatorEpoch: number;
  /** Marker timestamp in ms (default Date.now()). */
  timestamp?: number;
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
}

/** Builds a control batch carrying one commit or abort marker. */
export function buildControlBatch(marker: ControlMarker): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(ControlType[marker.type], 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(0, 0);
  value.writeInt32BE(marker.coordinatorEpoch, 2);
  return buildRecordBatch([{ key, value }], {
    transactional: true,
    control: true,
    producerId: marker.producerId,
    producerEpoch: marker.producerEpoch,
    timestamp: marker.timestamp,
    baseOffset: marker.baseOffset,
    partitionLeaderEpoch: marker.partitionLeaderEpoch,
  });
}

/** A decoded control record. */
export interface ControlRecord {
  /** 'abort', 'commit', or 'unknown' for a type this version does not know (Kafka skips those). */
  type: 'abort' | 'commit' | 'unknown';
  typeId: number;
  version: number;
  /** From the value; -1 when the value is absent. */
  coordinatorEpoch: number;
}

/** Decodes the key (and value) of a record from a control batch. */
export function parseControlRecord(record: Pick<KafkaRecord, 'key' | 'value'>): ControlRecord {
  const key = record.key;
  if (key === null || key.length < 4)
    throw new RecordBatchError('INVALID_RECORD', 'control record key too short');
  const version = key.readInt16BE(0);
  if (version < 0) throw new RecordBatchError('INVALID_RECORD', `invalid control record version ${version}`);
  const typeId = key.readInt16BE(2);
  const type = typeId === 0 ? 'abort' : typeId === 1 ? 'commit' : 'unknown';
  let coordinatorEpoch = -1;
  const value = record.value;
  if (value !== null && value.length >= 6) coordinatorEpoch = value.readInt32BE(2);
  else if (type !== 'unknown' && value !== null) {
    throw new RecordBatchError('INVALID_RECORD', 'control record value too short');
  }
  return { type, typeId, version, coordinatorEpoch };
}
