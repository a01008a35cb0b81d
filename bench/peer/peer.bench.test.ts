/**
 * The Apache Kafka peer works end to end: a KRaft node from tools/.cache/kafka starts, a topic is
 * created with TopicCommand, ProducerPerformance writes 20k records and ConsumerPerformance reads
 * them all back, and the parsed figures are sane. Missing Java or jars fails (install with
 * scripts/install-tools.sh); nothing is skipped.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type ApacheKafka,
  kafkaClasspath,
  metadataListsBroker,
  randomClusterId,
  startApacheKafka,
} from './kafka.ts';
import {
  createTopic,
  parseConsumerPerf,
  parseProducerPerf,
  pidListeningOn,
  readCpuSeconds,
  readRssBytes,
  runConsumerPerf,
  runProducerPerf,
  sampleProcess,
} from './perf.ts';

describe('output parsers', () => {
  it('reads ProducerPerformance summary line, not the progress lines', () => {
    const out = [
      '73411 records sent, 14682.2 records/sec (14.34 MB/sec), 1250.3 ms avg latency, 1900.0 ms max latency.',
      '200000 records sent, 44404.973357 records/sec (43.36 MB/sec), 586.78 ms avg latency, 1436.00 ms max latency, 465 ms 50th, 1272 ms 95th, 1400 ms 99th, 1429 ms 99.9th.',
    ].join('\n');
    expect(parseProducerPerf(out)).toEqual({
      records: 200000,
      recordsPerSec: 44404.973357,
      mbPerSec: 43.36,
      avgLatencyMs: 586.78,
      maxLatencyMs: 1436,
      p50Ms: 465,
      p95Ms: 1272,
      p99Ms: 1400,
      p999Ms: 1429,
    });
    expect(() => parseProducerPerf('nothing here')).toThrow(/no summary/);
  });

  it('reads ConsumerPerformance CSV by column name and notices a give-up', () => {
    const out = [
      'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec',
      '2026-11-24 04:32:40:996, 2026-11-24 04:32:42:711, 195.3125, 113.8848, 200000, 116618.0758, 809, 906, 215.5767, 220750.5519',
    ].join('\n');
    const r = parseConsumerPerf(out);
    expect(r).toMatchObject({
      records: 200000,
      mb: 195.3125,
      rebalanceMs: 809,
      fetchMs: 906,
      fetchMbPerSec: 215.5767,
      complete: true,
    });
    const gaveUp = parseConsumerPerf(
      `WARNING: Exiting before consuming the expected number of records: timeout (10000 ms) exceeded.\n${out}`,
    );
    expect(gaveUp.complete).toBe(false);
  });

  it('cluster ids are 22 base64url characters never starting with a dash', () => {
    for (let i = 0; i < 200; i++) expect(randomClusterId()).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  });

  it('samples this process', () => {
    expect(readRssBytes(process.pid)).toBeGreaterThan(1024 * 1024);
    expect(readCpuSeconds(process.pid)).toBeGreaterThan(0);
    expect(readRssBytes(2 ** 22 + 12345)).toBeUndefined();
  });
});

// Everything in one test (not beforeAll): a missing JDK or jar then fails it rather than leaving it
// skipped. Worst case about 85 s: start 33 s + create 15 s + produce/consume 2 x 25 s bounds overlap
// the test's own 85 s limit; the broker stop (5 s + SIGKILL) runs in finally. A normal run: ~20 s.
describe('Apache Kafka peer', () => {
  it('produces and consumes 20k records with the Kafka perf tools', { timeout: 85_000 }, async () => {
    kafkaClasspath(); // throws when the jars are not installed
    const dir = mkdtempSync(join(tmpdir(), 'peer-test-'));
    let kafka: ApacheKafka | undefined;
    try {
      kafka = await startApacheKafka({ dir, startTimeoutMs: 33_000 });
      expect(await metadataListsBroker(kafka.host, kafka.port, 2000)).toBe(true);
      expect(pidListeningOn(kafka.port)).toBe(kafka.pid);
      const topic = 'peer-test';
      await createTopic(kafka.bootstrap, topic, 8, { java: { timeoutMs: 15_000 } });
      const s = sampleProcess(kafka.pid, 100);
      const produce = await runProducerPerf({
        bootstrap: kafka.bootstrap,
        topic,
        numRecords: 20_000,
        recordSize: 1024,
        java: { timeoutMs: 25_000 },
      });
      const load = s.stop();
      expect(produce.records).toBe(20_000);
      expect(produce.recordsPerSec).toBeGreaterThan(0);
      expect(produce.mbPerSec).toBeGreaterThan(0);
      expect(produce.p50Ms).toBeGreaterThanOrEqual(0);
      expect(produce.p99Ms).toBeGreaterThanOrEqual(produce.p50Ms);
      expect(produce.maxLatencyMs).toBeGreaterThanOrEqual(produce.p99Ms);

      const consume = await runConsumerPerf({
        bootstrap: kafka.bootstrap,
        topic,
        numRecords: 20_000,
        java: { timeoutMs: 25_000 },
      });
      expect(consume.complete).toBe(true);
      expect(consume.records).toBe(20_000);
      expect(consume.mb).toBeCloseTo((20_000 * 1024) / (1024 * 1024), 3);
      expect(consume.mbPerSec).toBeGreaterThan(0);
      expect(consume.fetchMbPerSec).toBeGreaterThan(0);

      expect(load.samples).toBeGreaterThan(0);
      expect(load.maxRssBytes).toBeGreaterThan(64 * 1024 * 1024);
      expect(load.cpuSeconds).toBeGreaterThan(0);
    } finally {
      await kafka?.stop({ timeoutMs: 5000 });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
