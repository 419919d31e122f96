/**
 * Settings of the authorization API (the `authz` group), from the environment, read once per cold
 * start. Every default is OpenFGA's server default where OpenFGA has one.
 *
 * | variable | meaning | default |
 * |---|---|---|
 * | `PORTCULLIS_AUTHZ_CHECK_CACHE_SIZE` | check results kept per container (0 disables) | 100000 |
 * | `PORTCULLIS_AUTHZ_REVISION_TTL_MS` | how long a container trusts the store revision and latest model it knows (`MINIMIZE_LATENCY`) | 1000 |
 * | `PORTCULLIS_AUTHZ_MAX_STALE_MS` | up to this age a known revision is still served while it is refreshed in the background | 5000 |
 * | `PORTCULLIS_AUTHZ_COMMIT_WINDOW_MS` | check results are cached only once the store's head revision is this old (writers commit out of revision order within it; stores with a synchronous head are exempt) | 10000 |
 * | `PORTCULLIS_AUTHZ_STORE_CACHE_MS` | how long a container remembers which tenant owns a store | 30000 |
 * | `PORTCULLIS_AUTHZ_AUTH_CACHE_MS` | how long a container remembers an authenticated credential (0 disables) | 5000 |
 * | `PORTCULLIS_AUTHZ_PEER_REGIONS` | comma list: regions whose replica may answer for a token written there | – |
 * | `PORTCULLIS_AUTHZ_REPLICA_SETTLE_MS` | trust this region's replica for another region's token once the token's change has arrived and is this old (0: never, always ask the writing region) | 0 |
 * | `PORTCULLIS_AUTHZ_REPLICA_WAIT_MS` | how long to wait for this region's replica before refusing with 503 | 1000 |
 * | `PORTCULLIS_AUTHZ_LIST_MAX_RESULTS` | list-objects / list-users page cap (OpenFGA `OPENFGA_LIST_OBJECTS_MAX_RESULTS`) | 1000 |
 * | `PORTCULLIS_AUTHZ_LIST_DEADLINE_MS` | list-objects / list-users deadline (OpenFGA `OPENFGA_LIST_OBJECTS_DEADLINE`) | 3000 |
 * | `PORTCULLIS_AUTHZ_LIST_SCAN_LIMIT` | objects one search may reach (continued pages, streamed list-objects) | 10000 |
 * | `PORTCULLIS_AUTHZ_MAX_CHECKS_PER_BATCH` | checks per batch-check (OpenFGA `OPENFGA_MAX_CHECKS_PER_BATCH_CHECK`) | 50 |
 */
import { z } from "zod";

