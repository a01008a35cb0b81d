/**
 * The embedded MetadataStore: the single-process default, persisted in a directory.
 *
 * State lives in memory (the same model as the memory backend); every write is a record
 * appended to `metadata.log` and fdatasync'ed before the write resolves and before it is
 * applied, so nothing un-durable is ever visible. When the log passes `snapshotLogBytes`, the
 * whole state is written to `metadata.snapshot` (temp file, fdatasync, rename, directory
 * fsync) and the log is truncated. Opening loads the snapshot, replays the log up to the first
 * torn or invalid entry and cuts the log there. Formats: docs/formats.md, "Embedded metadata
 * store".
 *
 * Leases after a restart: each lease gets its full TTL again, counted from the open (as etcd
 * does after a leader change). The clock is monotonic and per process, so a deadline from
 * before the restart means nothing; and the owner could not renew while the store was down.
 */
import { constants, type FileHandle, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalMetadataStore, type LocalStoreOptions } from './base.ts';
import { systemMetadataClock } from './clock.ts';
import { CorruptError, decodeLog, decodeSnapshot, encodeEntry, encodeSnapshot } from './codec.ts';
import { lockDirectory } from './lock.ts';
import type { CommitRecord, MetadataModel } from './model.ts';
import { MetadataError } from './types.ts';

export const LOG_FILE = 'metadata.log';
export const SNAPSHOT_FILE = 'metadata.snapshot';
const SNAPSHOT_TEMP_FILE = 'metadata.snapshot.tmp';

export interface EmbeddedMetadataStoreOptions extends LocalStoreOptions {
  /** Take a snapshot and truncate the log once it holds this many bytes (default 4 MiB). */
  snapshotLogBytes?: number;
}

async function fsyncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** What opening found, for tests and logs. */
export interface EmbeddedOpenInfo {
  snapshotRevision: number;
  replayedRecords: number;
  /** Bytes cut from the end of the log (a torn or invalid tail). */
  discardedLogBytes: number;
}

export class EmbeddedMetadataStore extends LocalMetadataStore {
  readonly description: string;
  private logBytes: number;
  private readonly snapshotLogBytes: number;

  private constructor(
    readonly dir: string,
    model: MetadataModel,
    private readonly log: FileHandle,
    logBytes: number,
    private readonly unlock: () => Promise<void>,
    /** What the open found. */
    readonly openInfo: EmbeddedOpenInfo,
    options: EmbeddedMetadataStoreOptions,
  ) {
    super(model, options);
    this.description = `embedded:${dir}`;
    this.logBytes = logBytes;
    this.snapshotLogBytes = options.snapshotLogBytes ?? 4 * 1024 * 1024;
  }

  /**
   * Open (creating if needed) the store in `dir`. Fails with MetadataError('unavailable') when
   * another store holds the directory, and MetadataError('invalid') on a corrupt snapshot.
   */
  static async open(dir: string, options: EmbeddedMetadataStoreOptions = {}): Promise<EmbeddedMetadataStore> {
    await mkdir(dir, { recursive: true });
    const unlock = await lockDirectory(dir);
    try {
      const clock = options.clock ?? systemMetadataClock;
      const model = LocalMetadataStore.newModel(options);
      await rm(join(dir, SNAPSHOT_TEMP_FILE), { force: true });
      const snap = await readIfExists(join(dir, SNAPSHOT_FILE));
      if (snap !== undefined) {
        try {
          model.restore(decodeSnapshot(snap), clock.now());
        } catch (e) {
          if (e instanceof CorruptError) {
            throw new MetadataError('invalid', `corrupt metadata snapshot in ${dir}: ${e.message}`, {
              cause: e,
            });
          }
          throw e;
        }
      }
      const snapshotRevision = model.revision;
      const logPath = join(dir, LOG_FILE);
      const logBuf = (await readIfExists(logPath)) ?? Buffer.alloc(0);
      const { records, validBytes } = decodeLog(logBuf);
      let keepBytes = validBytes;
      let replayed = 0;
      let start = 0;
      for (const { record, end } of records) {
        if (record.seq <= model.seq) {
          start = end; // already in the snapshot (a crash came between snapshot and log truncation)
          continue;
        }
        try {
          model.commit(record, clock.now());
        } catch {
          keepBytes = start; // does not follow: treat as the start of an invalid tail
          break;
        }
        replayed++;
        start = end;
      }
      const created = logBuf.length === 0;
      const fh = await open(logPath, constants.O_RDWR | constants.O_CREAT, 0o644);
      if (logBuf.length > keepBytes) {
        await fh.truncate(keepBytes);
        await fh.datasync();
      }
      if (created) await fsyncDirectory(dir);
      const info = {
        snapshotRevision,
        replayedRecords: replayed,
        discardedLogBytes: logBuf.length - keepBytes,
      };
      return new EmbeddedMetadataStore(dir, model, fh, keepBytes, unlock, info, options);
    } catch (e) {
      await unlock();
      if (e instanceof MetadataError) throw e;
      throw new MetadataError('unavailable', `cannot open metadata store in ${dir}: ${String(e)}`, {
        cause: e,
      });
    }
  }

  /** Bytes in the log now (for tests and metrics). */
  get logSizeBytes(): number {
    return this.logBytes;
  }

  protected async persist(record: CommitRecord): Promise<void> {
    const entry = encodeEntry(record);
    let written = 0;
    while (written < entry.length) {
      const { bytesWritten } = await this.log.write(
        entry,
        written,
        entry.length - written,
        this.logBytes + written,
      );
      written += bytesWritten;
    }
    await this.log.datasync();
    this.logBytes += entry.length;
  }

  protected override async afterCommit(): Promise<void> {
    if (this.logBytes >= this.snapshotLogBytes) await this.writeSnapshot();
  }

  /** Write a snapshot now and truncate the log (waits for earlier writes). */
  snapshot(): Promise<void> {
    return this.write(() => this.writeSnapshot());
  }

  private async writeSnapshot(): Promise<void> {
    const bytes = encodeSnapshot(this.model.state());
    const temp = join(this.dir, SNAPSHOT_TEMP_FILE);
    const fh = await open(temp, 'w', 0o644);
    try {
      let written = 0;
      while (written < bytes.length) {
        written += (await fh.write(bytes, written, bytes.length - written, written)).bytesWritten;
      }
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(temp, join(this.dir, SNAPSHOT_FILE));
    await fsyncDirectory(this.dir);
    // Only now may the log go: until the rename is durable, the old snapshot + log is the state.
    await this.log.truncate(0);
    await this.log.datasync();
    this.logBytes = 0;
  }

  protected async closeResources(): Promise<void> {
    await this.log.close().catch(() => {});
    await this.unlock();
  }
}
