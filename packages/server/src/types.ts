/**
 * The contract between the Kafka wire server and the code that implements Kafka's APIs.
 *
 * The server owns sockets, framing, ordering, backpressure and ApiVersions; a handler owns one
 * api key and turns a decoded request body into a response body. Handlers never see bytes on
 * the wire and never write to a socket.
 */
import type { RequestHeader } from '@tributary/protocol';

export interface RequestContext {
  /** Unique per connection in this server (1, 2, 3, …). */
  readonly connectionId: number;
  /** The client's "ip:port" ("[ip6]:port" for IPv6). */
  readonly remoteAddress: string;
  /** requestApiKey, requestApiVersion, correlationId, clientId. */
  readonly header: RequestHeader;
  /** Same as header.requestApiVersion. */
  readonly apiVersion: number;
  /**
   * Aborted when the connection closes, when the client ends its side (it can read no more
   * than the answers already due) or when the server starts closing. A handler that waits
   * (a long-polling Fetch) should then answer promptly with what it has; after a connection
   * closed, whatever it returns is dropped.
   */
  readonly signal: AbortSignal;
  /**
   * Closes this request's connection at once (responses not yet written are dropped), with
   * a reason for the log. Kafka does this when an acks=0 Produce fails, so the producer
   * notices and refreshes its metadata.
   */
  close(reason: string): void;
}

/** Returned by a handler when no response must be written (Produce acks=0). */
export const NO_RESPONSE: unique symbol = Symbol('tributary.noResponse');

export type HandlerResult<Res> = Res | typeof NO_RESPONSE;

export interface ApiHandler<Req = any, Res = any> {
  readonly apiKey: number;
  /** Advertised in ApiVersions: [minVersion, maxVersion]; must lie inside the protocol's range. */
  readonly minVersion: number;
  readonly maxVersion: number;
  /**
   * Versions in [minVersion, servedMinVersion) are answered errorResponse(req, UNSUPPORTED_VERSION=35)
   * without calling handle (Produce 0–2, as Kafka 4 does). Default: minVersion.
   */
  readonly servedMinVersion?: number;
  /**
   * Turns a decoded request into a response body (or NO_RESPONSE). May run concurrently with
   * other requests of the same connection; the server writes responses in request order.
   * Throwing (or rejecting) gets errorResponse(req, UNKNOWN_SERVER_ERROR=-1) and an error log.
   * `req` keeps `bytes`/`records` fields as slices of the request frame (no copy).
   */
  handle(req: Req, ctx: RequestContext): HandlerResult<Res> | Promise<HandlerResult<Res>>;
  /**
   * The response for `req` with `errorCode` set wherever the API carries one (top level and/or
   * per topic/partition/resource), used for unsupported versions and when handle throws.
   */
  errorResponse(req: Req, errorCode: number, apiVersion: number): Res;
}

export interface Logger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
  debug?(o: object, msg?: string): void;
}

/** Feature entries for ApiVersions v3+ (KIP-584); empty unless given. */
export interface ApiVersionsFeatures {
  supportedFeatures?: readonly { name: string; minVersion: number; maxVersion: number }[];
  finalizedFeatures?: readonly { name: string; minVersionLevel: number; maxVersionLevel: number }[];
  /** Default -1 (no finalized features). */
  finalizedFeaturesEpoch?: bigint;
}

export interface KafkaServerOptions {
  host: string;
  /** 0 = ephemeral (read the chosen port from `address`). */
  port: number;
  /** ApiVersions is built in (from this registry) unless one with apiKey 18 is given. */
  handlers: readonly ApiHandler[];
  /** Default 100 MiB (socket.request.max.bytes); a larger size prefix closes the connection. */
  maxFrameBytes?: number;
  /**
   * Default 64 MiB: the request bytes one connection may have in flight (read, not yet answered).
   * The server stops reading the socket before a frame would pass it (a single frame larger than
   * this is still accepted when nothing else is in flight).
   */
  connectionInFlightBytesMax?: number;
  /** Default 1000: requests one connection may have in flight before the server stops reading. */
  connectionInFlightRequestsMax?: number;
  /** Default 600000 (connections.max.idle.ms); a connection idle this long with nothing in flight is closed; 0 = never. */
  idleTimeoutMs?: number;
  /** Feature lists for the built-in ApiVersions handler. */
  apiVersionsFeatures?: ApiVersionsFeatures;
  /** Default: silent. */
  logger?: Logger;
}

export interface KafkaServerStats {
  /** Open connections. */
  connections: number;
  /** Connections accepted since start. */
  connectionsAccepted: number;
  /** Connections closed because of a protocol violation (bad frame, unknown api, bad version). */
  connectionsClosedOnError: number;
  /** Connections closed by the idle timeout. */
  connectionsIdleClosed: number;
  /** Requests received (frames accepted) since start. */
  requests: number;
  /** Requests read and not yet answered, over all connections. */
  inFlight: number;
  /** Bytes of those requests' frames. */
  inFlightBytes: number;
  /** Bytes read from sockets and not yet cut into frames, over all connections. */
  bufferedBytes: number;
  /** Connections whose socket reading is paused by backpressure right now. */
  pausedConnections: number;
  /** Response bytes queued in sockets' write buffers (not yet taken by the kernel), over all connections. */
  writeBufferedBytes: number;
  /** Handler calls that threw or rejected (answered UNKNOWN_SERVER_ERROR). */
  handlerErrors: number;
  bytesIn: number;
  bytesOut: number;
}
