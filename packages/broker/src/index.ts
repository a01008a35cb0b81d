export { BROKER_DEFAULTS, Broker, type BrokerOptions, RECORDS_BYTES_MAX, startBroker } from './broker.ts';
export { KafkaError } from './errors.ts';
export { GROUP_BROKER_DEFAULTS } from './groups/index.ts';
export { Partition } from './partition.ts';
export { TOPIC_CONFIGS } from './topic-config.ts';
export { type TopicRecord, TopicStore } from './topics.ts';