/** Validated settings of the authorization API. */
export interface AuthzHttpSettings {
  readonly checkCacheSize: number;
  readonly revisionTtlMs: number;
  readonly maxStaleMs: number;
  readonly commitWindowMs: number;
  readonly storeCacheMs: number;
  readonly authCacheMs: number;
  readonly peerRegions: readonly string[];
  readonly replicaSettleMs: number;
  readonly replicaWaitMs: number;
  readonly listMaxResults: number;
  readonly listDeadlineMs: number;
  readonly listScanLimit: number;
  readonly maxChecksPerBatch: number;
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const schema = z.object({
  PORTCULLIS_AUTHZ_CHECK_CACHE_SIZE: int(0, 10_000_000).default(100_000),
  PORTCULLIS_AUTHZ_REVISION_TTL_MS: int(0, 600_000).default(1000),
  PORTCULLIS_AUTHZ_MAX_STALE_MS: int(0, 600_000).default(5000),
  PORTCULLIS_AUTHZ_COMMIT_WINDOW_MS: int(0, 600_000).default(10_000),
  PORTCULLIS_AUTHZ_STORE_CACHE_MS: int(0, 3_600_000).default(30_000),
  PORTCULLIS_AUTHZ_AUTH_CACHE_MS: int(0, 300_000).default(5000),
  PORTCULLIS_AUTHZ_PEER_REGIONS: z
    .string()
    .regex(/^([a-z]{2}(-[a-z]+)+-\d)(,[a-z]{2}(-[a-z]+)+-\d)*$/, "must be a comma-separated list of regions")
    .optional(),
  PORTCULLIS_AUTHZ_REPLICA_SETTLE_MS: int(0, 3_600_000).default(0),
  PORTCULLIS_AUTHZ_REPLICA_WAIT_MS: int(0, 10_000).default(1000),
  PORTCULLIS_AUTHZ_LIST_MAX_RESULTS: int(1, 100_000).default(1000),
  PORTCULLIS_AUTHZ_LIST_DEADLINE_MS: int(100, 60_000).default(3000),
  PORTCULLIS_AUTHZ_LIST_SCAN_LIMIT: int(1, 1_000_000).default(10_000),
  PORTCULLIS_AUTHZ_MAX_CHECKS_PER_BATCH: int(1, 1000).default(50),
});

/** The defaults (what an empty environment yields). */
export const DEFAULT_AUTHZ_HTTP_SETTINGS: AuthzHttpSettings = authzSettingsFromEnv({});

/** Reads the settings; throws naming the offending variables (never their values). */
export function authzSettingsFromEnv(env: NodeJS.ProcessEnv): AuthzHttpSettings {
  const r = schema.safeParse(env);
  if (!r.success) {
    const bad = r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`Invalid configuration: ${bad}`);
  }
  const e = r.data;
  if (e.PORTCULLIS_AUTHZ_LIST_SCAN_LIMIT < e.PORTCULLIS_AUTHZ_LIST_MAX_RESULTS) {
    throw new Error(
      "Invalid configuration: PORTCULLIS_AUTHZ_LIST_SCAN_LIMIT: must be at least PORTCULLIS_AUTHZ_LIST_MAX_RESULTS",
    );
  }
  return {
    checkCacheSize: e.PORTCULLIS_AUTHZ_CHECK_CACHE_SIZE,
    revisionTtlMs: e.PORTCULLIS_AUTHZ_REVISION_TTL_MS,
    maxStaleMs: Math.max(e.PORTCULLIS_AUTHZ_MAX_STALE_MS, e.PORTCULLIS_AUTHZ_REVISION_TTL_MS),
    commitWindowMs: e.PORTCULLIS_AUTHZ_COMMIT_WINDOW_MS,
    storeCacheMs: e.PORTCULLIS_AUTHZ_STORE_CACHE_MS,
    authCacheMs: e.PORTCULLIS_AUTHZ_AUTH_CACHE_MS,
    peerRegions: e.PORTCULLIS_AUTHZ_PEER_REGIONS ? e.PORTCULLIS_AUTHZ_PEER_REGIONS.split(",") : [],
    replicaSettleMs: e.PORTCULLIS_AUTHZ_REPLICA_SETTLE_MS,
    replicaWaitMs: e.PORTCULLIS_AUTHZ_REPLICA_WAIT_MS,
    listMaxResults: e.PORTCULLIS_AUTHZ_LIST_MAX_RESULTS,
    listDeadlineMs: e.PORTCULLIS_AUTHZ_LIST_DEADLINE_MS,
    listScanLimit: e.PORTCULLIS_AUTHZ_LIST_SCAN_LIMIT,
    maxChecksPerBatch: e.PORTCULLIS_AUTHZ_MAX_CHECKS_PER_BATCH,
  };
}

/**
 * Engine options that follow from the settings: the engine searches up to the scan limit (the
 * HTTP layer pages at `listMaxResults`), and this layer's check cache replaces the engine's own.
 */
export function engineOptions(s: AuthzHttpSettings) {
  return {
    listObjectsMaxResults: s.listScanLimit,
    listUsersMaxResults: s.listScanLimit,
    listObjectsDeadlineMs: s.listDeadlineMs,
    listUsersDeadlineMs: s.listDeadlineMs,
    maxChecksPerBatchCheck: s.maxChecksPerBatch,
    checkCacheSize: 0,
  } as const;
}
