/**
 * Runs the real kafkajs, @platformatic/kafka and Java kafka-clients against the capture
 * listener in the test run (kcat has its own live test): each client's record scenarios
 * (admin, produce with every codec it supports, consume where it can without a group) must
 * succeed — the scenarios themselves check what the clients read back — and every request
 * frame it sent must decode with the generated codecs, re-encode byte-identically, and carry
 * the fixture records. The clients are required tools: a missing one FAILS this test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProduceRequest } from '../../packages/protocol/src/generated/index.ts';
import { FakeBroker } from './capture/broker.ts';
import { CaptureListener } from './capture/listener.ts';
import { decodeRequest, encodeRequest } from './capture/protocol.ts';
import { fixtureRecords } from './fixture.ts';
import { clientVersion, scenariosFor } from './record.ts';
import { decodeBatches, produceBlob } from './records.ts';
import { type ClientName, CODEC_ID, produceCodec, readIndex } from './scenarios.ts';

const LIVE: ClientName[] = ['kafkajs', 'platformatic', 'java'];

describe('live: real clients against the capture listener', () => {
  let broker: FakeBroker;
  let listener: CaptureListener;

  beforeAll(async () => {
    broker = new FakeBroker();
    listener = await CaptureListener.start((f) => broker.handle(f));
    broker.setPort(listener.port);
  });

  afterAll(async () => {
    await listener?.close();
  });

  it.each(LIVE)(
    '%s runs every scenario and each frame it sends round-trips',
    async (client) => {
      const version = await clientVersion(client);
      expect(version).toMatch(/\d+\.\d+/);
      listener.frames.length = 0;
      const workDir = mkdtempSync(join(tmpdir(), `live-${client}-`));
      try {
        for (const s of scenariosFor(client, listener.address, workDir)) {
          listener.scenario = s.name;
          await s.run();
        }
      } finally {
        rmSync(workDir, { recursive: true, force: true });
      }
      expect(listener.errors).toEqual([]);
      const frames = listener.frames.slice();
      expect(frames.length).toBeGreaterThan(5);
      let produced = 0;
      for (const f of frames) {
        const { header, body } = decodeRequest(f.bytes);
        expect(encodeRequest(header, body).equals(f.bytes)).toBe(true);
        if (f.apiKey !== 0) continue;
        const codec = produceCodec(f.scenario);
        expect(codec).not.toBeNull();
        const { batches, records } = decodeBatches(produceBlob(body as ProduceRequest).blob);
        for (const b of batches) expect(b.compression).toBe(CODEC_ID[codec!]);
        expect(records).toEqual(fixtureRecords().slice(0, records.length));
        produced += records.length;
      }
      expect(produced).toBeGreaterThanOrEqual(fixtureRecords().length);
      // The live client speaks the API versions its committed golden frames were recorded with.
      const recorded = new Set(
        readIndex()
          .filter((e) => e.client === client)
          .map((e) => `${e.apiName}`),
      );
      const live = new Set(frames.map((f) => broker.apiName(f.apiKey)));
      for (const api of recorded) expect(live).toContain(api);
    },
    180_000,
  );
});
