export { BROKER_DEFAULTS, Broker, type BrokerOptions, RECORDS_BYTES_MAX, startBroker } from './broker.ts';
export { KafkaError } from './errors.ts';
export { Partition } from './partition.ts';
export { TOPIC_CONFIGS } from './topic-config.ts';
export { type TopicRecord, TopicStore } from './topics.ts';
