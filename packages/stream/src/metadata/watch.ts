import { MetadataError, type Watch, type WatchEvent } from './types.ts';

/** A watch with a bounded buffer, fed one revision at a time by its store. */
export class BufferedWatch implements Watch {
  private buffer: WatchEvent[] = [];
  private head = 0;
  private error: MetadataError | undefined;
  private ended = false;
  private wake: (() => void) | undefined;
  private readonly iterator: AsyncIterator<WatchEvent> = {
    next: () => this.next(),
    return: async () => {
      this.close();
      return { done: true, value: undefined };
    },
  };

  /**
   * @param prefix keys reported
   * @param bufferEventsMax events held for a slow reader before it is cut off ('compacted')
   * @param detach called once when the watch stops receiving events
   * @param fromRevision first revision reported
   */
  constructor(
    readonly prefix: string,
    private readonly bufferEventsMax: number,
    private readonly detach: (w: BufferedWatch) => void,
    /** Events of older revisions are not reported. */
    private readonly fromRevision = 0,
  ) {}

  /** Offer the events of one revision; those matching the prefix are buffered. */
  offer(events: readonly WatchEvent[]): void {
    if (this.ended || this.error !== undefined) return;
    const matching = events.filter((e) => e.revision >= this.fromRevision && e.key.startsWith(this.prefix));
    if (matching.length === 0) return;
    if (this.buffer.length - this.head + matching.length > this.bufferEventsMax) {
      const revision = matching[0]!.revision;
      this.fail(
        new MetadataError(
          'compacted',
          `watch on '${this.prefix}' fell more than ${this.bufferEventsMax} events behind; resume from revision ${revision}`,
          { revision },
        ),
      );
      return;
    }
    for (const e of matching) this.buffer.push({ ...e, value: Buffer.from(e.value) });
    this.notify();
  }

  /** End the watch with an error, after the events already buffered. */
  fail(error: MetadataError): void {
    if (this.ended || this.error !== undefined) return;
    this.error = error;
    this.detach(this);
    this.notify();
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.buffer = [];
    this.head = 0;
    this.detach(this);
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async next(): Promise<IteratorResult<WatchEvent>> {
    for (;;) {
      if (this.ended) return { done: true, value: undefined };
      if (this.head < this.buffer.length) {
        const value = this.buffer[this.head++]!;
        if (this.head === this.buffer.length) {
          this.buffer = [];
          this.head = 0;
        }
        return { done: false, value };
      }
      if (this.error !== undefined) {
        this.ended = true;
        throw this.error;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** Every call returns the same iterator: iterating again continues where the last one stopped. */
  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return this.iterator;
  }
}
