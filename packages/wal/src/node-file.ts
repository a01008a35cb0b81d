/**
 * The default {@link WalFile}: node:fs with the callback API (it measured a little faster than
 * `fs/promises` FileHandle for write + fdatasync latency: no promise wrapper per call).
 *
 * New regular files are created under a temporary name, filled with real zero blocks (not
 * sparse, not fallocate'd unwritten extents) so the first lap of fdatasyncs does not also pay
 * for block allocation and extent conversion, fsync'ed, renamed into place and the directory
 * fsync'ed. Block devices keep their size (read from /sys/dev/block/MAJ:MIN/size).
 */
import * as fs from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { WalFile, WalFileOpener } from './io.ts';

/** Zero chunk used to preallocate new files. */
const FILL_CHUNK_BYTES = 4 * 1024 * 1024;

function writevAt(fd: number, bufs: readonly Uint8Array[], pos: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.writev(fd, bufs as Uint8Array[], pos, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** Drops the first `n` bytes of `bufs` (zero-copy subarrays). */
function skipBytes(bufs: readonly Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let left = n;
  for (const b of bufs) {
    if (left >= b.length) {
      left -= b.length;
      continue;
    }
    out.push(left > 0 ? b.subarray(left) : b);
    left = 0;
  }
  return out;
}

class NodeWalFile implements WalFile {
  readonly size: number;
  private fd: number;
  private readonly dsync: boolean;

  constructor(fd: number, size: number, dsync: boolean) {
    this.fd = fd;
    this.size = size;
    this.dsync = dsync;
  }

  async writev(buffers: readonly Uint8Array[], position: number): Promise<void> {
    let total = 0;
    for (const b of buffers) total += b.length;
    if (position < 0 || position + total > this.size) {
      throw new RangeError(`write [${position}, ${position + total}) outside the file (${this.size} bytes)`);
    }
    let bufs = buffers;
    let pos = position;
    let left = total;
    while (left > 0) {
      const n = await writevAt(this.fd, bufs, pos);
      if (n <= 0) throw new Error(`writev wrote ${n} bytes at ${pos}`);
      left -= n;
      pos += n;
      if (left > 0) bufs = skipBytes(bufs, n);
    }
  }

  read(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    return new Promise((resolve, reject) => {
      const step = (done: number): void => {
        if (done === length) {
          resolve(buf);
          return;
        }
        fs.read(this.fd, buf, done, length - done, position + done, (err, n) => {
          if (err) reject(err);
          else if (n === 0) reject(new Error(`short read at ${position + done} (wanted ${length - done})`));
          else step(done + n);
        });
      };
      step(0);
    });
  }

  datasync(): Promise<void> {
    // With O_DSYNC every completed write is already durable: nothing left to flush.
    if (this.dsync) return Promise.resolve();
    return new Promise((resolve, reject) => fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  close(): Promise<void> {
    const fd = this.fd;
    this.fd = -1;
    if (fd < 0) return Promise.resolve();
    return new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve())));
  }
}

function blockDeviceSize(st: fs.Stats): number {
  const major = Math.floor(st.rdev / 256) & 0xfff;
  const minor = (st.rdev & 0xff) | ((Math.floor(st.rdev / 0x100000) & 0xfff) << 8);
  const sectors = Number(fs.readFileSync(`/sys/dev/block/${major}:${minor}/size`, 'utf8').trim());
  return sectors * 512;
}

/** Creates `path` with `sizeBytes` of real zero blocks, crash-safely (temp file + rename). */
async function createPreallocated(path: string, sizeBytes: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.creating`);
  const fh = await fs.promises.open(tmp, 'w', 0o644);
  try {
    const zero = Buffer.alloc(Math.min(FILL_CHUNK_BYTES, sizeBytes));
    for (let pos = 0; pos < sizeBytes; pos += zero.length) {
      const n = Math.min(zero.length, sizeBytes - pos);
      await fh.write(zero, 0, n, pos);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, path);
  const dir = await fs.promises.open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * Opens the WAL file at `path` read-write. A missing file is created with `sizeBytes` of
 * zero blocks; an existing file or block device keeps its own size.
 */
export const openNodeWalFile: WalFileOpener = (path, sizeBytes) =>
  openNodeWalFileWith(path, sizeBytes, {
    sync: process.env.TRIBUTARY_WAL_SYNC === 'dsync' ? 'dsync' : 'fdatasync',
  });

/** How a node:fs WalFile makes writes durable. */
export interface NodeWalFileOptions {
  /**
   * 'fdatasync' (default): plain writes, `datasync()` calls fdatasync — two thread-pool round
   * trips per group. 'dsync': the file is opened with O_DSYNC, so each write returns only once
   * durable and `datasync()` has nothing left to do — one round trip per group.
   */
  sync: 'fdatasync' | 'dsync';
}

export async function openNodeWalFileWith(
  path: string,
  sizeBytes: number,
  o: NodeWalFileOptions,
): Promise<WalFile> {
  if (!fs.existsSync(path)) await createPreallocated(path, sizeBytes);
  const dsync = o.sync === 'dsync';
  const fd = fs.openSync(path, fs.constants.O_RDWR | (dsync ? fs.constants.O_DSYNC : 0));
  try {
    const st = fs.fstatSync(fd);
    const size = st.isBlockDevice() ? blockDeviceSize(st) : st.size;
    return new NodeWalFile(fd, size, dsync);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}
