import { describe, expect, it } from 'vitest';
import {
  type ApiVersionsResponse,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type MetadataRequest,
  ProtocolError,
  peekRequestPreamble,
} from '../src/index.ts';

const strip = (bufs: Buffer[]) => Buffer.concat(bufs).subarray(4);

describe('frames', () => {
  it('encodes a size prefix equal to the frame length', () => {
    const bufs = encodeRequest(
      { requestApiKey: 3, requestApiVersion: 12, correlationId: 5, clientId: 'c' },
      {
        topics: null,
        allowAutoTopicCreation: true,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      },
    );
    const all = Buffer.concat(bufs);
    expect(all.readInt32BE(0)).toBe(all.length - 4);
  });

  it('round-trips a flexible request through the header-version rules', () => {
    const frame = strip(
      encodeRequest<MetadataRequest>(
        { requestApiKey: 3, requestApiVersion: 12, correlationId: 42, clientId: 'client-1' },
        {
          topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'orders' }],
          allowAutoTopicCreation: false,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: true,
        } as MetadataRequest,
      ),
    );
    expect(peekRequestPreamble(frame)).toEqual({ apiKey: 3, apiVersion: 12, correlationId: 42 });
    const d = decodeRequest<MetadataRequest>(frame);
    expect(d.header.clientId).toBe('client-1');
    expect(d.spec.name).toBe('Metadata');
    expect(d.body.topics?.[0].name).toBe('orders');
    expect(d.trailingBytes).toBe(0);
  });

  it('ApiVersions responses always use response header v0 (no tagged fields after the correlation id)', () => {
    const body: ApiVersionsResponse = {
      errorCode: 0,
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }],
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1n,
      finalizedFeatures: [],
      zkMigrationReady: false,
    };
    const frame = strip(encodeResponse(18, 3, 77, body));
    expect(frame.readInt32BE(0)).toBe(77);
    expect(frame.readInt16BE(4)).toBe(0); // error code follows the correlation id directly
    expect(decodeResponse<ApiVersionsResponse>(18, 3, frame).body.apiKeys[0].maxVersion).toBe(4);
  });

  it('rejects unknown api keys, undefined versions and short frames with ProtocolError', () => {
    const unknown = Buffer.from('7fff0000000000010000', 'hex');
    expect(() => decodeRequest(unknown)).toThrow(ProtocolError);
    const badVersion = Buffer.from('0003063f0000000100000000', 'hex');
    expect(() => decodeRequest(badVersion)).toThrow(/not defined/);
    expect(() => peekRequestPreamble(Buffer.alloc(3))).toThrow(ProtocolError);
  });
});
