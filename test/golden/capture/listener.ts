/**
 * A TCP listener on 127.0.0.1 (random port) that records every request frame a Kafka
 * client sends and answers it through a pluggable handler (see broker.ts), so real clients
 * proceed far enough to send the requests we want as golden fixtures.
 */
import net from 'node:net';
import { FrameSplitter, sizePrefixed } from './framing.ts';

/** One request frame as the client sent it (payload without the 4-byte size prefix). */
export interface CapturedFrame {
  /** Order of arrival across all connections of this listener. */
  seq: number;
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  /** Client id from the request header (null when the client sent a null string). */
  clientId: string | null;
  /** Label of the scenario running when the frame arrived (set by the recorder). */
  scenario: string;
  bytes: Buffer;
}

/** The fixed prefix every request header version shares (v0 has no client id). */
export interface RequestPrefix {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
}

/**
 * Answers one request: returns the response payload (header + body, no size prefix), or
 * null when the request gets no response (Produce with acks=0).
 */
export type RequestHandler = (frame: CapturedFrame) => Buffer | Buffer[] | null;

/** Reads the api key, version and correlation id without the generated codecs. */
export function readPrefix(bytes: Buffer): RequestPrefix {
  if (bytes.length < 8) throw new Error(`request frame of ${bytes.length} bytes is too short`);
  return {
    apiKey: bytes.readInt16BE(0),
    apiVersion: bytes.readInt16BE(2),
    correlationId: bytes.readInt32BE(4),
  };
}

/** Reads the (int16-length, nullable) client id that request headers v1 and v2 carry. */
export function readClientId(bytes: Buffer): string | null {
  if (bytes.length < 10) return null;
  const len = bytes.readInt16BE(8);
  if (len < 0 || 10 + len > bytes.length) return null;
  return bytes.toString('utf8', 10, 10 + len);
}

/** A running capture listener. */
export class CaptureListener {
  readonly frames: CapturedFrame[] = [];
  /** Errors raised by the handler (the connection is closed on each). */
  readonly errors: Error[] = [];
  scenario = '';
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private seq = 0;

  private constructor(
    private readonly handler: RequestHandler,
    readonly maxFramesKept: number,
  ) {
    this.server = net.createServer((socket) => this.onConnection(socket));
  }

  /** Starts a listener on 127.0.0.1 with an OS-chosen port. */
  static async start(handler: RequestHandler, maxFramesKept = 10_000): Promise<CaptureListener> {
    const l = new CaptureListener(handler, maxFramesKept);
    await new Promise<void>((resolve, reject) => {
      l.server.once('error', reject);
      l.server.listen(0, '127.0.0.1', () => resolve());
    });
    return l;
  }

  /** The port the listener is bound to. */
  get port(): number {
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('listener not bound');
    return addr.port;
  }

  /** `host:port` for client bootstrap settings. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Closes every connection and the server. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const splitter = new FrameSplitter();
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const bytes of splitter.push(chunk)) this.onFrame(socket, bytes);
      } catch (err) {
        this.errors.push(err instanceof Error ? err : new Error(String(err)));
        socket.destroy();
      }
    });
  }

  private onFrame(socket: net.Socket, bytes: Buffer): void {
    const prefix = readPrefix(bytes);
    const frame: CapturedFrame = {
      seq: this.seq++,
      ...prefix,
      clientId: readClientId(bytes),
      scenario: this.scenario,
      bytes,
    };
    if (this.frames.length < this.maxFramesKept) this.frames.push(frame);
    const response = this.handler(frame);
    if (response === null) return;
    socket.write(sizePrefixed(Array.isArray(response) ? response : [response]));
  }
}
