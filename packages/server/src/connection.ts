/**
 * One client connection: frames in, handler calls, responses out in request order.
 *
 * Requests are read and dispatched as they arrive (pipelining); handlers may finish in any
 * order, and a response waits in a queue until every earlier one has been written. Reading
 * stops (socket.pause) while the requests in flight or their bytes reach the limits, or while
 * the socket's write buffer is above its high-water mark, and resumes as they drain.
 */
import type { Socket } from 'node:net';
import {
  decodeRequest,
  decodeRequestHeader,
  ErrorCode,
  encodeResponse,
  Reader,
  type RequestHeader,
  requestHeaderVersion,
} from '@tributary/protocol';
import { EMPTY_API_VERSIONS_REQUEST } from './api-versions.ts';
import { FrameReader, type FrameSizeError } from './frame-reader.ts';
import { type ApiHandler, type Logger, NO_RESPONSE, type RequestContext } from './types.ts';

const API_VERSIONS_KEY = 18;

/** What a connection needs from its server. */
export interface ConnectionHost {
  /** Handlers indexed by api key (holes for keys not served). */
  readonly handlers: readonly (ApiHandler | undefined)[];
  readonly maxFrameBytes: number;
  readonly inFlightBytesMax: number;
  readonly inFlightRequestsMax: number;
  readonly idleTimeoutMs: number;
  readonly logger: Logger;
  readonly counters: {
    requests: number;
    bytesIn: number;
    bytesOut: number;
    handlerErrors: number;
    connectionsClosedOnError: number;
    connectionsIdleClosed: number;
  };
  connectionClosed(c: Connection): void;
}

/** A request whose response cannot be written yet (handler running, or an earlier one is). */
class Pending {
  next: Pending | null = null;
  done = false;
  /** Encoded response; null for NO_RESPONSE (or before done). */
  out: Buffer[] | null = null;
  readonly frameBytes: number;
  readonly handler: ApiHandler;
  readonly header: RequestHeader;
  req: unknown;

  constructor(frameBytes: number, handler: ApiHandler, header: RequestHeader, req: unknown) {
    this.frameBytes = frameBytes;
    this.handler = handler;
    this.header = header;
    this.req = req;
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}

export class Connection {
  readonly id: number;
  readonly remoteAddress: string;
  private readonly socket: Socket;
  private readonly host: ConnectionHost;
  private readonly framer: FrameReader;
  private readonly abort = new AbortController();
  private head: Pending | null = null;
  private tail: Pending | null = null;
  /** Requests read and not yet answered (queued ones; a request answered at once never counts). */
  inFlight = 0;
  inFlightBytes = 0;
  paused = false;
  closed = false;
  /** The server is closing: read no more requests, finish the queued ones, then end. */
  private draining = false;
  /** The client half-closed: answer what was read, then end. */
  private peerEnded = false;
  private ended = false;
  private pumping = false;

