"""kafka-python 2.x driver of the client compatibility suite.

  produce  BOOTSTRAP TOPIC CODEC FILE
  consume  BOOTSTRAP TOPIC PARTITION COUNT OUTFILE
  offsets  BOOTSTRAP TOPIC PARTITION TS[,TS...]
  admin    BOOTSTRAP TOPIC
Prints one JSON object on stdout.
"""
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic

from records import RecordWriter, emit, read_records

TIMEOUT_MS = 30000


def produce(bootstrap, topic, codec, path):
    records = read_records(path)
    p = KafkaProducer(
        bootstrap_servers=bootstrap,
        compression_type=None if codec == "none" else codec,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=TIMEOUT_MS,
    )
    futures = []
    for key, value, ts, headers in records:
        futures.append(p.send(topic, key=key, value=value, headers=headers, partition=0, timestamp_ms=ts))
    p.flush(timeout=60)
    offsets = [f.get(timeout=60).offset for f in futures]
    p.close(timeout=10)
    emit({"acked": len(offsets), "offsets": offsets})


def consumer(bootstrap):
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        check_crcs=True,
        request_timeout_ms=TIMEOUT_MS + 5000,
    )


def consume(bootstrap, topic, partition, count, out):
    c = consumer(bootstrap)
    tp = TopicPartition(topic, partition)
    w = RecordWriter(out)
    n = 0
    deadline = time.monotonic() + 90
    try:
        c.assign([tp])
        c.seek_to_beginning(tp)
        while n < count and time.monotonic() < deadline:
            for msgs in c.poll(timeout_ms=500, max_records=5000).values():
                for m in msgs:
                    w.write(m.offset, m.key, m.value, m.timestamp, m.headers)
                    n += 1
    finally:
        w.close()
        c.close()
    emit({"consumed": n})


def offsets(bootstrap, topic, partition, targets):
    c = consumer(bootstrap)
    tp = TopicPartition(topic, partition)
    try:
        lo = c.beginning_offsets([tp])[tp]
        hi = c.end_offsets([tp])[tp]
        by_time = []
        for t in targets:
            r = c.offsets_for_times({tp: t})[tp]
            by_time.append([None, None] if r is None else [r.offset, r.timestamp])
    finally:
        c.close()
    emit({"consumerBeginning": lo, "consumerEnd": hi, "consumerByTime": by_time})


def configs(a, topic):
    responses = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    out = {}
    for resp in responses:
        for res in resp.resources:
            error_code, _msg, _rtype, name, entries = res[0], res[1], res[2], res[3], res[4]
            if error_code != 0:
                raise SystemExit(f"describe_configs {name}: error {error_code}")
            for e in entries:
                out[e[0]] = {"value": e[1]}
    return out


def partition_count(a, topic):
    for t in a.describe_topics([topic]):
        if t["topic"] == topic:
            return len(t["partitions"])
    raise SystemExit(f"topic {topic} not described")


def admin(bootstrap, topic):
    a = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_MS)
    out = {}
    try:
        a.create_topics(
            [
                NewTopic(
                    topic,
                    num_partitions=3,
                    replication_factor=1,
                    topic_configs={"retention.ms": "3600000", "max.message.bytes": "2000000", "cleanup.policy": "delete"},
                )
            ]
        )
        out["partitionsAfterCreate"] = partition_count(a, topic)
        out["configsAfterCreate"] = configs(a, topic)
        resp = a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"segment.ms": "600000"})])
        for r in resp.resources:
            if r[0] != 0:
                raise SystemExit(f"alter_configs: error {r[0]} {r[1]}")
        out["configsAfterAlter"] = configs(a, topic)
        a.create_partitions({topic: NewPartitions(total_count=5)})
        out["partitionsAfterCreatePartitions"] = partition_count(a, topic)
        a.delete_topics([topic])
        out["existsAfterDelete"] = topic in a.list_topics()
    finally:
        a.close()
    emit(out)


def main(argv):
    mode, bootstrap = argv[1], argv[2]
    if mode == "produce":
        produce(bootstrap, argv[3], argv[4], argv[5])
    elif mode == "consume":
        consume(bootstrap, argv[3], int(argv[4]), int(argv[5]), argv[6])
    elif mode == "offsets":
        offsets(bootstrap, argv[3], int(argv[4]), [int(t) for t in argv[5].split(",")])
    elif mode == "admin":
        admin(bootstrap, argv[3])
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv)
