/**
 * @tributary/server — the Kafka wire server: TCP, size-prefixed frames, an ordered request
 * pipeline with backpressure, dispatch to API handlers, and ApiVersions. Knows nothing of topics.
 */
export {
  type ApiVersionsHandlerOptions,
  advertisedVersions,
  createApiVersionsHandler,
} from './api-versions.ts';
export { FrameReader, FrameSizeError } from './frame-reader.ts';
export {
  buildHandlerTable,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_CONNECTION_IN_FLIGHT_BYTES_MAX,
  DEFAULT_CONNECTION_IN_FLIGHT_REQUESTS_MAX,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  KafkaServer,
} from './server.ts';
export {
  type ApiHandler,
  type ApiVersionsFeatures,
  type HandlerResult,
  type KafkaServerOptions,
  type KafkaServerStats,
  type Logger,
  NO_RESPONSE,
  type RequestContext,
} from './types.ts';
