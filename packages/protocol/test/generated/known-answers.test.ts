/** Byte-exact encodings built by hand from the Kafka protocol spec. */
import { describe, expect, it } from 'vitest';
import {
  type ApiVersionsResponse,
  decodeApiVersionsRequest,
  decodeApiVersionsResponse,
  decodeMetadataRequest,
  decodeProduceRequest,
  decodeRequestHeader,
  decodeResponseHeader,
  encodeApiVersionsRequest,
  encodeApiVersionsResponse,
  encodeMetadataRequest,
  encodeProduceRequest,
  encodeRequestHeader,
  encodeResponseHeader,
  type MetadataRequest,
  type ProduceRequest,
} from '../../src/generated/index.ts';
import { ProtocolError } from '../../src/primitives/errors.ts';
import { Reader } from '../../src/primitives/reader.ts';
import { Writer } from '../../src/primitives/writer.ts';

const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

function encoded(fn: (w: Writer) => void): string {
  const w = new Writer(64);
  fn(w);
  return w.toBuffer().toString('hex');
}

describe('headers', () => {
  it('request header v2 keeps the classic (int16) client id and adds tagged fields', () => {
    const h = { requestApiKey: 18, requestApiVersion: 3, correlationId: 7, clientId: 'kcat' };
    const bytes = hex('0012 0003 00000007 0004 6b636174 00');
    expect(encoded((w) => encodeRequestHeader(w, h, 2))).toBe(bytes.toString('hex'));
    expect(decodeRequestHeader(new Reader(bytes), 2)).toEqual(h);
  });

  it('request header v1 with a null client id, v0 without one', () => {
    const h = { requestApiKey: 3, requestApiVersion: 1, correlationId: 1, clientId: null };
    expect(encoded((w) => encodeRequestHeader(w, h, 1))).toBe('0003000100000001ffff');
    const h0 = { requestApiKey: 7, requestApiVersion: 0, correlationId: 1, clientId: null };
    expect(encoded((w) => encodeRequestHeader(w, h0, 0))).toBe('0007000000000001');
    // Absent at v0, ClientId decodes to Kafka's default for a string without "default": "".
    expect(decodeRequestHeader(new Reader(hex('0007000000000001')), 0)).toEqual({ ...h0, clientId: '' });
  });

  it('response header v0 and v1', () => {
    expect(encoded((w) => encodeResponseHeader(w, { correlationId: 5 }, 0))).toBe('00000005');
    expect(encoded((w) => encodeResponseHeader(w, { correlationId: 5 }, 1))).toBe('0000000500');
    expect(decodeResponseHeader(new Reader(hex('0000000500')), 1)).toEqual({ correlationId: 5 });
  });
});

describe('ApiVersions', () => {
  it('request v3: compact strings and an empty tagged-field section', () => {
    const msg = { clientSoftwareName: 'kcat', clientSoftwareVersion: '1.6.0' };
    const bytes = hex('05 6b636174 06 312e362e30 00');
    expect(encoded((w) => encodeApiVersionsRequest(w, msg, 3))).toBe(bytes.toString('hex'));
    expect(decodeApiVersionsRequest(new Reader(bytes), 3)).toEqual(msg);
  });

  it('request v0 is empty; its v3-only fields are ignorable and decode to defaults', () => {
    expect(
      encoded((w) => encodeApiVersionsRequest(w, { clientSoftwareName: 'x', clientSoftwareVersion: 'y' }, 0)),
    ).toBe('');
    expect(decodeApiVersionsRequest(new Reader(Buffer.alloc(0)), 0)).toEqual({
      clientSoftwareName: '',
      clientSoftwareVersion: '',
    });
  });

  const resp: ApiVersionsResponse = {
    errorCode: 0,
    apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 11 }],
    throttleTimeMs: 0,
    supportedFeatures: [],
    finalizedFeaturesEpoch: 5n,
    finalizedFeatures: [],
    zkMigrationReady: true,
  };
  // error, 1 api key (compact 2), its fields + empty tags, throttle, 2 tagged fields (tags 1 and 3).
  const respV3 = '0000 02 0000 0000 000b 00 00000000 02 01 08 0000000000000005 03 01 01';

  it('response v3: only non-default tagged fields are written, in tag order', () => {
    expect(encoded((w) => encodeApiVersionsResponse(w, resp, 3))).toBe(hex(respV3).toString('hex'));
    expect(decodeApiVersionsResponse(new Reader(hex(respV3)), 3)).toEqual(resp);
  });

  it('response v3: unknown tagged fields are skipped, out-of-order tags rejected', () => {
    const withUnknown = hex(
      '0000 02 0000 0000 000b 00 00000000 03 01 08 0000000000000005 03 01 01 09 02 abcd',
    );
    expect(decodeApiVersionsResponse(new Reader(withUnknown), 3)).toEqual(resp);
    const outOfOrder = hex('0000 02 0000 0000 000b 00 00000000 02 03 01 01 01 08 0000000000000005');
    expect(() => decodeApiVersionsResponse(new Reader(outOfOrder), 3)).toThrow(ProtocolError);
    const wrongSize = hex('0000 02 0000 0000 000b 00 00000000 01 03 02 01 00');
    expect(() => decodeApiVersionsResponse(new Reader(wrongSize), 3)).toThrow(ProtocolError);
  });

  it('response v0 has no throttle time and no tagged fields', () => {
    const v0 = { ...resp, finalizedFeaturesEpoch: -1n, zkMigrationReady: false };
    expect(encoded((w) => encodeApiVersionsResponse(w, v0, 0))).toBe(
      hex('0000 00000001 0000 0000 000b').toString('hex'),
    );
  });

  it('unknown versions are rejected', () => {
    expect(() =>
      encodeApiVersionsRequest(new Writer(), { clientSoftwareName: '', clientSoftwareVersion: '' }, 5),
    ).toThrow(ProtocolError);
    expect(() => decodeApiVersionsRequest(new Reader(Buffer.alloc(0)), -1)).toThrow(ProtocolError);
  });
});

