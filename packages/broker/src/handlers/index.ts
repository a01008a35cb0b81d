/** The handler registry: one file per API; ApiVersions is built by the server from this list. */
import { type ApiHandler, NO_RESPONSE } from '@tributary/server';
import type { Broker } from '../broker.ts';
import { alterConfigsHandler } from './alter-configs.ts';
import { consumerGroupDescribeHandler } from './consumer-group-describe.ts';
import { consumerGroupHeartbeatHandler } from './consumer-group-heartbeat.ts';
import { createPartitionsHandler } from './create-partitions.ts';
import { createTopicsHandler } from './create-topics.ts';
import { deleteGroupsHandler } from './delete-groups.ts';
import { deleteRecordsHandler } from './delete-records.ts';
import { deleteTopicsHandler } from './delete-topics.ts';
import { describeClusterHandler } from './describe-cluster.ts';
import { describeConfigsHandler } from './describe-configs.ts';
import { describeGroupsHandler } from './describe-groups.ts';
import { fetchHandler } from './fetch.ts';
import { findCoordinatorHandler } from './find-coordinator.ts';
import { fitResponse } from './fit.ts';
import { heartbeatHandler } from './heartbeat.ts';
import { incrementalAlterConfigsHandler } from './incremental-alter-configs.ts';
import { initProducerIdHandler } from './init-producer-id.ts';
import { joinGroupHandler } from './join-group.ts';
import { leaveGroupHandler } from './leave-group.ts';
import { listGroupsHandler } from './list-groups.ts';
import { listOffsetsHandler } from './list-offsets.ts';
import { metadataHandler } from './metadata.ts';
import { offsetCommitHandler } from './offset-commit.ts';
import { offsetDeleteHandler } from './offset-delete.ts';
import { offsetFetchHandler } from './offset-fetch.ts';
import { offsetForLeaderEpochHandler } from './offset-for-leader-epoch.ts';
import { produceHandler } from './produce.ts';
import { syncGroupHandler } from './sync-group.ts';

/** Wraps a handler so that its responses are fitted to the request's version. */
function fitted<Req, Res>(h: ApiHandler<Req, Res>): ApiHandler<Req, Res> {
  return {
    apiKey: h.apiKey,
    minVersion: h.minVersion,
    maxVersion: h.maxVersion,
    ...(h.servedMinVersion === undefined ? {} : { servedMinVersion: h.servedMinVersion }),
    async handle(req, ctx) {
      const res = await h.handle(req, ctx);
      return res === NO_RESPONSE ? res : fitResponse(h.apiKey, ctx.apiVersion, res as Res);
    },
    errorResponse(req, errorCode, apiVersion) {
      return fitResponse(h.apiKey, apiVersion, h.errorResponse(req, errorCode, apiVersion));
    },
  };
}

export function buildHandlers(b: Broker): ApiHandler[] {
  return [
    produceHandler(b),
    fetchHandler(b),
    listOffsetsHandler(b),
    metadataHandler(b),
    offsetForLeaderEpochHandler(b),
    createTopicsHandler(b),
    deleteTopicsHandler(b),
    deleteRecordsHandler(b),
    initProducerIdHandler(b),
    describeConfigsHandler(b),
    alterConfigsHandler(b),
    incrementalAlterConfigsHandler(b),
    createPartitionsHandler(b),
    describeClusterHandler(b),
    // consumer groups (groups/)
    findCoordinatorHandler(b),
    joinGroupHandler(b),
    syncGroupHandler(b),
    heartbeatHandler(b),
    leaveGroupHandler(b),
    offsetCommitHandler(b),
    offsetFetchHandler(b),
    describeGroupsHandler(b),
    listGroupsHandler(b),
    deleteGroupsHandler(b),
    offsetDeleteHandler(b),
    consumerGroupHeartbeatHandler(b),
    consumerGroupDescribeHandler(b),
  ].map((h) => fitted(h as ApiHandler<unknown, unknown>));
}
