/**
 * S3 (and S3-compatible) object store on @aws-sdk/client-s3. Bodies above
 * `multipartThresholdBytes` are uploaded as multipart (parts of `partSizeBytes`, a bounded
 * number in flight); ranged reads are ranged GETs; listings are ListObjectsV2 pages;
 * deleteMany sends DeleteObjects batches of 1000 keys. The SDK's own retries are off
 * (`maxAttempts: 1`): retrying is the job of the retry layer (retry.ts).
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import {
  bodyParts,
  forEachBounded,
  resolveMaxKeys,
  resolveRange,
  throwIfAborted,
  validateKey,
  validatePrefix,
  validateRange,
} from './common.ts';
import { kindOfS3Code, mapS3Error } from './s3-errors.ts';
import {
  type GetOptions,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  type ObjectStore,
  ObjectStoreError,
  type PutOptions,
} from './types.ts';

const MiB = 1024 * 1024;
/** Keys per DeleteObjects call (the S3 maximum). */
export const DELETE_BATCH_KEYS_MAX = 1000;

/** Options of {@link S3ObjectStore}. */
export interface S3ObjectStoreOptions {
  bucket: string;
  /** Key prefix inside the bucket (a `/` is added); keys are relative to it. */
  prefix?: string;
  /** e.g. `http://127.0.0.1:9000` for MinIO or moto; default: AWS. */
  endpoint?: string;
  /** Default: AWS_REGION, AWS_DEFAULT_REGION, else `us-east-1`. */
  region?: string;
  /** Path-style URLs (`endpoint/bucket/key`), needed by most S3-compatible servers. */
  forcePathStyle?: boolean;
  /** Static credentials; default: the standard AWS provider chain (env, profile, IMDS…). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** The server honours `If-None-Match: *` on PutObject/CompleteMultipartUpload. */
  conditionalPut?: boolean;
  /** Bodies larger than this go multipart; default 16 MiB. */
  multipartThresholdBytes?: number;
  /** Multipart part size; default 8 MiB (S3 minimum 5 MiB). */
  partSizeBytes?: number;
  /** Parts uploaded at once; default 4 (bounds memory to partConcurrency × partSizeBytes). */
  partConcurrency?: number;
  /** Socket inactivity timeout of one HTTP request; default 30 000 ms. */
  requestTimeoutMs?: number;
  /** TCP connect timeout; default 5 000 ms. */
  connectionTimeoutMs?: number;
}

