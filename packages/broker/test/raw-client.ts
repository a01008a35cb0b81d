/** A minimal Kafka client over one socket for broker tests: typed request/response by api key and version. */
import { connect, type Socket } from 'node:net';
import { decodeResponse, encodeRequest } from '@tributary/protocol';

export class RawClient {
  private buf: Buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { apiKey: number; version: number; resolve: (b: unknown) => void; reject: (e: Error) => void }
  >();
  private closedErr: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.fail(new Error('connection closed')));
    socket.on('error', (e) => this.fail(e));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** Sends a request and resolves with the decoded response body. */
  request<T = any>(apiKey: number, version: number, body: unknown): Promise<T> {
    if (this.closedErr) return Promise.reject(this.closedErr);
    const correlationId = this.nextId++;
    const frames = encodeRequest(
      { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId: 'raw-test' } as never,
      body,
    );
    return new Promise<T>((resolve, reject) => {
      this.pending.set(correlationId, { apiKey, version, resolve: resolve as (b: unknown) => void, reject });
      for (const f of frames) this.socket.write(f);
    });
  }

  /** Sends a request that gets no response (Produce acks=0). */
  send(apiKey: number, version: number, body: unknown): void {
    const frames = encodeRequest(
      {
        requestApiKey: apiKey,
        requestApiVersion: version,
        correlationId: this.nextId++,
        clientId: 'raw-test',
      } as never,
      body,
    );
    for (const f of frames) this.socket.write(f);
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 4) {
      const size = this.buf.readInt32BE(0);
      if (this.buf.length < 4 + size) return;
      const frame = this.buf.subarray(4, 4 + size);
      this.buf = this.buf.subarray(4 + size);
      const id = frame.readInt32BE(0);
      const p = this.pending.get(id);
      if (!p) continue;
      this.pending.delete(id);
      try {
        p.resolve(decodeResponse(p.apiKey, p.version, frame).body);
      } catch (err) {
        p.reject(err as Error);
      }
    }
  }

  private fail(err: Error): void {
    this.closedErr ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
