/**
 * A shard: the groups of one partition of the group log (`__consumer_offsets`) and its ordered
 * durable write path. Appends resolve in the order they were issued, once durable; a
 * compaction can pause new appends (`pause`) until nothing is in flight (`issued`) and learns
 * which keys were written meanwhile (`dirty`). What a failed append means to a client is
 * {@link storeErrorCode}.
 */
import { ErrorCode } from '@tributary/protocol';
import { KafkaError } from '../errors.ts';
import { maybeCompact } from './compaction.ts';
import type { Group } from './group.ts';
import type { GroupLog, GroupLogRecord } from './log.ts';
import type { GroupCoordinatorOptions } from './options.ts';

/** What a shard needs of its coordinator. */
export interface ShardEnv {
  readonly log: GroupLog;
  /** The coordinator's settings (the one object it holds). */
  readonly options: GroupCoordinatorOptions;
  /** True once the coordinator is closed (no compaction starts then). */
  closed(): boolean;
}

/** The error a client sees when the log append of a group operation fails. */
export function storeErrorCode(err: unknown, forCommit: boolean): number {
  const code = err instanceof KafkaError ? err.code : -1;
  if (
    forCommit &&
    (code === ErrorCode.MESSAGE_TOO_LARGE ||
      code === ErrorCode.RECORD_LIST_TOO_LARGE ||
      code === ErrorCode.INVALID_FETCH_SIZE)
  )
    return ErrorCode.INVALID_COMMIT_OFFSET_SIZE;
  if (code === ErrorCode.NOT_LEADER_OR_FOLLOWER) return ErrorCode.NOT_COORDINATOR;
  if (code === ErrorCode.MESSAGE_TOO_LARGE || code === ErrorCode.RECORD_LIST_TOO_LARGE)
    return ErrorCode.UNKNOWN_SERVER_ERROR;
  return ErrorCode.COORDINATOR_NOT_AVAILABLE;
}

/** The groups of one log partition. */
export class Shard {
  readonly groups = new Map<string, Group>();
  /** Appends are applied in the order they were issued. */
  tail: Promise<unknown> = Promise.resolve();
  loaded: Promise<void> | undefined;
  unloaded = false;
  /** Appends issued to the log and not yet settled. */
  readonly issued = new Set<Promise<unknown>>();
  /** Set while a compaction waits for a moment with nothing in flight: appends queue behind it. */
  pause: Promise<void> | undefined;
  /** During a compaction: keys appended since its start offset (latin1 of the key bytes). */
  dirty: Set<string> | undefined;
  /** Bytes appended (or replayed) since the last compaction, and what that compaction kept. */
  appendedBytes = 0;
  keptBytes = 0;
  compacting: Promise<void> | undefined;
  constructor(
    readonly partition: number,
    readonly env: ShardEnv,
  ) {}

  /** Appends to the shard's partition; resolves (in issue order) once durable. */
  write(records: GroupLogRecord[]): Promise<void> {
    if (this.unloaded) return Promise.reject(new KafkaError(ErrorCode.NOT_COORDINATOR, 'partition moved'));
    let bytes = 0;
    for (const r of records) bytes += r.key.length + (r.value?.length ?? 0);
    const issue = (): Promise<number> => {
      if (this.unloaded) return Promise.reject(new KafkaError(ErrorCode.NOT_COORDINATOR, 'partition moved'));
      for (const r of records) this.dirty?.add(r.key.toString('latin1'));
      const p = this.env.log.append(this.partition, records);
      const settled = p.then(
        () => {},
        () => {},
      );
      this.issued.add(settled);
      void settled.then(() => this.issued.delete(settled));
      return p;
    };
    // Behind a compaction's pause, appends queue in order (then-callbacks run in registration order).
    const appended = this.pause ? this.pause.then(issue) : issue();
    const done = this.tail.then(
      () => appended,
      () => appended,
    );
    this.tail = done.catch(() => {});
    return done.then(() => {
      if (this.unloaded) throw new KafkaError(ErrorCode.NOT_COORDINATOR, 'partition moved');
      this.appendedBytes += bytes;
      maybeCompact(this);
    });
  }
}
