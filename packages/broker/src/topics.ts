/**
 * Topics and their partitions, kept in the MetadataStore (`kafka/topics/<name>`). Each
 * partition is one stream of the stream layer; stream ids come from `kafka/next-stream-id`.
 * Every change is one compare-and-swap transaction; an in-memory copy serves lookups.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode } from '@tributary/protocol';
import type { Compare, MetadataStore, TxnOp } from '@tributary/stream';
import { KafkaError } from './errors.ts';
import { InvalidConfigError, validateTopicConfig } from './topic-config.ts';

/** Value of `kafka/topics/<name>`. */
export interface TopicRecord {
  name: string;
  /** Topic id, a UUID as the protocol's base64url string. */
  id: string;
  partitions: { streamId: number }[];
  /** Config overrides by Kafka name. */
  configs: Record<string, string>;
  createdAt: number;
}

const TOPICS_PREFIX = 'kafka/topics/';
const NEXT_STREAM_ID_KEY = 'kafka/next-stream-id';
/** Most partitions of one topic (its record must fit one metadata value of 1 MiB). */
export const PARTITIONS_MAX = 50_000;

/** Kafka's legal topic names: 1–249 of [a-zA-Z0-9._-], not "." or "..". */
export function checkTopicName(name: string): void {
  if (name.length === 0) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, 'topic name is empty');
  if (name === '.' || name === '..')
    throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `topic name cannot be "${name}"`);
  if (name.length > 249)
    throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, 'topic name is longer than 249 characters');
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) {
    throw new KafkaError(
      ErrorCode.INVALID_TOPIC_EXCEPTION,
      `topic name "${name}" has characters other than ASCII alphanumerics, '.', '_' and '-'`,
    );
  }
}

function newTopicId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    // Kafka reserves the zero UUID and the one with only the last bit set.
    if (id !== 'AAAAAAAAAAAAAAAAAAAAAA' && id !== 'AAAAAAAAAAAAAAAAAAAAAQ') return id;
  }
}

function checkConfigs(configs: Record<string, string>): void {
  for (const [k, v] of Object.entries(configs)) {
    try {
      validateTopicConfig(k, v);
    } catch (err) {
      if (err instanceof InvalidConfigError) throw new KafkaError(ErrorCode.INVALID_CONFIG, err.message);
      throw err;
    }
  }
}

/** The topics of the cluster. */
export class TopicStore {
  private readonly byName = new Map<string, { rec: TopicRecord; value: Buffer }>();
  private readonly byId = new Map<string, string>();

  private constructor(private readonly metadata: MetadataStore) {}

  /** Loads every topic record. */
  static async load(metadata: MetadataStore): Promise<TopicStore> {
    const t = new TopicStore(metadata);
    let after: string | undefined;
    for (;;) {
      const page = await metadata.range(TOPICS_PREFIX, after === undefined ? {} : { after });
      for (const kv of page.kvs) t.remember(JSON.parse(kv.value.toString('utf8')) as TopicRecord, kv.value);
      if (!page.more || page.kvs.length === 0) break;
      after = page.kvs[page.kvs.length - 1]!.key;
    }
    return t;
  }

  private remember(rec: TopicRecord, value: Buffer): void {
    this.byName.set(rec.name, { rec, value });
    this.byId.set(rec.id, rec.name);
  }

  get(name: string): TopicRecord | undefined {
    return this.byName.get(name)?.rec;
  }

  nameOfId(id: string): string | undefined {
    return this.byId.get(id);
  }

  list(): TopicRecord[] {
    return [...this.byName.values()].map((e) => e.rec);
  }

