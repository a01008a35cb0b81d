/**
 * One partition of a topic on this broker: a stream of the stream layer (stream offset =
 * Kafka offset), its high watermark, idempotent producer state and long-poll waiters.
 */
import {
  checkRecordFraming,
  ErrorCode,
  iterateBatches,
  iterateRecords,
  type RecordBatchHeader,
  readBatchHeader,
  recordErrorCode,
  setBaseOffset,
  setLogAppendTime,
  setPartitionLeaderEpoch,
  validateBatch,
} from '@tributary/protocol';
import type { Stream } from '@tributary/stream';
import { KafkaError, messageOf } from './errors.ts';
import { ProducerStateTable } from './producer-state.ts';

/** What Produce gets back for a partition. */
export interface AppendResult {
  baseOffset: number;
  /** LogAppendTime in ms, or -1 for CreateTime topics. */
  logAppendTimeMs: number;
}

/** What a fetch read returns. */
export interface ReadResult {
  records: Buffer | null;
  bytes: number;
}

/** Settings of a partition's topic used on the produce path. */
export interface PartitionSettings {
  maxMessageBytes: number;
  logAppendTime: boolean;
}

const ERROR_BY_RECORD_CODE: Record<string, number> = {
  CORRUPT_MESSAGE: ErrorCode.CORRUPT_MESSAGE,
  INVALID_RECORD: ErrorCode.INVALID_RECORD,
  UNSUPPORTED_FOR_MESSAGE_FORMAT: ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
  UNSUPPORTED_COMPRESSION_TYPE: ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
};

export class Partition {
  /** Offset after the last acknowledged (durable) batch. */
  private hw: number;
  private readonly waiters = new Set<() => void>();
  readonly producers = new ProducerStateTable();
  /** Resolves once the idempotent producer state is rebuilt (idempotent appends wait for it). */
  producerStateReady: Promise<void> = Promise.resolve();
  /** Largest timestamp appended since start, with the offset of its batch. */
  private maxTs = { timestamp: -1, offset: -1 };

  constructor(
    readonly topic: string,
    readonly index: number,
    readonly stream: Stream,
    readonly leaderEpoch: number,
  ) {
    this.hw = stream.endOffset;
  }

  get highWatermark(): number {
    return this.hw;
  }

  get logStartOffset(): number {
    return this.stream.startOffset;
  }

  /**
   * Validates a produced `records` field, assigns offsets in place (and LogAppendTime when
   * configured), appends it as one unit, and resolves once it is durable. Throws KafkaError.
   */
  async append(records: Buffer | null, settings: PartitionSettings, nowMs: number): Promise<AppendResult> {
    if (records === null || records.length === 0) {
      throw new KafkaError(ErrorCode.INVALID_RECORD, 'produce request without records');
    }
    const headers: { batch: Buffer; h: RecordBatchHeader }[] = [];
    try {
      for (const batch of iterateBatches(records)) {
        if (batch.length > settings.maxMessageBytes) {
          throw new KafkaError(
            ErrorCode.MESSAGE_TOO_LARGE,
            `record batch of ${batch.length} bytes exceeds max.message.bytes ${settings.maxMessageBytes}`,
          );
        }
        const h = validateBatch(batch, { allowControl: false, strictCount: true });
        // Records must parse, as Kafka checks (compressed ones are decompressed for it).
        checkRecordFraming(batch, h);
        if (h.isTransactional) {
          throw new KafkaError(ErrorCode.INVALID_TXN_STATE, 'transactional produce is not supported yet');
        }
        headers.push({ batch, h });
      }
    } catch (err) {
      if (err instanceof KafkaError) throw err;
      const code = recordErrorCode(err);
      if (code !== undefined)
        throw new KafkaError(ERROR_BY_RECORD_CODE[code] ?? ErrorCode.CORRUPT_MESSAGE, messageOf(err));
      throw err;
    }
    if (headers.length === 0)
      throw new KafkaError(ErrorCode.INVALID_RECORD, 'records field holds no batches');
    // Idempotence: all batches new, or all duplicates of remembered ones.
    let duplicateOf: number | undefined;
    for (const { h } of headers) {
      if (h.producerId < 0n) continue;
      const c = this.producers.check(h);
      if ('duplicateOf' in c) {
        if (headers.length > 1) {
          throw new KafkaError(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'a duplicate batch among new ones');
        }
        duplicateOf = c.duplicateOf;
      }
    }
    if (duplicateOf !== undefined) {
      // Its first write may still be in flight: answer once it is durable.
      if (duplicateOf >= this.hw) await this.waitFor(duplicateOf + 1);
      return { baseOffset: duplicateOf, logAppendTimeMs: settings.logAppendTime ? nowMs : -1 };
    }
    // No await from here to stream.append: offsets are taken in call order.
    const base = this.stream.endOffset;
    let next = base;
    let maxTimestamp = -1;
    for (const { batch, h } of headers) {
      setBaseOffset(batch, BigInt(next));
      setPartitionLeaderEpoch(batch, this.leaderEpoch);
      if (settings.logAppendTime) setLogAppendTime(batch, nowMs);
      const ts = settings.logAppendTime ? nowMs : h.maxTimestamp;
      if (ts > maxTimestamp) maxTimestamp = ts;
      if (ts > this.maxTs.timestamp) this.maxTs = { timestamp: ts, offset: next };
      if (h.producerId >= 0n) this.producers.record(h, next);
      next += h.lastOffsetDelta + 1;
    }
    const { baseOffset } = await this.stream.append(
      records,
      next - base,
      maxTimestamp > 0 ? maxTimestamp : nowMs,
    );
    if (baseOffset !== base)
      throw new Error(`partition ${this.topic}-${this.index}: offset ${baseOffset}, expected ${base}`);
    if (next > this.hw) {
      this.hw = next;
      this.wake();
    }
    return { baseOffset: base, logAppendTimeMs: settings.logAppendTime ? nowMs : -1 };
  }

