/** The api-key table, header version rules and the error-code table. */
import { describe, expect, it } from 'vitest';
import {
  ApiKey,
  apiByKey,
  apis,
  ErrorCode,
  errorByCode,
  errorInfos,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../../src/generated/index.ts';
import { ProtocolError } from '../../src/primitives/errors.ts';

describe('api table', () => {
  it('has every api key once, with its codecs', () => {
    expect(apiByKey.size).toBe(Object.keys(ApiKey).length);
    expect(apiByKey.size).toBeGreaterThanOrEqual(80);
    for (const [key, spec] of apiByKey) {
      expect(spec.apiKey).toBe(key);
      expect(ApiKey[spec.name as keyof typeof ApiKey]).toBe(key);
      expect(spec.minVersion).toBeLessThanOrEqual(spec.maxVersion);
      expect(typeof spec.encodeRequest).toBe('function');
      expect(typeof spec.decodeResponse).toBe('function');
    }
  });

  it('knows the well-known keys and ranges', () => {
    expect(ApiKey.Produce).toBe(0);
    expect(ApiKey.Fetch).toBe(1);
    expect(ApiKey.Metadata).toBe(3);
    expect(ApiKey.FindCoordinator).toBe(10);
    expect(ApiKey.ApiVersions).toBe(18);
    expect(ApiKey.CreateTopics).toBe(19);
    expect(ApiKey.InitProducerId).toBe(22);
    expect(apis.Produce.flexibleFrom).toBe(9);
    expect(apis.Produce.maxVersion).toBeGreaterThanOrEqual(11);
    expect(apis.Metadata.flexibleFrom).toBe(9);
    expect(apis.ApiVersions.listeners).toContain('broker');
    expect(apis.ApiVersions.minVersion).toBe(0);
  });
});

describe('header versions', () => {
  it('flexible requests use header v2, others v1, ControlledShutdown v0 uses v0', () => {
    expect(requestHeaderVersion(ApiKey.ApiVersions, 3)).toBe(2);
    expect(requestHeaderVersion(ApiKey.ApiVersions, 2)).toBe(1);
    expect(requestHeaderVersion(ApiKey.Produce, 8)).toBe(1);
    expect(requestHeaderVersion(ApiKey.Produce, 9)).toBe(2);
    expect(requestHeaderVersion(ApiKey.ControlledShutdown, 0)).toBe(0);
    expect(requestHeaderVersion(ApiKey.ControlledShutdown, 1)).toBe(1);
    // A newer ApiVersions than we know is still flexible (Kafka parses its header as v2).
    expect(requestHeaderVersion(ApiKey.ApiVersions, 99)).toBe(2);
  });

  it('flexible responses use header v1 except ApiVersions, which is always v0', () => {
    expect(responseHeaderVersion(ApiKey.Metadata, 8)).toBe(0);
    expect(responseHeaderVersion(ApiKey.Metadata, 9)).toBe(1);
    expect(responseHeaderVersion(ApiKey.ApiVersions, 3)).toBe(0);
    expect(responseHeaderVersion(ApiKey.ApiVersions, 4)).toBe(0);
    expect(responseHeaderVersion(ApiKey.ApiVersions, 99)).toBe(0);
  });

  it('unknown api keys are a ProtocolError', () => {
    expect(() => requestHeaderVersion(9999, 0)).toThrow(ProtocolError);
    expect(() => responseHeaderVersion(-5, 0)).toThrow(ProtocolError);
  });
});

describe('error codes', () => {
  it('spot checks', () => {
    expect(ErrorCode.NONE).toBe(0);
    expect(errorByCode(-1)).toEqual({ code: -1, name: 'UNKNOWN_SERVER_ERROR', retriable: false });
    expect(errorByCode(35)).toEqual({ code: 35, name: 'UNSUPPORTED_VERSION', retriable: false });
    expect(errorByCode(6)).toEqual({ code: 6, name: 'NOT_LEADER_OR_FOLLOWER', retriable: true });
    expect(errorByCode(79)).toEqual({ code: 79, name: 'MEMBER_ID_REQUIRED', retriable: false });
    expect(errorByCode(3)?.retriable).toBe(true); // UNKNOWN_TOPIC_OR_PARTITION
    expect(errorByCode(15)?.name).toBe('COORDINATOR_NOT_AVAILABLE');
    expect(errorByCode(15)?.retriable).toBe(true);
    expect(errorByCode(36)).toEqual({ code: 36, name: 'TOPIC_ALREADY_EXISTS', retriable: false });
    expect(errorByCode(88)).toEqual({ code: 88, name: 'UNSTABLE_OFFSET_COMMIT', retriable: true });
    expect(errorByCode(90)?.name).toBe('PRODUCER_FENCED');
    expect(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER).toBe(45);
    expect(errorByCode(99)).toBeUndefined();
    expect(errorByCode(100000)).toBeUndefined();
  });

  it('is sorted with unique codes and names', () => {
    const codes = errorInfos.map((e) => e.code);
    expect([...codes].sort((a, b) => a - b)).toEqual(codes);
    expect(new Set(codes).size).toBe(codes.length);
    expect(new Set(errorInfos.map((e) => e.name)).size).toBe(codes.length);
    expect(codes.at(-1)).toBeGreaterThanOrEqual(128);
  });
});
