import { spawnSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualMetadataClock } from '../src/metadata/clock.ts';
import { EmbeddedMetadataStore, LOG_FILE, SNAPSHOT_FILE } from '../src/metadata/embedded.ts';
import { LOCK_FILE } from '../src/metadata/lock.ts';
import type { KeyValue, MetadataStore } from '../src/metadata/types.ts';
import { tempDir } from './metadata-fs.ts';
import { b, expectKind, take } from './metadata-helpers.ts';

const opened: MetadataStore[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

async function openStore(dir: string, clock = new ManualMetadataClock(), snapshotLogBytes?: number) {
  const s = await EmbeddedMetadataStore.open(dir, {
    clock,
    leaseCheckIntervalMs: 0,
    ...(snapshotLogBytes !== undefined && { snapshotLogBytes }),
  });
  opened.push(s);
  return s;
}

async function dump(s: MetadataStore): Promise<KeyValue[]> {
  const out: KeyValue[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await s.range('', { limit: 100, ...(after !== undefined && { after }) });
    out.push(...page.kvs);
    if (!page.more) return out;
    after = page.kvs.at(-1)!.key;
  }
}

describe('EmbeddedMetadataStore', () => {
  it('keeps keys, revisions and leases across close and reopen', async () => {
    const dir = await tempDir();
    const s = await openStore(dir);
    const lease = await s.grantLease(1000);
    await s.put('a', b('1'));
    await s.put('a', b('2'));
    await s.put('leased', b('x'), { lease: lease.id });
    await s.txn({
      success: [
        { type: 'put', key: 'c', value: b('3') },
        { type: 'delete', key: 'nothing' },
      ],
    });
    const before = await dump(s);
    const rev = await s.revision();
    await s.close();

    const clock = new ManualMetadataClock(50_000);
    const r = await openStore(dir, clock);
    expect(r.openInfo).toEqual({ snapshotRevision: 0, replayedRecords: 5, discardedLogBytes: 0 });
    expect(await dump(r)).toEqual(before);
    expect(await r.revision()).toBe(rev);
    // History of the replayed log serves watches from old revisions.
    expect((await take(r.watch('a', { fromRevision: 1 }), 2)).map((e) => e.value.toString())).toEqual([
      '1',
      '2',
    ]);
    // The lease survived with its full TTL counted from the reopen, and a new lease gets a new id.
    expect((await r.grantLease(10)).id).not.toBe(lease.id);
    clock.advance(999);
    expect(await r.get('leased')).toBeDefined();
    expect(await r.keepAlive(lease.id)).toEqual({ ttlMs: 1000 });
    clock.advance(1000);
    expect(await r.get('leased')).toBeUndefined();
    expect(await r.revision()).toBe(rev + 1);
    await r.close();
    const again = await openStore(dir);
    expect(await again.get('leased')).toBeUndefined();
    await expectKind(again.keepAlive(lease.id), 'not-found');
  });

  it('snapshots and truncates the log to bound it, and reopens from snapshot + log', async () => {
    const dir = await tempDir();
    const s = await openStore(dir, undefined, 2048);
    let maxLog = 0;
    for (let i = 0; i < 300; i++) {
      await s.put(`k/${i % 37}`, b(`value-${i}`));
      maxLog = Math.max(maxLog, s.logSizeBytes);
    }
    expect(maxLog).toBeLessThan(2048 + 100);
    expect((await stat(join(dir, LOG_FILE))).size).toBe(s.logSizeBytes);
    const before = await dump(s);
    await s.close();
    const r = await openStore(dir);
    expect(r.openInfo.snapshotRevision).toBeGreaterThan(250);
    expect(r.openInfo.replayedRecords).toBe(300 - r.openInfo.snapshotRevision);
    expect(await dump(r)).toEqual(before);
    expect(await r.revision()).toBe(300);
    await expectKind(r.watch('', { fromRevision: 1 })[Symbol.asyncIterator]().next(), 'compacted');

    await r.snapshot();
    expect(r.logSizeBytes).toBe(0);
    expect((await stat(join(dir, LOG_FILE))).size).toBe(0);
  });

  it('skips log records already in the snapshot (crash between snapshot and log truncation)', async () => {
    const dir = await tempDir();
    const s = await openStore(dir);
    for (let i = 0; i < 20; i++) await s.put(`k${i % 3}`, b(String(i)));
    const oldLog = await readFile(join(dir, LOG_FILE));
    await s.snapshot();
    const before = await dump(s);
    await s.close();
    await writeFile(join(dir, LOG_FILE), oldLog);
    const r = await openStore(dir);
    expect(r.openInfo).toMatchObject({ snapshotRevision: 20, replayedRecords: 0 });
    expect(await dump(r)).toEqual(before);
    await r.put('k9', b('after'));
    await r.close();
    const again = await openStore(dir);
    expect(await again.revision()).toBe(21);
    expect((await again.get('k9'))!.value).toEqual(b('after'));
  });

  it('refuses a corrupt snapshot with a clear error', async () => {
    const dir = await tempDir();
    const s = await openStore(dir);
    await s.put('a', b('1'));
    await s.snapshot();
    await s.close();
    const snap = await readFile(join(dir, SNAPSHOT_FILE));
    snap[snap.length - 1]! ^= 0xff;
    await writeFile(join(dir, SNAPSHOT_FILE), snap);
    const err = await expectKind(EmbeddedMetadataStore.open(dir), 'invalid');
    expect(err.message).toMatch(/corrupt metadata snapshot/);
    // The failed open released the lock.
    await expectKind(EmbeddedMetadataStore.open(dir), 'invalid');
  });

  it('locks its directory: a second open fails until the first closes; a dead owner’s lock is taken over', async () => {
    const dir = await tempDir();
    const s = await openStore(dir);
    const err = await expectKind(EmbeddedMetadataStore.open(dir), 'unavailable');
    expect(err.message).toMatch(/already open by this process/);
    await s.close();
    const r = await openStore(dir);
    await r.close();

    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    await writeFile(join(dir, LOCK_FILE), `${dead}\n`);
    const t = await openStore(dir);
    expect((await readFile(join(dir, LOCK_FILE), 'utf8')).trim()).toBe(String(process.pid));
    await t.close();
  });

  it('a second process cannot open a directory this process holds', async () => {
    const dir = await tempDir();
    const s = await openStore(dir);
    await s.put('a', b('1'));
    const script = `
      import { EmbeddedMetadataStore } from ${JSON.stringify(new URL('../src/metadata/embedded.ts', import.meta.url).href)};
      try { await EmbeddedMetadataStore.open(${JSON.stringify(dir)}); console.log('opened'); }
      catch (e) { console.log(e.kind + ': ' + e.message); }
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(child.stderr).toBe('');
    expect(child.stdout).toMatch(new RegExp(`^unavailable: .*already open by process ${process.pid}`));
  });
});
