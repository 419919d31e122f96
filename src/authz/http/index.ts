/**
 * The authorization API (OpenFGA HTTP API) for the `authz` group: `createAuthzHttp` builds the
 * per-container caches and consistency routing around an `AuthzService` and returns the routes,
 * the error renderer and the (credential-caching) authenticator the group uses.
 */
import type { ErrorRenderer } from "../../http/problem.ts";
import type { Authenticator, Route } from "../../http/types.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/logger.ts";
import { CheckResultCache } from "../caching/check-results.ts";
import { AuthzMetrics, prefixed } from "../caching/metrics.ts";
import { cachingAuthenticator, type PrincipalCacheStats } from "../caching/principal-cache.ts";
import { Watermark } from "../caching/watermark.ts";
import type { AuthzService, AuthzStore } from "../index.ts";
import { isSyncTupleReader } from "../ports.ts";
import { Consistency } from "./consistency.ts";
import type { AuthzHttpContext } from "./context.ts";
import { renderOpenFgaError } from "./errors.ts";
import { authzRoutes } from "./routes.ts";
import type { AuthzHttpSettings } from "./settings.ts";
import { Tenancy } from "./tenancy.ts";

export { CONSISTENCY_TOKEN_HEADER } from "./consistency-token.ts";
export { TRUNCATED_HEADER } from "./list-continuation.ts";
export { CACHE_HEADER } from "./queries.ts";
export {
  type AuthzHttpSettings,
  authzSettingsFromEnv,
  DEFAULT_AUTHZ_HTTP_SETTINGS,
  engineOptions,
} from "./settings.ts";
export { TENANT_HEADER } from "./tenancy.ts";
export { renderOpenFgaError };

export interface AuthzHttpDeps {
  /** The service of this region (built on `store`). */
  readonly service: AuthzService;
  /** The store under `service`: head revisions and changelog probes for consistency tokens. */
  readonly store: AuthzStore;
  /** This deployment's region (`local` on a laptop); written into consistency tokens. */
  readonly region: string;
  /** The service on another region's replica, for configured peer regions only. */
  readonly peer?: (region: string) => AuthzService | undefined;
  readonly tenantIsActive: (tenantId: string) => Promise<boolean>;
  /** The platform's authenticator (wrapped with a short credential cache). */
  readonly authenticator: Authenticator;
  readonly settings: AuthzHttpSettings;
  readonly clock: Clock;
  readonly log: Logger;
  /** Compute the granting path of allowed checks (the audit reason). @default false */
  readonly grantingPaths?: boolean;
  /** For tests: replaces the waits of the replica fallback. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface AuthzHttp {
  readonly routes: Route[];
  readonly renderError: ErrorRenderer;
  readonly authenticator: Authenticator;
  /** Running totals of the cache and consistency counters (also logged as EMF metrics). */
  readonly metrics: AuthzMetrics;
  /** The shared state, for tests. */
  readonly context: AuthzHttpContext;
}

export function createAuthzHttp(d: AuthzHttpDeps): AuthzHttp {
  const s = d.settings;
  const metrics = new AuthzMetrics({ now: () => d.clock.now() });
  const onBackgroundError = (err: unknown) => {
    metrics.count("background_refresh_errors");
    d.log.warn("authz background refresh failed", { err });
  };
  const sync = isSyncTupleReader(d.store) ? d.store : undefined;
  const revisions = new Watermark({
    read: async (storeId) => (await d.store.headRevision(storeId)) ?? "",
    readSync: sync ? (storeId) => sync.headRevisionSync(storeId) ?? "" : undefined,
    clock: d.clock,
    ttlMs: s.revisionTtlMs,
    maxStaleMs: s.maxStaleMs,
    onBackgroundError,
  });
  const models = new Watermark({
    read: async (storeId) =>
      (await d.service.readAuthorizationModels(storeId, { pageSize: 1 })).authorizationModels[0]?.id ?? "",
    clock: d.clock,
    ttlMs: s.revisionTtlMs,
    maxStaleMs: s.maxStaleMs,
    onBackgroundError,
  });
  const checks = new CheckResultCache(s.checkCacheSize);
  const tenancy = new Tenancy({
    service: d.service,
    tenantIsActive: d.tenantIsActive,
    clock: d.clock,
    storeCacheMs: s.storeCacheMs,
  });
  const peers = new Set(s.peerRegions);
  const consistency = new Consistency({
    service: d.service,
    store: d.store,
    region: d.region,
    peer: (region) => (peers.has(region) && region !== d.region ? d.peer?.(region) : undefined),
    revisions,
    models,
    clock: d.clock,
    replicaSettleMs: s.replicaSettleMs,
    replicaWaitMs: s.replicaWaitMs,
    count: (m) => metrics.count(m),
    ...(d.sleep ? { sleep: d.sleep } : {}),
  });
  const principalStats: PrincipalCacheStats = { hits: 0, misses: 0 };
  metrics.register(prefixed("check_cache", checks.stats));
  metrics.register(prefixed("revision", revisions.stats));
  metrics.register(prefixed("latest_model", models.stats));
  metrics.register(() => ({ ...tenancy.stats }));
  metrics.register(prefixed("credential_cache", principalStats));
  const context: AuthzHttpContext = {
    service: d.service,
    region: d.region,
    settings: s,
    clock: d.clock,
    tenancy,
    consistency,
    checks,
    revisions,
    models,
    metrics,
    grantingPaths: d.grantingPaths ?? false,
    // A synchronous head (the memory store) is drawn at commit, in commit order: nothing to wait for.
    commitWindowMs: sync ? 0 : s.commitWindowMs,
  };
  return {
    routes: authzRoutes(context),
    renderError: renderOpenFgaError,
    authenticator: cachingAuthenticator(d.authenticator, {
      ttlMs: s.authCacheMs,
      clock: d.clock,
      stats: principalStats,
    }),
    metrics,
    context,
  };
}
