/**
 * The built-in ApiVersions handler (api key 18): it advertises exactly the handlers registered,
 * so what a client sees is what the server serves.
 *
 * As Kafka does: supported features with minVersion 0 are left out below v4 (KAFKA-17492),
 * finalized features at level 0 are not listed; v3+ requests whose client software name or version is not
 * `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?` get INVALID_REQUEST (42); a version outside the
 * handler's range gets, from the server, a v0 body with UNSUPPORTED_VERSION (35) (see
 * unsupportedApiVersionsResponse). The response header is always v0 (the protocol's
 * encodeResponse does that for api key 18).
 */
import {
  ApiKey,
  type ApiVersionsRequest,
  type ApiVersionsResponse,
  type ApiVersionsResponseApiVersion,
  apiByKey,
  ErrorCode,
} from '@tributary/protocol';
import type { ApiHandler, ApiVersionsFeatures } from './types.ts';

const API_VERSIONS_KEY: number = ApiKey.ApiVersions;
const SOFTWARE_NAME_VERSION = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

/** The ApiVersions key list for a handler registry, sorted by api key. */
export function advertisedVersions(handlers: readonly ApiHandler[]): ApiVersionsResponseApiVersion[] {
  return handlers
    .map((h) => ({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion }))
    .sort((a, b) => a.apiKey - b.apiKey);
}

export interface ApiVersionsHandlerOptions extends ApiVersionsFeatures {
  /**
   * The other handlers of the server. The list advertised is these plus ApiVersions itself.
   * May be a function, evaluated once on the first request (the registry is fixed by then).
   */
  handlers: readonly ApiHandler[] | (() => readonly ApiHandler[]);
  /** Default: the protocol's whole ApiVersions range (0–4). */
  minVersion?: number;
  maxVersion?: number;
}

/** Builds an ApiVersions handler advertising `handlers` plus itself. */
export function createApiVersionsHandler(
  options: ApiVersionsHandlerOptions,
): ApiHandler<ApiVersionsRequest, ApiVersionsResponse> {
  const spec = apiByKey.get(API_VERSIONS_KEY)!;
  const minVersion = options.minVersion ?? spec.minVersion;
  const maxVersion = options.maxVersion ?? spec.maxVersion;
  const supportedFeatures = (options.supportedFeatures ?? []).map((f) => ({ ...f }));
  const finalizedFeatures = (options.finalizedFeatures ?? [])
    .filter((f) => f.maxVersionLevel !== 0)
    .map((f) => ({ ...f }));
  const finalizedFeaturesEpoch = options.finalizedFeaturesEpoch ?? -1n;
  // Kafka (KAFKA-17492): below v4, supported features whose minimum is 0 are left out (older
  // clients fail to parse them); finalized features at level 0 are never listed.
  const supportedBelowV4 = supportedFeatures.filter((f) => f.minVersion !== 0);
  let keys: ApiVersionsResponseApiVersion[] | null = null;
  let ok: ApiVersionsResponse | null = null;
  let okBelowV4: ApiVersionsResponse | null = null;

  const handler: ApiHandler<ApiVersionsRequest, ApiVersionsResponse> = {
    apiKey: API_VERSIONS_KEY,
    minVersion,
    maxVersion,
    handle(req, ctx) {
      if (ctx.apiVersion >= 3 && !isValidSoftware(req)) {
        return handler.errorResponse(req, ErrorCode.INVALID_REQUEST, ctx.apiVersion);
      }
      if (ok === null) {
        const apiKeys = keyList();
        const base = { errorCode: ErrorCode.NONE, apiKeys, throttleTimeMs: 0, zkMigrationReady: false };
        ok = { ...base, supportedFeatures, finalizedFeaturesEpoch, finalizedFeatures };
        okBelowV4 = {
          ...base,
          supportedFeatures: supportedBelowV4,
          finalizedFeaturesEpoch,
          finalizedFeatures,
        };
      }
      return ctx.apiVersion >= 4 ? ok : okBelowV4!;
    },
    errorResponse(_req, errorCode) {
      return {
        errorCode,
        apiKeys: errorCode === ErrorCode.UNSUPPORTED_VERSION ? keyList() : [],
        throttleTimeMs: 0,
        supportedFeatures: [],
        finalizedFeaturesEpoch: -1n,
        finalizedFeatures: [],
        zkMigrationReady: false,
      };
    },
  };

  function keyList(): ApiVersionsResponseApiVersion[] {
    if (keys === null) {
      const others = typeof options.handlers === 'function' ? options.handlers() : options.handlers;
      keys = advertisedVersions([handler, ...others.filter((h) => h.apiKey !== API_VERSIONS_KEY)]);
    }
    return keys;
  }

  return handler;
}

function isValidSoftware(req: ApiVersionsRequest): boolean {
  return (
    SOFTWARE_NAME_VERSION.test(req.clientSoftwareName) &&
    SOFTWARE_NAME_VERSION.test(req.clientSoftwareVersion)
  );
}

/** An empty ApiVersions request, for answering a version the server cannot decode. */
export const EMPTY_API_VERSIONS_REQUEST: ApiVersionsRequest = {
  clientSoftwareName: '',
  clientSoftwareVersion: '',
};
