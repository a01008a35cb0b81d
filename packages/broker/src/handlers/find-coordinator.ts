/**
 * FindCoordinator 0–4 (v4: batched keys). This broker coordinates every group (key type 0)
 * once the group's `__consumer_offsets` partition is loaded. Key type 1 (transactions) also
 * names this broker: a transactional producer then gets a clear UNSUPPORTED_VERSION from
 * InitProducerId instead of retrying COORDINATOR_NOT_AVAILABLE until its timeout.
 */
import {
  ApiKey,
  ErrorCode,
  type FindCoordinatorRequest,
  type FindCoordinatorResponse,
  type FindCoordinatorResponseCoordinator,
} from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { errorCodeOf, messageOf } from '../errors.ts';
import { groupCoordinator } from '../groups/index.ts';

const KEY_GROUP = 0;
const KEY_TRANSACTION = 1;

export function findCoordinatorHandler(
  b: Broker,
): ApiHandler<FindCoordinatorRequest, FindCoordinatorResponse> {
  const coordinators = groupCoordinator(b);
  const one = async (key: string, keyType: number): Promise<FindCoordinatorResponseCoordinator> => {
    const node = { key, nodeId: b.brokerId, host: b.advertised.host, port: b.advertised.port };
    const failed = (errorCode: number, errorMessage: string) => ({
      key,
      nodeId: -1,
      host: '',
      port: -1,
      errorCode,
      errorMessage,
    });
    if (keyType === KEY_GROUP) {
      try {
        await coordinators.ensureLoaded(key);
      } catch (err) {
        const code = errorCodeOf(err);
        return failed(
          code === ErrorCode.UNKNOWN_SERVER_ERROR ? ErrorCode.COORDINATOR_NOT_AVAILABLE : code,
          messageOf(err),
        );
      }
      return { ...node, errorCode: ErrorCode.NONE, errorMessage: null };
    }
    if (keyType === KEY_TRANSACTION) return { ...node, errorCode: ErrorCode.NONE, errorMessage: null };
    return failed(ErrorCode.INVALID_REQUEST, `unknown key type ${keyType}`);
  };
  return {
    apiKey: ApiKey.FindCoordinator,
    minVersion: 0,
    maxVersion: 4,
    errorResponse(req, errorCode, apiVersion) {
      return {
        throttleTimeMs: 0,
        errorCode,
        errorMessage: null,
        nodeId: -1,
        host: '',
        port: -1,
        coordinators:
          apiVersion >= 4
            ? req.coordinatorKeys.map((key) => ({
                key,
                nodeId: -1,
                host: '',
                port: -1,
                errorCode,
                errorMessage: null,
              }))
            : [],
      };
    },
    async handle(req, ctx) {
      const v = ctx.apiVersion;
      const keyType = v >= 1 ? req.keyType : KEY_GROUP;
      if (v >= 4) {
        const coordinators = await Promise.all(req.coordinatorKeys.map((k) => one(k, keyType)));
        return {
          throttleTimeMs: 0,
          errorCode: 0,
          errorMessage: null,
          nodeId: 0,
          host: '',
          port: 0,
          coordinators,
        };
      }
      const c = await one(req.key, keyType);
      return {
        throttleTimeMs: 0,
        errorCode: c.errorCode,
        errorMessage: c.errorMessage,
        nodeId: c.nodeId,
        host: c.host,
        port: c.port,
        coordinators: [],
      };
    },
  };
}