describe('Metadata', () => {
  const v0: MetadataRequest = {
    topics: [{ topicId: ZERO_UUID, name: 'foo' }],
    allowAutoTopicCreation: true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  };

  it('request v0: int32 array of int16 strings', () => {
    const bytes = hex('00000001 0003 666f6f');
    expect(encoded((w) => encodeMetadataRequest(w, v0, 0))).toBe(bytes.toString('hex'));
    expect(decodeMetadataRequest(new Reader(bytes), 0)).toEqual(v0);
  });

  it('request topics are nullable from v1 only', () => {
    const all = { ...v0, topics: null };
    expect(() => encodeMetadataRequest(new Writer(), all, 0)).toThrow(ProtocolError);
    expect(() => decodeMetadataRequest(new Reader(hex('ffffffff')), 0)).toThrow(ProtocolError);
    expect(encoded((w) => encodeMetadataRequest(w, all, 1))).toBe('ffffffff');
    expect(decodeMetadataRequest(new Reader(hex('ffffffff')), 1)).toEqual(all);
  });

  it('allowAutoTopicCreation=false cannot be sent before v4 (not ignorable)', () => {
    const noAuto = { ...v0, allowAutoTopicCreation: false };
    expect(() => encodeMetadataRequest(new Writer(), noAuto, 3)).toThrow(ProtocolError);
    expect(encoded((w) => encodeMetadataRequest(w, noAuto, 4))).toBe('000000010003666f6f00');
  });

  it('request v9 is flexible: compact arrays and strings, tagged sections', () => {
    // compact array (2 = 1 topic), compact "foo", topic tags, allowAuto, 2 bools, tags.
    const bytes = hex('02 04 666f6f 00 01 00 00 00');
    expect(encoded((w) => encodeMetadataRequest(w, v0, 9))).toBe(bytes.toString('hex'));
    expect(decodeMetadataRequest(new Reader(bytes), 9)).toEqual(v0);
  });
});

describe('Produce', () => {
  const records = Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const msg: ProduceRequest = {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30000,
    topicData: [{ name: 'foo', partitionData: [{ index: 0, records }] }],
  };

  it('request v3 with records; decoded records are a zero-copy view of the input', () => {
    const bytes = hex(
      'ffff ffff 00007530 00000001 0003 666f6f 00000001 00000000 0000000a 00010203040506070809',
    );
    expect(encoded((w) => encodeProduceRequest(w, msg, 3))).toBe(bytes.toString('hex'));
    const decoded = decodeProduceRequest(new Reader(bytes), 3);
    expect(decoded).toEqual(msg);
    const got = decoded.topicData[0].partitionData[0].records!;
    expect(got.buffer).toBe(bytes.buffer);
    expect(got.byteOffset).toBe(bytes.byteOffset + 29);
  });

  it('request v9 (flexible) with records', () => {
    const bytes = hex('00 ffff 00007530 02 04 666f6f 02 00000000 0b 00010203040506070809 00 00 00');
    expect(encoded((w) => encodeProduceRequest(w, msg, 9))).toBe(bytes.toString('hex'));
    expect(decodeProduceRequest(new Reader(bytes), 9)).toEqual(msg);
  });

  it('a transactional id cannot be sent at v2', () => {
    expect(() => encodeProduceRequest(new Writer(), { ...msg, transactionalId: 'tx' }, 2)).toThrow(
      ProtocolError,
    );
  });
});