  /**
   * Creates a topic (or only validates when `validateOnly`). Errors: TOPIC_ALREADY_EXISTS,
   * INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS, INVALID_CONFIG.
   */
  async create(
    name: string,
    partitions: number,
    configs: Record<string, string>,
    validateOnly = false,
  ): Promise<TopicRecord> {
    checkTopicName(name);
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > PARTITIONS_MAX) {
      throw new KafkaError(
        ErrorCode.INVALID_PARTITIONS,
        `number of partitions must be in [1, ${PARTITIONS_MAX}]`,
      );
    }
    checkConfigs(configs);
    if (this.byName.has(name))
      throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic '${name}' already exists`);
    const collision = [...this.byName.keys()].find((n) => n.replace(/\./g, '_') === name.replace(/\./g, '_'));
    if (collision !== undefined) {
      throw new KafkaError(
        ErrorCode.INVALID_TOPIC_EXCEPTION,
        `topic '${name}' collides with existing topic '${collision}' ('.' and '_' are interchangeable in metric names)`,
      );
    }
    const rec: TopicRecord = {
      name,
      id: newTopicId(),
      partitions: [],
      configs: { ...configs },
      createdAt: Date.now(),
    };
    if (validateOnly) {
      for (let i = 0; i < partitions; i++) rec.partitions.push({ streamId: -1 });
      return rec;
    }
    const key = TOPICS_PREFIX + name;
    for (;;) {
      const { first, guard } = await this.reserveStreamIds();
      rec.partitions = [];
      for (let i = 0; i < partitions; i++) rec.partitions.push({ streamId: first + i });
      const value = Buffer.from(JSON.stringify(rec));
      const res = await this.metadata.txn({
        compare: [guard, { key, target: 'exists', op: '==', value: false }],
        success: [
          { type: 'put', key: NEXT_STREAM_ID_KEY, value: Buffer.from(String(first + partitions)) },
          { type: 'put', key, value },
        ],
      });
      if (res.succeeded) {
        this.remember(rec, value);
        return rec;
      }
      const existing = await this.metadata.get(key);
      if (existing !== undefined) {
        this.remember(JSON.parse(existing.value.toString('utf8')) as TopicRecord, existing.value);
        throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic '${name}' already exists`);
      }
    }
  }

  /** Deletes a topic; returns its record (its streams are then deleted by the caller). */
  async delete(name: string): Promise<TopicRecord> {
    const key = TOPICS_PREFIX + name;
    for (;;) {
      const kv = await this.metadata.get(key);
      if (kv === undefined) {
        this.forget(name);
        throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`);
      }
      const res = await this.metadata.txn({
        compare: [{ key, target: 'value', op: '==', value: kv.value }],
        success: [{ type: 'delete', key }],
      });
      if (res.succeeded) {
        const rec = JSON.parse(kv.value.toString('utf8')) as TopicRecord;
        this.forget(name);
        return rec;
      }
    }
  }

  private forget(name: string): void {
    const e = this.byName.get(name);
    if (e === undefined) return;
    this.byName.delete(name);
    this.byId.delete(e.rec.id);
  }

  /** Grows a topic to `count` partitions (INVALID_PARTITIONS unless it grows). */
  async addPartitions(name: string, count: number, validateOnly = false): Promise<TopicRecord> {
    return this.update(name, async (rec) => {
      if (!Number.isInteger(count) || count > PARTITIONS_MAX) {
        throw new KafkaError(
          ErrorCode.INVALID_PARTITIONS,
          `number of partitions must be at most ${PARTITIONS_MAX}`,
        );
      }
      if (count <= rec.partitions.length) {
        throw new KafkaError(
          ErrorCode.INVALID_PARTITIONS,
          `topic '${name}' has ${rec.partitions.length} partitions; the new count must be larger, got ${count}`,
        );
      }
      if (validateOnly) return undefined;
      const extra = count - rec.partitions.length;
      const { first, guard } = await this.reserveStreamIds();
      const next: TopicRecord = { ...rec, partitions: [...rec.partitions] };
      for (let i = 0; i < extra; i++) next.partitions.push({ streamId: first + i });
      return {
        next,
        compare: [guard],
        success: [{ type: 'put', key: NEXT_STREAM_ID_KEY, value: Buffer.from(String(first + extra)) }],
      };
    });
  }

  /** Replaces a topic's config overrides (validated). */
  async setConfigs(
    name: string,
    configs: Record<string, string>,
    validateOnly = false,
  ): Promise<TopicRecord> {
    checkConfigs(configs);
    return this.update(name, async (rec) =>
      validateOnly ? undefined : { next: { ...rec, configs: { ...configs } }, compare: [], success: [] },
    );
  }

  private async update(
    name: string,
    change: (
      rec: TopicRecord,
    ) => Promise<{ next: TopicRecord; compare: Compare[]; success: TxnOp[] } | undefined>,
  ): Promise<TopicRecord> {
    const key = TOPICS_PREFIX + name;
    for (;;) {
      const kv = await this.metadata.get(key);
      if (kv === undefined)
        throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`);
      const rec = JSON.parse(kv.value.toString('utf8')) as TopicRecord;
      const c = await change(rec);
      if (c === undefined) return rec;
      const value = Buffer.from(JSON.stringify(c.next));
      const res = await this.metadata.txn({
        compare: [{ key, target: 'value', op: '==', value: kv.value }, ...c.compare],
        success: [{ type: 'put', key, value }, ...c.success],
      });
      if (res.succeeded) {
        this.remember(c.next, value);
        return c.next;
      }
    }
  }

  private async reserveStreamIds(): Promise<{ first: number; guard: Compare }> {
    const kv = await this.metadata.get(NEXT_STREAM_ID_KEY);
    if (kv === undefined)
      return { first: 1, guard: { key: NEXT_STREAM_ID_KEY, target: 'exists', op: '==', value: false } };
    return {
      first: Number(kv.value.toString('utf8')),
      guard: { key: NEXT_STREAM_ID_KEY, target: 'revision', op: '==', value: kv.revision },
    };
  }
}
