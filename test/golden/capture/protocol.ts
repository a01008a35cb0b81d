/**
 * The one place where the golden tooling touches the generated codecs of
 * packages/protocol: request header + body decoding/encoding and response encoding.
 */
import {
  type ApiSpec,
  apiByKey,
  decodeRequestHeader,
  encodeRequestHeader,
  encodeResponseHeader,
  type RequestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../../../packages/protocol/src/generated/index.ts';
import { ProtocolError, Reader, Writer } from '../../../packages/protocol/src/primitives/index.ts';

export { ADVERTISED_RANGES } from './ranges.ts';

/** A decoded request: its header, header version, and body (the generated message type). */
export interface DecodedRequest {
  header: RequestHeader;
  headerVersion: number;
  body: unknown;
}

/** The generated api spec for `apiKey` (throws for an unknown key). */
export function specOf(apiKey: number): ApiSpec {
  const spec = apiByKey.get(apiKey);
  if (spec === undefined) throw new ProtocolError(`unknown api key ${apiKey}`, 'unsupported');
  return spec;
}

/** The Kafka name of an api key, or `Api<key>` when unknown. */
export function apiName(apiKey: number): string {
  return apiByKey.get(apiKey)?.name ?? `Api${apiKey}`;
}

/**
 * Decodes a request frame (header + body, no size prefix) with the generated codecs,
 * requiring that the body consumes the frame exactly.
 */
export function decodeRequest(frame: Buffer): DecodedRequest {
  if (frame.length < 4) throw new ProtocolError('request shorter than its api key and version', 'truncated');
  return decodeRequestAs(frame, frame.readInt16BE(0), frame.readInt16BE(2));
}

/** Decodes `frame` as a request of `apiKey` / `apiVersion` (the header must agree). */
export function decodeRequestAs(frame: Buffer, apiKey: number, apiVersion: number): DecodedRequest {
  const r = new Reader(frame);
  const headerVersion = requestHeaderVersion(apiKey, apiVersion);
  const header = decodeRequestHeader(r, headerVersion);
  const body = specOf(apiKey).decodeRequest(r, apiVersion);
  if (r.remaining() !== 0)
    throw new ProtocolError(`${r.remaining()} byte(s) left after ${apiName(apiKey)} v${apiVersion}`);
  return { header, headerVersion, body };
}

/** Encodes a request header + body back into one frame payload. */
export function encodeRequest(header: RequestHeader, body: unknown): Buffer {
  const w = new Writer();
  const { requestApiKey: key, requestApiVersion: version } = header;
  encodeRequestHeader(w, header, requestHeaderVersion(key, version));
  specOf(key).encodeRequest(w, body, version);
  return w.toBuffer();
}

/** Encodes a response (header + body) as a chunk list ready for a size prefix. */
export function encodeResponse(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  body: unknown,
): Buffer[] {
  const w = new Writer();
  encodeResponseHeader(w, { correlationId }, responseHeaderVersion(apiKey, apiVersion));
  specOf(apiKey).encodeResponse(w, body, apiVersion);
  return w.toBuffers();
}
