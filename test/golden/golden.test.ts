/**
 * Every recorded frame decodes with the generated header + body codecs for its version,
 * re-encodes byte-identically, and carries the fields its client was told to send.
 */
import { describe, expect, it } from 'vitest';
import type {
  ApiVersionsRequest,
  CreateTopicsRequest,
  DeleteTopicsRequest,
  FetchRequest,
  InitProducerIdRequest,
  ListOffsetsRequest,
  MetadataRequest,
  ProduceRequest,
} from '../../packages/protocol/src/generated/index.ts';
import { decodeRequest, encodeRequest } from './capture/protocol.ts';
import { fixtureRecords } from './fixture.ts';
import { decodeBatches, produceBlob, withoutTimestamps } from './records.ts';
import {
  ADMIN_PARTITIONS,
  adminTopic,
  CLIENTS,
  type ClientName,
  CODEC_ID,
  type IndexEntry,
  produceCodec,
  produceTopic,
  readFrame,
  readIndex,
  scratchTopic,
} from './scenarios.ts';

const index = readIndex();

/** Codecs each client's produce scenarios use (see record.ts). */
const EXPECTED_CODECS: Record<ClientName, string[]> = {
  kcat: ['none', 'gzip', 'snappy', 'lz4', 'zstd'],
  kafkajs: ['none', 'gzip'],
  platformatic: ['none', 'gzip', 'snappy', 'lz4'],
  java: ['none', 'gzip', 'snappy', 'lz4', 'zstd'],
};

/** Topics a client may name in any request. */
function knownTopics(client: ClientName): string[] {
  return [
    adminTopic(client),
    scratchTopic(client),
    ...EXPECTED_CODECS[client].map((c) => produceTopic(client, c as never)),
  ];
}

function checkFields(e: IndexEntry, body: unknown): void {
  const topics = knownTopics(e.client);
  switch (e.apiName) {
    case 'Produce': {
      const req = body as ProduceRequest;
      const codec = produceCodec(e.scenario);
      expect(codec).not.toBeNull();
      expect(req.acks).toBe(-1);
      expect(req.transactionalId).toBeNull();
      const { topic, partition, blob } = produceBlob(req);
      expect(topic).toBe(produceTopic(e.client, codec!));
      expect(partition).toBe(0);
      const { batches, records } = decodeBatches(blob);
      for (const b of batches) {
        expect(b.magic).toBe(2);
        expect(b.compression).toBe(CODEC_ID[codec!]);
        expect(b.producerId).toBeGreaterThanOrEqual(1000n); // idempotent: id from InitProducerId
        expect(b.isTransactional).toBe(false);
      }
      if (e.client === 'kcat')
        expect(withoutTimestamps(records)).toEqual(withoutTimestamps(fixtureRecords()));
      else expect(records).toEqual(fixtureRecords());
      break;
    }
    case 'Metadata': {
      const req = body as MetadataRequest;
      for (const t of req.topics ?? []) expect(topics).toContain(t.name);
      break;
    }
    case 'CreateTopics': {
      const req = body as CreateTopicsRequest;
      expect(req.topics.length).toBe(1);
      const t = req.topics[0];
      expect([adminTopic(e.client), scratchTopic(e.client)]).toContain(t.name);
      expect(t.numPartitions).toBe(t.name === adminTopic(e.client) ? ADMIN_PARTITIONS : 1);
      expect(t.replicationFactor).toBe(1);
      break;
    }
    case 'DeleteTopics': {
      const req = body as DeleteTopicsRequest;
      const names = e.apiVersion >= 6 ? req.topics.map((t) => t.name) : req.topicNames;
      expect(names).toEqual([scratchTopic(e.client)]);
      break;
    }
    case 'Fetch': {
      const req = body as FetchRequest;
      expect(req.topics.map((t) => t.topic)).toEqual([produceTopic(e.client, 'none')]);
      expect(req.topics[0].partitions.map((p) => p.partition)).toEqual([0]);
      break;
    }
    case 'ListOffsets': {
      const req = body as ListOffsetsRequest;
      expect(req.topics.map((t) => t.name)).toEqual([produceTopic(e.client, 'none')]);
      break;
    }
    case 'InitProducerId': {
      const req = body as InitProducerIdRequest;
      expect(req.transactionalId).toBeNull();
      break;
    }
    case 'ApiVersions': {
      const req = body as ApiVersionsRequest;
      if (e.apiVersion >= 3) expect(req.clientSoftwareName.length).toBeGreaterThan(0);
      break;
    }
  }
}

describe('golden frames', () => {
  it('were recorded for every client', () => {
    for (const client of CLIENTS) {
      const produced = new Set(
        index
          .filter((e) => e.client === client && e.apiName === 'Produce')
          .map((e) => produceCodec(e.scenario)),
      );
      expect([...produced].sort()).toEqual([...EXPECTED_CODECS[client]].sort());
    }
  });

  it.each(index.map((e) => [`${e.client} ${e.file}`, e] as const))('%s', (_name, e) => {
    const bytes = readFrame(e);
    expect(bytes.length).toBe(e.size);
    const { header, body } = decodeRequest(bytes);
    expect(header.requestApiKey).toBe(e.apiKey);
    expect(header.requestApiVersion).toBe(e.apiVersion);
    expect(header.clientId).toBe(e.clientId);
    expect(header.clientId?.startsWith(`golden-${e.client}`)).toBe(true);
    expect(encodeRequest(header, body).equals(bytes)).toBe(true);
    checkFields(e, body);
  });
});