  /**
   * Reads batches from `offset` (below the high watermark only): at least one unit when any,
   * then more while within `maxBytes`. OFFSET_OUT_OF_RANGE outside [log start, high watermark].
   */
  async read(offset: number, maxBytes: number, readerId?: string): Promise<ReadResult> {
    if (offset < this.logStartOffset || offset > this.hw) {
      throw new KafkaError(
        ErrorCode.OFFSET_OUT_OF_RANGE,
        `offset ${offset} is outside [${this.logStartOffset}, ${this.hw}] of ${this.topic}-${this.index}`,
      );
    }
    if (offset === this.hw) return { records: null, bytes: 0 };
    const parts: Buffer[] = [];
    let bytes = 0;
    let at = offset;
    for (let round = 0; round < 8 && at < this.hw && (parts.length === 0 || bytes < maxBytes); round++) {
      const batches = await this.stream.fetch(
        at,
        Math.max(1, maxBytes - bytes),
        readerId === undefined ? {} : { readerId },
      );
      let progressed = false;
      for (const b of batches) {
        if (b.baseOffset >= this.hw) break;
        if (parts.length > 0 && bytes + b.data.length > maxBytes) break;
        parts.push(b.data);
        bytes += b.data.length;
        at = b.baseOffset + b.count;
        progressed = true;
      }
      if (!progressed) break;
    }
    if (parts.length === 0) return { records: null, bytes: 0 };
    return { records: parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes), bytes };
  }

  /**
   * Rebuilds the idempotent producer state from the stream's tail (the last `bytes` of
   * committed ranges plus everything cached): a producer retrying a batch that was written
   * before a crash, but never acknowledged, then gets the original offset instead of a
   * duplicate. Reads batch headers only.
   */
  async loadProducerState(bytes = 8 * 1024 * 1024): Promise<number> {
    const ranges = this.stream.committedRanges();
    let from = this.stream.committedOffset;
    let seen = 0;
    for (let i = ranges.length - 1; i >= 0 && seen < bytes; i--) {
      from = ranges[i]!.startOffset;
      seen += ranges[i]!.size;
    }
    from = Math.max(from, this.logStartOffset);
    let at = from;
    let batches = 0;
    while (at < this.hw) {
      const units = await this.stream.fetch(at, 1 << 20);
      if (units.length === 0) break;
      for (const u of units) {
        for (const batch of iterateBatches(u.data)) {
          const h = readBatchHeader(batch);
          if (h.producerId >= 0n && !h.isControl) {
            this.producers.record(h, Number(h.baseOffset));
            batches++;
          }
        }
        at = u.baseOffset + u.count;
      }
    }
    return batches;
  }

  /** Resolves when the high watermark passes `offset`, or after `ms`, or on abort. */
  waitFor(offset: number, ms = 30_000, signal?: AbortSignal): Promise<void> {
    if (this.hw >= offset) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const check = () => {
        if (this.hw >= offset) done();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(check);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Registers a callback run on every high-watermark advance; returns its remover. */
  onAppend(fn: () => void): () => void {
    this.waiters.add(fn);
    return () => this.waiters.delete(fn);
  }

  /** Wakes every waiter (the partition is going away). */
  wakeAll(): void {
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /**
   * The offset and timestamp of the first record whose timestamp is at or above `ts`
   * (ListOffsets by time), or undefined when none is. Committed ranges carry their newest
   * timestamp (a sparse time index); only the range that holds the answer, or the cached
   * tail, is read.
   */
  async offsetForTimestamp(ts: number): Promise<{ offset: number; timestamp: number } | undefined> {
    let from = this.logStartOffset;
    let runningMax = -1;
    for (const r of this.stream.committedRanges()) {
      runningMax = Math.max(runningMax, r.maxTimestamp);
      if (runningMax >= ts) {
        from = Math.max(this.logStartOffset, r.startOffset);
        break;
      }
      from = r.endOffset;
    }
    return this.scanForTimestamp(from, ts);
  }

  private async scanForTimestamp(
    from: number,
    ts: number,
  ): Promise<{ offset: number; timestamp: number } | undefined> {
    let at = from;
    while (at < this.hw) {
      const units = await this.stream.fetch(at, 1 << 20);
      if (units.length === 0) return undefined;
      for (const u of units) {
        if (u.baseOffset >= this.hw) return undefined;
        for (const batch of iterateBatches(u.data)) {
          const h = readBatchHeader(batch);
          const end = Number(h.baseOffset) + h.lastOffsetDelta + 1;
          if (end <= Math.max(at, this.logStartOffset) || h.maxTimestamp < ts) continue;
          if (h.timestampType === 'log-append')
            return { offset: Math.max(Number(h.baseOffset), this.logStartOffset), timestamp: h.maxTimestamp };
          for (const rec of iterateRecords(batch)) {
            if (Number(rec.offset) >= this.logStartOffset && rec.timestamp >= ts) {
              return { offset: Number(rec.offset), timestamp: rec.timestamp };
            }
          }
        }
        at = u.baseOffset + u.count;
      }
    }
    return undefined;
  }

  /** The offset and timestamp of the record with the largest timestamp (ListOffsets -3). */
  async maxTimestampOffset(): Promise<{ offset: number; timestamp: number } | undefined> {
    let best: { startOffset: number; maxTimestamp: number } | undefined;
    for (const r of this.stream.committedRanges()) {
      if (best === undefined || r.maxTimestamp > best.maxTimestamp) best = r;
    }
    if (
      this.maxTs.offset >= this.logStartOffset &&
      (best === undefined || this.maxTs.timestamp > best.maxTimestamp)
    ) {
      return this.exactMax(this.maxTs.offset, this.maxTs.timestamp);
    }
    if (best === undefined) return undefined;
    return this.exactMax(Math.max(best.startOffset, this.logStartOffset), best.maxTimestamp);
  }

  private async exactMax(
    from: number,
    ts: number,
  ): Promise<{ offset: number; timestamp: number } | undefined> {
    const hit = await this.scanForTimestamp(from, ts);
    return hit ?? undefined;
  }

  /** Moves the log start offset up (DeleteRecords); returns the new low watermark. */
  async deleteRecordsBefore(offset: number): Promise<number> {
    const target = offset === -1 ? this.hw : offset;
    if (target < 0 || target > this.hw) {
      throw new KafkaError(
        ErrorCode.OFFSET_OUT_OF_RANGE,
        `offset ${offset} is above the high watermark ${this.hw}`,
      );
    }
    await this.stream.trim(target);
    return this.logStartOffset;
  }
}
