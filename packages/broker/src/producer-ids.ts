/**
 * Producer ids for InitProducerId, from a counter in the MetadataStore
 * (`kafka/next-producer-id`), reserved in blocks so that most calls need no transaction.
 */
import type { MetadataStore } from '@tributary/stream';

const KEY = 'kafka/next-producer-id';
const BLOCK = 1000;

export class ProducerIds {
  private next = 0;
  private end = 0;
  private reserving: Promise<void> | undefined;

  constructor(private readonly metadata: MetadataStore) {}

  /** A producer id never handed out before (by this or any earlier run). */
  async allocate(): Promise<bigint> {
    while (this.next >= this.end) {
      this.reserving ??= this.reserve().finally(() => {
        this.reserving = undefined;
      });
      await this.reserving;
    }
    return BigInt(this.next++);
  }

  private async reserve(): Promise<void> {
    for (;;) {
      const kv = await this.metadata.get(KEY);
      const first = kv === undefined ? 0 : Number(kv.value.toString('utf8'));
      const res = await this.metadata.txn({
        compare: [
          kv === undefined
            ? { key: KEY, target: 'exists', op: '==', value: false }
            : { key: KEY, target: 'revision', op: '==', value: kv.revision },
        ],
        success: [{ type: 'put', key: KEY, value: Buffer.from(String(first + BLOCK)) }],
      });
      if (res.succeeded) {
        this.next = first;
        this.end = first + BLOCK;
        return;
      }
    }
  }
}
