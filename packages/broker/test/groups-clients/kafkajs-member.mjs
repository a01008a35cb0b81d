// A kafkajs group member in its own process (so a test can SIGKILL it): consumes `topic` in
// `group` from the beginning and prints one JSON line per record and per group join.
// Usage: node kafkajs-member.mjs <bootstrap> <group> <topic> <sessionTimeoutMs>
import { Kafka, logLevel } from 'kafkajs';

const [bootstrap, groupId, topic, session] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'member-child', brokers: [bootstrap], logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({
  groupId,
  sessionTimeout: Number(session),
  rebalanceTimeout: 10_000,
  heartbeatInterval: 300,
  maxWaitTimeInMs: 200,
});
consumer.on(consumer.events.GROUP_JOIN, (e) => {
  process.stdout.write(
    `${JSON.stringify({ event: 'join', generation: e.payload.groupProtocol, assignment: e.payload.memberAssignment })}\n`,
  );
});
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
await consumer.run({
  eachMessage: async ({ partition, message }) => {
    process.stdout.write(
      `${JSON.stringify({ v: message.value.toString(), p: partition, o: message.offset })}\n`,
    );
  },
});
