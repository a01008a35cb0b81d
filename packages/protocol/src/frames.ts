/**
 * Whole-frame helpers on top of the generated codecs: what a server or a client does with a
 * size-delimited Kafka frame. Frames here exclude the 4-byte size prefix on input; encoders
 * return a buffer list that includes it, ready for `socket.writev`-style output.
 */
import { type ApiSpec, apiByKey, requestHeaderVersion, responseHeaderVersion } from './generated/api.ts';
import {
  decodeRequestHeader,
  encodeRequestHeader,
  type RequestHeader,
} from './generated/messages/request-header.ts';
import { decodeResponseHeader, encodeResponseHeader } from './generated/messages/response-header.ts';
import { ProtocolError } from './primitives/errors.ts';
import { Reader } from './primitives/reader.ts';
import { Writer } from './primitives/writer.ts';

/** The fixed start of every request header: enough to answer even an unparseable request. */
export interface RequestPreamble {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
}

export interface DecodedRequest<T = unknown> {
  header: RequestHeader;
  spec: ApiSpec;
  body: T;
  /** Bytes after the body that the decoder did not consume (Kafka ignores them too). */
  trailingBytes: number;
}

/** Reads api key, version and correlation id without validating anything else. */
export function peekRequestPreamble(frame: Buffer): RequestPreamble {
  if (frame.length < 8)
    throw new ProtocolError(`request frame of ${frame.length} bytes is too short`, 'truncated');
  return {
    apiKey: frame.readInt16BE(0),
    apiVersion: frame.readInt16BE(2),
    correlationId: frame.readInt32BE(4),
  };
}

/** The generated spec for an api key, or a ProtocolError of kind 'unsupported'. */
export function apiSpec(apiKey: number): ApiSpec {
  const spec = apiByKey.get(apiKey);
  if (spec === undefined) throw new ProtocolError(`unknown api key ${apiKey}`, 'unsupported');
  return spec;
}

/**
 * Decodes the header of a request frame and returns a reader positioned at the body. Throws
 * ProtocolError ('unsupported') for unknown api keys or versions outside Kafka's definition.
 */
export function decodeRequestHeaderOf(frame: Buffer): {
  header: RequestHeader;
  spec: ApiSpec;
  reader: Reader;
} {
  const { apiKey, apiVersion } = peekRequestPreamble(frame);
  const spec = apiSpec(apiKey);
  if (apiVersion < spec.minVersion || apiVersion > spec.maxVersion) {
    throw new ProtocolError(`${spec.name} version ${apiVersion} is not defined`, 'unsupported');
  }
  const reader = new Reader(frame);
  const header = decodeRequestHeader(reader, requestHeaderVersion(apiKey, apiVersion));
  return { header, spec, reader };
}

/** Decodes a whole request frame (without its size prefix). Record fields stay slices of `frame`. */
export function decodeRequest<T = unknown>(frame: Buffer): DecodedRequest<T> {
  const { header, spec, reader } = decodeRequestHeaderOf(frame);
  const body = spec.decodeRequest(reader, header.requestApiVersion) as T;
  return { header, spec, body, trailingBytes: reader.remaining() };
}

function sizePrefixed(w: Writer, sizeAt: number): Buffer[] {
  w.patchInt32(sizeAt, w.length - 4);
  return w.toBuffers();
}

/** Encodes a request with its size prefix. */
export function encodeRequest<T>(header: RequestHeader, body: T): Buffer[] {
  const spec = apiSpec(header.requestApiKey);
  const w = new Writer(256);
  const sizeAt = w.reserveInt32();
  encodeRequestHeader(w, header, requestHeaderVersion(header.requestApiKey, header.requestApiVersion));
  spec.encodeRequest(w, body, header.requestApiVersion);
  return sizePrefixed(w, sizeAt);
}

/** Encodes a response with its size prefix, using the header version Kafka uses for it. */
export function encodeResponse<T>(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  body: T,
): Buffer[] {
  const spec = apiSpec(apiKey);
  const w = new Writer(256);
  const sizeAt = w.reserveInt32();
  encodeResponseHeader(w, { correlationId }, responseHeaderVersion(apiKey, apiVersion));
  spec.encodeResponse(w, body, apiVersion);
  return sizePrefixed(w, sizeAt);
}

/** Decodes a response frame (without its size prefix) for a request sent at `apiVersion`. */
export function decodeResponse<T = unknown>(
  apiKey: number,
  apiVersion: number,
  frame: Buffer,
): { correlationId: number; body: T } {
  const spec = apiSpec(apiKey);
  const r = new Reader(frame);
  const { correlationId } = decodeResponseHeader(r, responseHeaderVersion(apiKey, apiVersion));
  return { correlationId, body: spec.decodeResponse(r, apiVersion) as T };
}
