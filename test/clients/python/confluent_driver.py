"""confluent-kafka-python (librdkafka) driver of the client compatibility suite.

  produce  BOOTSTRAP TOPIC CODEC FILE
  consume  BOOTSTRAP TOPIC PARTITION COUNT OUTFILE
  offsets  BOOTSTRAP TOPIC PARTITION TS[,TS...]
  admin    BOOTSTRAP TOPIC
Prints one JSON object on stdout.
"""
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

from records import RecordWriter, emit, read_records

TIMEOUT = 30


def produce(bootstrap, topic, codec, path):
    records = read_records(path)
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "compression.type": codec,
            "enable.idempotence": True,
            "linger.ms": 5,
            "message.timeout.ms": 60000,
        }
    )
    errors = []
    offsets = [None] * len(records)

    def on_delivery(index):
        def cb(err, msg):
            if err is not None:
                errors.append(str(err))
            else:
                offsets[index] = msg.offset()

        return cb

    for i, (key, value, ts, headers) in enumerate(records):
        while True:
            try:
                p.produce(topic, value=value, key=key, partition=0, timestamp=ts, headers=headers, on_delivery=on_delivery(i))
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(60)
    if left or errors:
        raise SystemExit(f"produce failed: {left} undelivered, errors {errors[:5]}")
    emit({"acked": sum(1 for o in offsets if o is not None), "offsets": offsets})


def consume(bootstrap, topic, partition, count, out):
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "tributary-clients-unused",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "check.crcs": True,
        }
    )
    w = RecordWriter(out)
    n = 0
    deadline = time.monotonic() + 90
    try:
        c.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
        while n < count and time.monotonic() < deadline:
            for m in c.consume(num_messages=1000, timeout=0.5):
                if m.error() is not None:
                    raise KafkaException(m.error())
                w.write(m.offset(), m.key(), m.value(), m.timestamp()[1], m.headers())
                n += 1
    finally:
        w.close()
        c.close()
    emit({"consumed": n})


def offsets(bootstrap, topic, partition, targets):
    a = AdminClient({"bootstrap.servers": bootstrap})
    tp = TopicPartition(topic, partition)

    def admin_list(spec):
        fs = a.list_offsets({tp: spec}, request_timeout=TIMEOUT)
        return list(fs.values())[0].result(timeout=TIMEOUT)

    e = admin_list(OffsetSpec.earliest())
    l = admin_list(OffsetSpec.latest())
    m = admin_list(OffsetSpec.max_timestamp())
    by_time = []
    for t in targets:
        r = admin_list(OffsetSpec.for_timestamp(t))
        by_time.append([None, None] if r.offset < 0 else [r.offset, r.timestamp])
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "tributary-clients-unused", "enable.auto.commit": False})
    try:
        lo, hi = c.get_watermark_offsets(tp, timeout=TIMEOUT)
        consumer_by_time = []
        for t in targets:
            r = c.offsets_for_times([TopicPartition(topic, partition, t)], timeout=TIMEOUT)[0]
            if r.error is not None:
                raise KafkaException(r.error)
            consumer_by_time.append([None, None] if r.offset < 0 else [r.offset, None])
    finally:
        c.close()
    emit(
        {
            "earliest": e.offset,
            "latest": l.offset,
            "maxTimestamp": [m.offset, m.timestamp],
            "adminByTime": by_time,
            "consumerBeginning": lo,
            "consumerEnd": hi,
            "consumerByTime": consumer_by_time,
        }
    )


def wait(fs):
    for f in fs.values():
        f.result(timeout=TIMEOUT)


def configs(a, topic):
    res = ConfigResource(ResourceType.TOPIC, topic)
    entries = list(a.describe_configs([res], request_timeout=TIMEOUT).values())[0].result(timeout=TIMEOUT)
    return {
        name: {"value": e.value, "source": ConfigSource(e.source).name}
        for name, e in entries.items()
    }


def partition_count(a, topic):
    md = a.list_topics(topic=topic, timeout=TIMEOUT)
    return len(md.topics[topic].partitions)


def admin(bootstrap, topic):
    a = AdminClient({"bootstrap.servers": bootstrap})
    out = {}
    wait(
        a.create_topics(
            [
                NewTopic(
                    topic,
                    num_partitions=3,
                    replication_factor=1,
                    config={"retention.ms": "3600000", "max.message.bytes": "2000000", "cleanup.policy": "delete"},
                )
            ],
            request_timeout=TIMEOUT,
        )
    )
    out["partitionsAfterCreate"] = partition_count(a, topic)
    out["configsAfterCreate"] = configs(a, topic)
    wait(
        a.incremental_alter_configs(
            [
                ConfigResource(
                    ResourceType.TOPIC,
                    topic,
                    incremental_configs=[
                        ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET),
                        ConfigEntry("retention.bytes", "1048576", incremental_operation=AlterConfigOpType.SET),
                        ConfigEntry("max.message.bytes", None, incremental_operation=AlterConfigOpType.DELETE),
                    ],
                )
            ],
            request_timeout=TIMEOUT,
        )
    )
    out["configsAfterIncremental"] = configs(a, topic)
    wait(a.alter_configs([ConfigResource(ResourceType.TOPIC, topic, set_config={"segment.ms": "600000"})], request_timeout=TIMEOUT))
    out["configsAfterAlter"] = configs(a, topic)
    wait(a.create_partitions([NewPartitions(topic, 5)], request_timeout=TIMEOUT))
    out["partitionsAfterCreatePartitions"] = partition_count(a, topic)
    wait(a.delete_topics([topic], request_timeout=TIMEOUT))
    out["existsAfterDelete"] = topic in a.list_topics(timeout=TIMEOUT).topics
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
