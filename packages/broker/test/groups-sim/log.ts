/**
 * An in-memory group log for the group coordinator simulation: absolute offsets per
 * partition, appends that resolve after a microtask (so they interleave like real ones), and
 * the optional compaction support (endOffset, trim), so `compactPartition` rewrites it.
 */
import { type GroupLog, type GroupLogRecord, javaStringHash } from '../../src/groups/log.ts';

interface Entry {
  offset: number;
  key: Buffer;
  value: Buffer | null;
  timestamp: number;
}

interface Part {
  end: number;
  entries: Entry[];
}

export class SimGroupLog implements GroupLog {
  private readonly parts = new Map<number, Part>();
  appends = 0;
  trims = 0;

  /** Sabotage (to test the simulation's checks): every n-th record appended is silently dropped. */
  dropEvery = 0;
  private appended = 0;

  constructor(readonly partitions = 3) {}

  partitionFor(groupId: string): number {
    const h = javaStringHash(groupId);
    return (h === -2147483648 ? 0 : Math.abs(h)) % this.partitions;
  }

  private part(p: number): Part {
    let part = this.parts.get(p);
    if (!part) {
      part = { end: 0, entries: [] };
      this.parts.set(p, part);
    }
    return part;
  }

  async append(p: number, records: readonly GroupLogRecord[]): Promise<number> {
    await Promise.resolve();
    const part = this.part(p);
    const base = part.end;
    const now = Date.now();
    for (const r of records) {
      const offset = part.end++;
      if (this.dropEvery > 0 && ++this.appended % this.dropEvery === 0) continue;
      part.entries.push({ offset, key: r.key, value: r.value, timestamp: now });
    }
    this.appends++;
    return base;
  }

  endOffset(p: number): number | undefined {
    return this.part(p).end;
  }

  async trim(p: number, before: number): Promise<void> {
    await Promise.resolve();
    const part = this.part(p);
    part.entries = part.entries.filter((e) => e.offset >= before);
    this.trims++;
  }

  async *replay(
    p: number,
    end?: number,
  ): AsyncIterable<GroupLogRecord & { offset: number; timestamp: number }> {
    const part = this.part(p);
    const stop = end ?? part.end;
    for (const e of [...part.entries]) {
      if (e.offset >= stop) return;
      yield { key: e.key, value: e.value, offset: e.offset, timestamp: e.timestamp };
    }
  }

  /** Records currently stored in a partition. */
  size(p: number): number {
    return this.part(p).entries.length;
  }
}
