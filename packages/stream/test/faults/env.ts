/**
 * One simulated broker process for the fault suite: a StreamStore over a FileWal and an
 * EmbeddedMetadataStore in a temp directory and a given object store, every backend behind
 * one {@link Cut} so that {@link Proc.crash} stops all I/O at once. A later {@link Proc.start}
 * over the same directory and object store is the restart.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileWal, openNodeWalFile } from '@tributary/wal';
import { EmbeddedMetadataStore } from '../../src/metadata/embedded.ts';
import type { MetadataStore } from '../../src/metadata/types.ts';
import type { ObjectStore } from '../../src/object-store/types.ts';
import { StreamStore, type StreamStoreOptions } from '../../src/stream/store.ts';
import { Cut, CutMetadata, CutObjectStore, CutWalFile } from './cut.ts';

/** Size of the WAL file of a test process (small: the file is zero-filled at creation). */
export const WAL_FILE_BYTES = 8 * 1024 * 1024;

const dirs: string[] = [];

/** A fresh temp directory; {@link removeTempDirs} removes them all. */
export async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `tributary-faults-${label}-`));
  dirs.push(dir);
  return dir;
}

/** Removes every directory made by {@link tempDir} (call in afterAll). */
export async function removeTempDirs(): Promise<void> {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
}

/** What a process is started with. */
export interface ProcOptions {
  /** Holds `wal` (the WAL file) and `meta/` (the embedded metadata store). */
  dir: string;
  /** The object store (shared across restarts; faults go in here). */
  objectStore: ObjectStore;
  /** StreamStore options on top of the defaults below. */
  store?: Partial<StreamStoreOptions>;
  /** Size of a new WAL file (default {@link WAL_FILE_BYTES}). */
  walBytes?: number;
  /** Wraps the metadata store inside the cut (e.g. to inject metadata faults). */
  wrapMetadata?: (m: MetadataStore) => MetadataStore;
}

/** Store options of every fault-suite process unless overridden. */
export const DEFAULT_STORE_OPTIONS = {
  nodeId: 'n1',
  cacheBytesMax: 256 * 1024,
  uploadBytesThreshold: 16 * 1024,
  blockBytesTarget: 4 * 1024,
  uploadIntervalMs: 20,
} as const;

/** One simulated process: its store and the backends behind its cut. */
export class Proc {
  private stopped = false;

  private constructor(
    readonly cut: Cut,
    readonly wal: FileWal,
    readonly walFile: CutWalFile,
    readonly metaStore: EmbeddedMetadataStore,
    readonly metadata: CutMetadata,
    readonly objects: CutObjectStore,
    readonly store: StreamStore,
  ) {}

  /**
   * Opens the WAL file and the metadata store in `dir` and starts a StreamStore on them
   * (running WAL recovery). `beforeStart` may arm hooks on the cut backends first.
   */
  static async start(o: ProcOptions, beforeStart?: (p: PartialProc) => void): Promise<Proc> {
    const cut = new Cut();
    const walFile = new CutWalFile(
      await openNodeWalFile(join(o.dir, 'wal'), o.walBytes ?? WAL_FILE_BYTES),
      cut,
    );
    const wal = await FileWal.open({ path: join(o.dir, 'wal'), file: walFile, alignBytes: 4096 });
    const metaStore = await EmbeddedMetadataStore.open(join(o.dir, 'meta'));
    const metadata = new CutMetadata(o.wrapMetadata?.(metaStore) ?? metaStore, cut);
    const objects = new CutObjectStore(o.objectStore, cut);
    beforeStart?.({ cut, metadata, objects, files: { walFile, metaStore } });
    let store: StreamStore;
    try {
      store = await StreamStore.start({
        ...DEFAULT_STORE_OPTIONS,
        ...o.store,
        wal,
        objectStore: objects,
        metadata,
      });
    } catch (err) {
      await wal.close().catch(() => {});
      await metaStore.close();
      throw err;
    }
    return new Proc(cut, wal, walFile, metaStore, metadata, objects, store);
  }

  /**
   * Starts a process whose `arm` makes it crash during its start-up recovery (by cutting
   * `cut` from a hook); resolves once it crashed and its files are free for the next start.
   * Rejects if the start completes without crashing.
   */
  static async crashDuringStart(o: ProcOptions, arm: (p: PartialProc) => void): Promise<void> {
    let parts: PartialProc | undefined;
    const started = Proc.start(o, (p) => {
      parts = p;
      arm(p);
    });
    let done: Proc | undefined;
    started.then(
      (p) => {
        done = p;
      },
      () => {},
    );
    const t0 = Date.now();
    while (parts === undefined || !parts.cut.isCut) {
      if (done !== undefined) {
        await done.stop();
        throw new Error('the start-up finished without reaching the crash point');
      }
      if (Date.now() - t0 > 20_000) throw new Error('no crash during start-up within 20 s');
      await new Promise((r) => setTimeout(r, 5));
    }
    const files = parts.files;
    await parts.cut.quiesce();
    await files.walFile.inner.close();
    await files.metaStore.close();
  }

  /**
   * Crashes the process: cuts every backend (calls in flight and later ones never settle),
   * halts the store,
   * waits for the calls that reached a real backend, then frees the WAL file descriptor and
   * the metadata directory lock so that a restart can open them. Nothing is flushed.
   */
  async crash(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.cut.cut();
    this.store.halt();
    await this.cut.quiesce();
    await this.walFile.inner.close();
    await this.metaStore.close();
  }

  /** A clean stop: closes the store (uploading everything), the WAL and the metadata store. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await this.store.close();
    } finally {
      await this.wal.close();
      await this.metaStore.close();
    }
  }
}

/** The backends of a process before its store starts (to arm hooks). */
export interface PartialProc {
  cut: Cut;
  metadata: CutMetadata;
  objects: CutObjectStore;
  /** @internal What a crash during the start must free. */
  files: { walFile: CutWalFile; metaStore: EmbeddedMetadataStore };
}
