/** DescribeCluster 0–1. */
import {
  ApiKey,
  type DescribeClusterRequest,
  type DescribeClusterResponse,
  ErrorCode,
} from '@tributary/protocol';
import type { ApiHandler } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { AUTHORIZED_OPERATIONS_OMITTED } from './common.ts';

export function describeClusterHandler(
  b: Broker,
): ApiHandler<DescribeClusterRequest, DescribeClusterResponse> {
  const response = (
    errorCode: number,
    errorMessage: string | null,
    endpointType: number,
  ): DescribeClusterResponse => ({
    throttleTimeMs: 0,
    errorCode,
    errorMessage,
    endpointType,
    clusterId: b.clusterId,
    controllerId: b.brokerId,
    brokers:
      errorCode === ErrorCode.NONE
        ? [{ brokerId: b.brokerId, host: b.advertised.host, port: b.advertised.port, rack: null }]
        : [],
    clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  });
  return {
    apiKey: ApiKey.DescribeCluster,
    minVersion: 0,
    maxVersion: 1,
    errorResponse(req, errorCode) {
      return response(errorCode, null, req.endpointType);
    },
    handle(req, ctx) {
      const endpointType = ctx.apiVersion >= 1 ? req.endpointType : 1;
      if (endpointType !== 1) {
        return response(
          ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
          'only broker endpoints (1) are served',
          endpointType,
        );
      }
      return response(ErrorCode.NONE, null, endpointType);
    },
  };
}
