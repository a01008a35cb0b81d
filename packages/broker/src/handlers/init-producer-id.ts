/**
 * InitProducerId 0–4 for idempotent producers (no transactional id): a fresh producer id at
 * epoch 0, or the same id at the next epoch when a producer asks to bump its epoch (KIP-360).
 * Transactional producers get UNSUPPORTED_VERSION until transactions exist.
 */
import {
  ApiKey,
  ErrorCode,
  type InitProducerIdRequest,
  type InitProducerIdResponse,
} from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';

const EPOCH_MAX = 32766;

export function initProducerIdHandler(b: Broker): ApiHandler<InitProducerIdRequest, InitProducerIdResponse> {
  return {
    apiKey: ApiKey.InitProducerId,
    minVersion: 0,
    maxVersion: 4,
    errorResponse(_req, errorCode) {
      return { throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 };
    },
    async handle(req) {
      if (req.transactionalId !== null) {
        return {
          throttleTimeMs: 0,
          errorCode: ErrorCode.UNSUPPORTED_VERSION,
          producerId: -1n,
          producerEpoch: -1,
        };
      }
      if (req.producerId >= 0n && req.producerEpoch >= 0 && req.producerEpoch < EPOCH_MAX) {
        return {
          throttleTimeMs: 0,
          errorCode: ErrorCode.NONE,
          producerId: req.producerId,
          producerEpoch: req.producerEpoch + 1,
        };
      }
      const producerId = await b.producerIds.allocate();
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
    },
  };
}
