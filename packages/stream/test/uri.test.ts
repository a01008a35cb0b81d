import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openObjectStore } from '../src/object-store/uri.ts';
import { expectKind } from './object-store-contract.ts';
import { useS3Server } from './s3-server.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('openObjectStore', () => {
  const s3 = useS3Server('uri-bucket');

  it('memory:// is fresh each time; memory://name is shared', async () => {
    const a = openObjectStore('memory://');
    const b = openObjectStore('memory://');
    await a.put('k', Buffer.from('a'));
    await expectKind(b.get('k'), 'not-found');
    const n1 = openObjectStore('memory://uri-test-shared');
    const n2 = openObjectStore('memory://uri-test-shared');
    await n1.put('k', Buffer.from('shared'));
    await n1.close();
    expect((await n2.get('k')).toString()).toBe('shared');
    expect(n2.description).toBe('memory://uri-test-shared');
    expect(n2.capabilities.conditionalPut).toBe(true);
  });

  it('file:///abs/dir and file://relative/dir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tributary-uri-'));
    dirs.push(dir);
    const store = openObjectStore(`file://${dir}/store`);
    expect(store.description).toBe(`file://${dir}/store`);
    await store.put('x/y', Buffer.from('file'));
    expect((await openObjectStore(`file://${dir}/store`).get('x/y')).toString()).toBe('file');
    expect(openObjectStore('file://relative/dir').description).toBe(`file://${resolve('relative/dir')}`);
    expect(openObjectStore('file:///tmp/with%20space').description).toBe('file:///tmp/with space');
  });

  it('s3://bucket/prefix?… on moto, with and without conditional put', async () => {
    const server = s3();
    const store = openObjectStore(server.uri('uri/prefix', '&conditionalPut=true'));
    expect(store.capabilities.conditionalPut).toBe(true);
    expect(store.description).toBe(`s3://${server.bucket}/uri/prefix (endpoint ${server.endpoint})`);
    expect(store.description).not.toMatch(/secret|test&/);
    await store.put('a/b', Buffer.from('s3'), { ifNoneMatch: '*' });
    await expectKind(store.put('a/b', Buffer.from('again'), { ifNoneMatch: '*' }), 'precondition-failed');
    const other = openObjectStore(server.uri('uri'));
    expect(other.capabilities.conditionalPut).toBe(false);
    expect((await other.list()).objects.map((o) => o.key)).toEqual(['prefix/a/b']);
    expect((await other.get('prefix/a/b')).toString()).toBe('s3');
    await expectKind(other.put('z', Buffer.from('x'), { ifNoneMatch: '*' }), 'unsupported');
    await store.close();
    await other.close();
  });

  it('wraps backends with retries: a dead endpoint is retried, then reported retriable', async () => {
    const sleeps: number[] = [];
    const store = openObjectStore(
      's3://bucket/p?endpoint=http://127.0.0.1:1&region=us-east-1&forcePathStyle=true&accessKeyId=a&secretAccessKey=b',
      { attemptsMax: 3, sleep: async (ms) => void sleeps.push(ms) },
    );
    const error = await expectKind(store.head('k'), 'retriable');
    expect(error.message).toMatch(/gave up after 3 attempts/);
    expect(sleeps.length).toBe(2);
    await store.close();
  });

  it.each([
    ['nonsense', /expected <scheme>/],
    ['ftp://host/x', /unknown scheme 'ftp'/],
    ['memory://bad name', /memory store names/],
    ['file://', /missing directory/],
    ['file:///', /missing directory/],
    ['file:///x?y=1', /no query/],
    ['s3://', /missing bucket|not a parsable/],
    ['s3://Bad_Bucket/x', /bad bucket name/],
    ['s3://bucket:9000/x', /endpoint/],
    ['s3://bucket/x?bogus=1', /unknown parameter 'bogus'/],
    ['s3://bucket/x?forcePathStyle=maybe', /forcePathStyle must be true or false/],
    ['s3://bucket/x?conditionalPut=yes', /conditionalPut must be true or false/],
    ['s3://bucket/x?accessKeyId=a', /go together/],
    ['s3://bucket/x?endpoint=localhost:9000', /not an http\(s\) URL/],
    ['s3://bucket/x?region=', /empty region/],
    ['s3://bucket/x?accessKeyId=a&secretAccessKey=hunter2&bogus=1', /secretAccessKey=\*\*\*/],
  ])('rejects %s', (uri, message) => {
    let caught: unknown;
    try {
      openObjectStore(uri);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ name: 'ObjectStoreError', kind: 'invalid' });
    expect((caught as Error).message).toMatch(message);
    expect((caught as Error).message).not.toMatch(/hunter2/);
  });
});
