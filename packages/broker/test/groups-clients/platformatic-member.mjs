// A @platformatic/kafka group member in its own process (so a test can SIGKILL it): joins
// `group` on `topic` (static when an instance id is given) and prints one JSON line per join.
// Usage: node platformatic-member.mjs <bootstrap> <group> <topic> <sessionTimeoutMs> [instanceId]
import { Consumer } from '@platformatic/kafka';

const [bootstrap, groupId, topic, session, instanceId] = process.argv.slice(2);
const consumer = new Consumer({
  clientId: 'member-child',
  bootstrapBrokers: [bootstrap],
  groupId,
  ...(instanceId ? { groupInstanceId: instanceId } : {}),
  sessionTimeout: Number(session),
  rebalanceTimeout: 10_000,
  heartbeatInterval: 200,
  retries: 10,
  retryDelay: 100,
});
consumer.on('consumer:group:join', (e) => {
  const partitions = (e.assignments ?? []).find((a) => a.topic === topic)?.partitions ?? [];
  process.stdout.write(
    `${JSON.stringify({ event: 'join', memberId: e.memberId, generation: e.generationId, partitions })}\n`,
  );
});
consumer.topics.trackAll(topic);
await consumer.joinGroup({});