  constructor(host: ConnectionHost, socket: Socket, id: number) {
    this.host = host;
    this.socket = socket;
    this.id = id;
    const addr = socket.remoteAddress ?? '?';
    this.remoteAddress = `${addr.includes(':') ? `[${addr}]` : addr}:${socket.remotePort ?? 0}`;
    this.framer = new FrameReader(host.maxFrameBytes);
    socket.setNoDelay(true);
    if (host.idleTimeoutMs > 0) socket.setTimeout(host.idleTimeoutMs);
    socket.on('data', this.onData);
    socket.on('drain', this.onDrain);
    socket.on('end', this.onEnd);
    socket.on('timeout', this.onTimeout);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  /** Bytes read from the socket and not yet cut into frames (including the socket's own buffer). */
  get bufferedBytes(): number {
    return this.framer.bufferedBytes + this.socket.readableLength;
  }

  /** Response bytes written to the socket and not yet taken by the kernel. */
  get writeBufferedBytes(): number {
    return this.socket.writableLength;
  }

  /** Stops reading requests; the ones in flight are answered, then the socket is ended. */
  beginClose(): void {
    if (this.closed || this.draining) return;
    this.draining = true;
    this.framer.clear();
    this.abort.abort(new Error('server closing'));
    if (this.head === null) this.endSocket();
  }

  /** Closes at once; responses not yet written are dropped. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.framer.clear();
    this.head = null;
    this.tail = null;
    this.inFlight = 0;
    this.inFlightBytes = 0;
    this.socket.destroy();
    this.abort.abort(new Error('connection closed'));
    this.host.connectionClosed(this);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.host.counters.bytesIn += chunk.length;
    if (this.closed || this.draining) return;
    this.framer.push(chunk);
    this.pump();
  };

  private readonly onDrain = (): void => {
    this.pump();
  };

  private readonly onEnd = (): void => {
    this.peerEnded = true;
    // Long polls of a client that went away answer now instead of at their timeout.
    this.abort.abort(new Error('peer ended the connection'));
    if (this.draining) {
      if (this.head === null) this.endSocket();
      return;
    }
    this.pump();
  };

  private readonly onTimeout = (): void => {
    if (this.closed || this.head !== null) return;
    this.host.counters.connectionsIdleClosed++;
    this.host.logger.debug?.(
      { connectionId: this.id, remoteAddress: this.remoteAddress, idleTimeoutMs: this.host.idleTimeoutMs },
      'closing idle connection',
    );
    this.destroy();
  };

  private readonly onError = (err: Error): void => {
    this.host.logger.debug?.(
      { connectionId: this.id, remoteAddress: this.remoteAddress, err },
      'socket error',
    );
    this.destroy();
  };

  private readonly onClose = (): void => {
    this.destroy();
  };

  /** Cuts and dispatches the frames that may be read now, then pauses or resumes the socket. */
  private pump(): void {
    if (this.pumping || this.closed || this.draining) return;
    this.pumping = true;
    const socket = this.socket;
    const framer = this.framer;
    const host = this.host;
    socket.cork();
    try {
      for (;;) {
        if (socket.writableLength > socket.writableHighWaterMark) break;
        let size: number;
        try {
          size = framer.nextSize();
        } catch (err) {
          this.protocolError((err as Error).message, { size: (err as FrameSizeError).size });
          return;
        }
        if (size < 0) break;
        if (
          this.inFlight > 0 &&
          (this.inFlight >= host.inFlightRequestsMax || this.inFlightBytes + size > host.inFlightBytesMax)
        ) {
          break;
        }
        const frame = framer.next();
        if (frame === null) break;
        this.handleFrame(frame);
        if (this.closed) return;
      }
    } finally {
      this.pumping = false;
      if (!this.closed) socket.uncork();
    }
    if (this.peerEnded && this.head === null && socket.writableLength <= socket.writableHighWaterMark) {
      this.endSocket();
      return;
    }
    this.updateFlow();
  }

  private updateFlow(): void {
    const socket = this.socket;
    const host = this.host;
    let blocked = socket.writableLength > socket.writableHighWaterMark;
    if (!blocked && this.inFlight > 0) {
      const next = this.framer.knownSize();
      blocked =
        this.inFlight >= host.inFlightRequestsMax ||
        this.inFlightBytes + (next < 0 ? 1 : next) > host.inFlightBytesMax;
    }
    if (blocked) {
      if (!this.paused) {
        this.paused = true;
        socket.pause();
      }
    } else if (this.paused) {
      this.paused = false;
      socket.resume();
    }
  }

  private handleFrame(frame: Buffer): void {
    const host = this.host;
    host.counters.requests++;
    if (frame.length < 8) {
      this.protocolError('request frame too short', { frameBytes: frame.length });
      return;
    }
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const handler = apiKey >= 0 ? host.handlers[apiKey] : undefined;
    if (handler === undefined) {
      this.protocolError('unknown or unserved api key', { apiKey, apiVersion });
      return;
    }
    if (apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
      if (apiKey === API_VERSIONS_KEY) this.answerUnsupportedApiVersions(frame, handler);
      else this.protocolError('unsupported api version', { apiKey, apiVersion });
      return;
    }
    let header: RequestHeader;
    let req: unknown;
    try {
      const decoded = decodeRequest(frame);
      header = decoded.header;
      req = decoded.body;
    } catch (err) {
      this.protocolError('request could not be decoded', { apiKey, apiVersion, err });
      return;
    }
    let result: unknown;
    if (apiVersion < (handler.servedMinVersion ?? handler.minVersion)) {
      try {
        result = handler.errorResponse(req, ErrorCode.UNSUPPORTED_VERSION, apiVersion);
      } catch (err) {
        this.fatal('errorResponse threw', header, err);
        return;
      }
    } else {
      const ctx: RequestContext = {
        connectionId: this.id,
        remoteAddress: this.remoteAddress,
        header,
        apiVersion,
        signal: this.abort.signal,
        close: (reason: string) => {
          if (this.closed) return;
          this.host.logger.warn(this.logFields(header, new Error(reason)), 'handler closed the connection');
          this.destroy();
        },
      };
      try {
        result = handler.handle(req, ctx);
      } catch (err) {
        result = this.failedResult(handler, header, req, err);
        if (this.closed) return;
      }
    }
    if (isThenable(result)) {
      const p = new Pending(frame.length, handler, header, req);
      this.enqueue(p);
      result.then(
        (v) => this.settle(p, v),
        (err) => this.settleFailed(p, err),
      );
      return;
    }
    const out = this.encode(handler, header, req, result);
    if (this.closed) return;
    if (this.head === null) {
      if (out !== null) this.write(out);
    } else {
      const p = new Pending(frame.length, handler, header, req);
      p.done = true;
      p.out = out;
      p.req = null;
      this.enqueue(p);
    }
  }

  /** ApiVersions at a version the server does not serve: a v0 body with UNSUPPORTED_VERSION. */
  private answerUnsupportedApiVersions(frame: Buffer, handler: ApiHandler): void {
    const apiVersion = frame.readInt16BE(2);
    let header: RequestHeader;
    try {
      header = decodeRequestHeader(new Reader(frame), requestHeaderVersion(API_VERSIONS_KEY, apiVersion));
    } catch (err) {
      this.protocolError('request header could not be decoded', {
        apiKey: API_VERSIONS_KEY,
        apiVersion,
        err,
      });
      return;
    }
    let out: Buffer[];
    try {
      const body = handler.errorResponse(EMPTY_API_VERSIONS_REQUEST, ErrorCode.UNSUPPORTED_VERSION, 0);
      out = encodeResponse(API_VERSIONS_KEY, 0, header.correlationId, body);
    } catch (err) {
      this.fatal('ApiVersions error response failed', header, err);
      return;
    }
    if (this.head === null) {
      this.write(out);
    } else {
      const p = new Pending(frame.length, handler, header, null);
      p.done = true;
      p.out = out;
      this.enqueue(p);
    }
  }

  private enqueue(p: Pending): void {
    if (this.tail === null) this.head = p;
    else this.tail.next = p;
    this.tail = p;
    this.inFlight++;
    this.inFlightBytes += p.frameBytes;
  }

  private settle(p: Pending, result: unknown): void {
    if (this.closed) return;
    p.out = this.encode(p.handler, p.header, p.req, result);
    if (this.closed) return;
    p.done = true;
    p.req = null;
    if (p === this.head) this.flushQueue();
  }

  private settleFailed(p: Pending, err: unknown): void {
    if (this.closed) return;
    const result = this.failedResult(p.handler, p.header, p.req, err);
    if (this.closed) return;
    this.settle(p, result);
  }

  /** Writes the finished responses at the head of the queue. */
  private flushQueue(): void {
    const socket = this.socket;
    socket.cork();
    let p = this.head;
    while (p?.done) {
      if (p.out !== null) this.write(p.out);
      this.inFlight--;
      this.inFlightBytes -= p.frameBytes;
      p = p.next;
    }
    this.head = p;
    if (p === null) this.tail = null;
    socket.uncork();
    if (this.draining) {
      if (p === null) this.endSocket();
      return;
    }
    this.pump();
  }

  private write(out: Buffer[]): void {
    const socket = this.socket;
    let n = 0;
    for (let i = 0; i < out.length; i++) {
      socket.write(out[i]);
      n += out[i].length;
    }
    this.host.counters.bytesOut += n;
  }

  /** Encodes a handler's result; on failure, its error response; null for NO_RESPONSE. */
  private encode(handler: ApiHandler, header: RequestHeader, req: unknown, result: unknown): Buffer[] | null {
    if (result === NO_RESPONSE) return null;
    try {
      return encodeResponse(header.requestApiKey, header.requestApiVersion, header.correlationId, result);
    } catch (err) {
      const fallback = this.failedResult(handler, header, req, err, 'response could not be encoded');
      if (this.closed) return null;
      try {
        return encodeResponse(header.requestApiKey, header.requestApiVersion, header.correlationId, fallback);
      } catch (err2) {
        this.fatal('error response could not be encoded', header, err2);
        return null;
      }
    }
  }

  /** Logs a handler failure and returns its UNKNOWN_SERVER_ERROR response (or closes the connection). */
  private failedResult(
    handler: ApiHandler,
    header: RequestHeader,
    req: unknown,
    err: unknown,
    msg = 'handler failed',
  ): unknown {
    this.host.counters.handlerErrors++;
    this.host.logger.error(this.logFields(header, err), msg);
    try {
      return handler.errorResponse(req, ErrorCode.UNKNOWN_SERVER_ERROR, header.requestApiVersion);
    } catch (err2) {
      this.fatal('errorResponse threw', header, err2);
      return null;
    }
  }

  private fatal(msg: string, header: RequestHeader, err: unknown): void {
    this.host.logger.error(this.logFields(header, err), `${msg}; closing connection`);
    this.destroy();
  }

  private protocolError(msg: string, fields: object): void {
    this.host.counters.connectionsClosedOnError++;
    this.host.logger.warn(
      { connectionId: this.id, remoteAddress: this.remoteAddress, ...fields },
      `${msg}; closing connection`,
    );
    this.destroy();
  }

  private logFields(header: RequestHeader, err: unknown): object {
    return {
      connectionId: this.id,
      remoteAddress: this.remoteAddress,
      apiKey: header.requestApiKey,
      apiVersion: header.requestApiVersion,
      correlationId: header.correlationId,
      clientId: header.clientId,
      err,
    };
  }

  private endSocket(): void {
    if (this.ended || this.closed) return;
    this.ended = true;
    this.socket.end();
    // Read (and drop) until the client closes its side, so that closing never resets the connection.
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    if (this.peerEnded) this.socket.once('finish', this.onClose);
  }
}
