/**
 * Idempotent producer state of one partition: per producer id, its epoch and the last five
 * batches' sequence ranges with their offsets, so that a retried batch gets its original
 * offset back and a gap in sequences is refused (Kafka's rules).
 *
 * Kept in memory and rebuilt when a partition opens from the batch headers of the stream's
 * tail (Partition.loadProducerState): a producer unknown there (silent for longer than that
 * tail) has its next batch accepted whatever its sequence.
 */
import { ErrorCode, type RecordBatchHeader } from '@tributary/protocol';
import { KafkaError } from './errors.ts';

/** Batches remembered per producer (Kafka: 5, the most a producer keeps in flight). */
const BATCHES_KEPT = 5;
const SEQ_MODULO = 2 ** 31;

interface BatchMeta {
  firstSeq: number;
  lastSeq: number;
  baseOffset: number;
}

interface ProducerEntry {
  epoch: number;
  batches: BatchMeta[];
}

/** Result of checking a batch. */
export type SequenceCheck = { duplicateOf: number } | { accept: true };

/** Producer state of one partition. */
export class ProducerStateTable {
  private readonly producers = new Map<bigint, ProducerEntry>();
  /** Producers tracked at most (oldest forgotten first). */
  constructor(private readonly producersMax = 100_000) {}

  get size(): number {
    return this.producers.size;
  }

  /**
   * Checks a batch of an idempotent producer (producerId >= 0) against the state: a
   * duplicate of a remembered batch returns its offset; a stale epoch is
   * INVALID_PRODUCER_EPOCH; a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER.
   */
  check(h: RecordBatchHeader): SequenceCheck {
    const e = this.producers.get(h.producerId);
    if (e === undefined) return { accept: true };
    if (h.producerEpoch < e.epoch) {
      throw new KafkaError(
        ErrorCode.INVALID_PRODUCER_EPOCH,
        `producer ${h.producerId} epoch ${h.producerEpoch} is older than ${e.epoch}`,
      );
    }
    if (h.producerEpoch > e.epoch) {
      if (h.baseSequence !== 0) {
        throw new KafkaError(
          ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          `producer ${h.producerId} new epoch ${h.producerEpoch} must start at sequence 0, got ${h.baseSequence}`,
        );
      }
      return { accept: true };
    }
    const lastSeq = (h.baseSequence + h.lastOffsetDelta) % SEQ_MODULO;
    for (const b of e.batches) {
      if (b.firstSeq === h.baseSequence && b.lastSeq === lastSeq) return { duplicateOf: b.baseOffset };
    }
    const last = e.batches[e.batches.length - 1];
    const expected = last === undefined ? 0 : (last.lastSeq + 1) % SEQ_MODULO;
    if (last !== undefined && h.baseSequence !== expected) {
      throw new KafkaError(
        ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        `producer ${h.producerId}: sequence ${h.baseSequence}, expected ${expected}`,
      );
    }
    return { accept: true };
  }

  /** Records an accepted batch (call synchronously after `check`, before the next check). */
  record(h: RecordBatchHeader, baseOffset: number): void {
    let e = this.producers.get(h.producerId);
    if (e !== undefined && h.producerEpoch < e.epoch) return;
    if (e === undefined || h.producerEpoch > e.epoch) {
      if (e === undefined && this.producers.size >= this.producersMax) {
        const oldest = this.producers.keys().next().value;
        if (oldest !== undefined) this.producers.delete(oldest);
      }
      e = { epoch: h.producerEpoch, batches: [] };
      this.producers.set(h.producerId, e);
    }
    e.batches.push({
      firstSeq: h.baseSequence,
      lastSeq: (h.baseSequence + h.lastOffsetDelta) % SEQ_MODULO,
      baseOffset,
    });
    if (e.batches.length > BATCHES_KEPT) e.batches.shift();
  }
}