/** {@link ObjectStore} on S3 or an S3-compatible server. */
export class S3ObjectStore implements ObjectStore {
  readonly capabilities: { readonly conditionalPut: boolean };
  readonly description: string;
  readonly bucket: string;
  private readonly base: string;
  private readonly client: S3Client;
  private readonly multipartThresholdBytes: number;
  private readonly partSizeBytes: number;
  private readonly partConcurrency: number;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.base = prefix === '' ? '' : `${prefix}/`;
    this.capabilities = { conditionalPut: options.conditionalPut ?? false };
    this.multipartThresholdBytes = options.multipartThresholdBytes ?? 16 * MiB;
    this.partSizeBytes = options.partSizeBytes ?? 8 * MiB;
    this.partConcurrency = options.partConcurrency ?? 4;
    if (this.partSizeBytes < 5 * MiB)
      throw new ObjectStoreError('invalid', 'partSizeBytes must be at least 5 MiB');
    const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
    this.client = new S3Client({
      region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle ?? false,
      credentials: options.credentials,
      maxAttempts: 1,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        requestTimeout: options.requestTimeoutMs ?? 30_000,
        // Without this the SDK only logs a timed-out request and it hangs for ever (a server
        // that never answers would stall uploads and then appends).
        throwOnRequestTimeout: true,
        connectionTimeout: options.connectionTimeoutMs ?? 5_000,
      },
    });
    const where = options.endpoint !== undefined ? ` (endpoint ${options.endpoint})` : ` (region ${region})`;
    this.description = `s3://${this.bucket}/${prefix}${where}`;
  }

  async put(key: string, body: Buffer | readonly Buffer[], options: PutOptions = {}): Promise<ObjectInfo> {
    validateKey(key);
    const { parts, size } = bodyParts(body);
    if (options.ifNoneMatch === '*' && !this.capabilities.conditionalPut) {
      throw new ObjectStoreError(
        'unsupported',
        `${this.description}: conditional put not enabled (conditionalPut=true)`,
      );
    }
    throwIfAborted(options.signal, `put ${key}`);
    if (size > this.multipartThresholdBytes) return this.putMultipart(key, parts, size, options);
    try {
      const res = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.base + key,
          Body: parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts as Buffer[], size),
          ContentLength: size,
          IfNoneMatch: options.ifNoneMatch,
        }),
        { abortSignal: options.signal },
      );
      return { key, size, etag: res.ETag };
    } catch (err) {
      throw mapS3Error(err, `put ${key}`);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Buffer> {
    validateKey(key);
    validateRange(options.start, options.end);
    throwIfAborted(options.signal, `get ${key}`);
    const start = options.start ?? 0;
    const end = options.end;
    if (end !== undefined && end === start) return this.emptyRange(key, start, end);
    const range =
      start > 0 || end !== undefined ? `bytes=${start}-${end !== undefined ? end - 1 : ''}` : undefined;
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.base + key, Range: range }),
        { abortSignal: options.signal },
      );
      const bytes = await (
        res.Body as { transformToByteArray(): Promise<Uint8Array> }
      ).transformToByteArray();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (err) {
      const mapped = mapS3Error(err, `get ${key}`);
      // 416: the start is at or past the end; at the end is an empty read, past it invalid.
      if (mapped.kind === 'invalid') return this.emptyRange(key, start, end);
      throw mapped;
    }
  }

  async head(key: string): Promise<ObjectInfo> {
    validateKey(key);
    try {
      const res = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.base + key }),
      );
      return {
        key,
        size: res.ContentLength ?? 0,
        etag: res.ETag,
        lastModifiedMs: res.LastModified?.getTime(),
      };
    } catch (err) {
      throw mapS3Error(err, `head ${key}`);
    }
  }

  async list(options: ListOptions = {}): Promise<ListPage> {
    const prefix = options.prefix ?? '';
    validatePrefix(prefix);
    const maxKeys = resolveMaxKeys(options.maxKeys);
    try {
      const res = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.base + prefix,
          MaxKeys: maxKeys,
          ContinuationToken: options.continuationToken,
        }),
      );
      const objects: ObjectInfo[] = (res.Contents ?? []).map((o) => ({
        key: (o.Key ?? '').slice(this.base.length),
        size: o.Size ?? 0,
        etag: o.ETag,
        lastModifiedMs: o.LastModified?.getTime(),
      }));
      const token = res.IsTruncated ? res.NextContinuationToken : undefined;
      return token !== undefined ? { objects, continuationToken: token } : { objects };
    } catch (err) {
      throw mapS3Error(err, 'list');
    }
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.base + key }));
    } catch (err) {
      const mapped = mapS3Error(err, `delete ${key}`);
      if (mapped.kind !== 'not-found') throw mapped;
    }
  }

  async deleteMany(keys: readonly string[]): Promise<{ failed: { key: string; error: ObjectStoreError }[] }> {
    const failed: { key: string; error: ObjectStoreError }[] = [];
    const valid: string[] = [];
    for (const key of keys) {
      try {
        validateKey(key);
        valid.push(key);
      } catch (err) {
        failed.push({ key, error: err as ObjectStoreError });
      }
    }
    for (let i = 0; i < valid.length; i += DELETE_BATCH_KEYS_MAX) {
      const batch = valid.slice(i, i + DELETE_BATCH_KEYS_MAX);
      try {
        const res = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((key) => ({ Key: this.base + key })), Quiet: true },
          }),
        );
        for (const e of res.Errors ?? []) {
          const key = (e.Key ?? '').slice(this.base.length);
          const kind = kindOfS3Code(e.Code ?? '');
          if (kind === 'not-found') continue;
          failed.push({
            key,
            error: new ObjectStoreError(kind, `delete ${key}: ${e.Code}: ${e.Message ?? ''}`),
          });
        }
      } catch (err) {
        const error = mapS3Error(err, `deleteMany (${batch.length} keys)`);
        for (const key of batch) failed.push({ key, error });
      }
    }
    return { failed };
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** A zero-length read at `start`: valid when the object exists and start ≤ its size. */
  private async emptyRange(key: string, start: number, end: number | undefined): Promise<Buffer> {
    const { size } = await this.head(key);
    const r = resolveRange(key, size, start, end);
    if (r.end > r.start)
      throw new ObjectStoreError('retriable', `get ${key}: unexpected 416 for [${start}, ${end})`);
    return Buffer.alloc(0);
  }

  private async putMultipart(
    key: string,
    parts: readonly Buffer[],
    size: number,
    options: PutOptions,
  ): Promise<ObjectInfo> {
    const Key = this.base + key;
    let uploadId: string | undefined;
    try {
      const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key }), {
        abortSignal: options.signal,
      });
      uploadId = created.UploadId;
      if (uploadId === undefined) throw new ObjectStoreError('fatal', `put ${key}: no UploadId`);
      const count = Math.ceil(size / this.partSizeBytes);
      const etags: string[] = new Array(count);
      const numbers = Array.from({ length: count }, (_, i) => i);
      await forEachBounded(numbers, this.partConcurrency, async (index) => {
        throwIfAborted(options.signal, `put ${key}`);
        const from = index * this.partSizeBytes;
        const body = sliceBody(parts, from, Math.min(size, from + this.partSizeBytes));
        const res = await this.client.send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key,
            UploadId: uploadId,
            PartNumber: index + 1,
            Body: body,
            ContentLength: body.length,
          }),
          { abortSignal: options.signal },
        );
        etags[index] = res.ETag ?? '';
      });
      const done = await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key,
          UploadId: uploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
          IfNoneMatch: options.ifNoneMatch,
        }),
        { abortSignal: options.signal },
      );
      return { key, size, etag: done.ETag };
    } catch (err) {
      if (uploadId !== undefined) {
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId }))
          .catch(() => {});
      }
      throw mapS3Error(err, `put ${key} (multipart)`);
    }
  }
}

/** Copies bytes [from, to) of a buffer list into one buffer (one part). */
function sliceBody(parts: readonly Buffer[], from: number, to: number): Buffer {
  const out = Buffer.allocUnsafe(to - from);
  let offset = 0;
  let written = 0;
  for (const part of parts) {
    const partEnd = offset + part.length;
    if (partEnd > from && offset < to) {
      const s = Math.max(from, offset) - offset;
      const e = Math.min(to, partEnd) - offset;
      written += part.copy(out, written, s, e);
    }
    offset = partEnd;
    if (offset >= to) break;
  }
  return out;
}
