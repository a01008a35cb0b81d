# A confluent-kafka-python (librdkafka) group member for the broker's group tests. Prints one
# line per event: assigned <p,p,...> | revoked <p,...> | lost <p,...> | rec <partition> <offset> <value> | closed
# Commits synchronously after every consume() batch and on revocation (no auto commit), so a
# clean handoff delivers nothing twice. Reads "stop" on stdin: commits, closes (LeaveGroup).
# Usage: python confluent_member.py <bootstrap> <group> <topic> <assignor> <sessionTimeoutMs>
# assignor: range | cooperative-sticky (classic protocol), or consumer-uniform | consumer-range
# (KIP-848: group.protocol=consumer with that server-side assignor; the broker's session timeout).
import sys
import threading

from confluent_kafka import Consumer, KafkaException

bootstrap, group, topic, assignor, session = sys.argv[1:6]
stop = threading.Event()


def out(s):
    sys.stdout.write(s + "\n")
    sys.stdout.flush()


def parts(ps):
    return ",".join(str(p) for p in sorted(tp.partition for tp in ps))


def read_stdin():
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    stop.set()


threading.Thread(target=read_stdin, daemon=True).start()
conf = {
    "bootstrap.servers": bootstrap,
    "group.id": group,
    "client.id": "rdkafka-member",
    "max.poll.interval.ms": 20000,
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "fetch.wait.max.ms": 200,
}
incremental = assignor != "range"
if assignor.startswith("consumer-"):
    conf["group.protocol"] = "consumer"
    conf["group.remote.assignor"] = assignor[len("consumer-"):]
else:
    conf["partition.assignment.strategy"] = assignor
    conf["session.timeout.ms"] = int(session)
    conf["heartbeat.interval.ms"] = 300
c = Consumer(conf)


def on_assign(consumer, ps):
    if incremental:
        consumer.incremental_assign(ps)
    else:
        consumer.assign(ps)
    out("assigned " + parts(consumer.assignment()))


def on_revoke(consumer, ps):
    if ps:
        try:
            consumer.commit(asynchronous=False)
        except KafkaException:
            pass
    if incremental:
        consumer.incremental_unassign(ps)
    else:
        consumer.unassign()
    out("revoked " + parts(ps))


def on_lost(consumer, ps):
    out("lost " + parts(ps))


c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
while not stop.is_set():
    msgs = c.consume(num_messages=500, timeout=0.2)
    got = False
    for m in msgs:
        if m.error():
            continue
        got = True
        out("rec %d %d %s" % (m.partition(), m.offset(), m.value().decode()))
    if got:
        try:
            c.commit(asynchronous=False)
        except KafkaException as e:
            out("commit-error " + str(e))
try:
    c.commit(asynchronous=False)
except KafkaException:
    pass
c.close()
out("closed")
