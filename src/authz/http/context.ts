/**
 * The per-container state of the authorization API: the service, caches and consistency routing,
 * built once (cold start / local platform) by `createAuthzHttp` and shared by every route.
 */
import type { Clock } from "../../shared/clock.ts";
import type { CheckResultCache } from "../caching/check-results.ts";
import type { AuthzMetrics } from "../caching/metrics.ts";
import type { Watermark } from "../caching/watermark.ts";
import type { AuthzService } from "../index.ts";
import type { Consistency } from "./consistency.ts";
import type { AuthzHttpSettings } from "./settings.ts";
import type { Tenancy } from "./tenancy.ts";

export interface AuthzHttpContext {
  readonly service: AuthzService;
  readonly region: string;
  readonly settings: AuthzHttpSettings;
  readonly clock: Clock;
  readonly tenancy: Tenancy;
  readonly consistency: Consistency;
  readonly checks: CheckResultCache;
  /** Head changelog revision per store. */
  readonly revisions: Watermark;
  /** Latest authorization model id per store. */
  readonly models: Watermark;
  readonly metrics: AuthzMetrics;
  /** Compute the granting path of allowed checks, for the audit reason (`meta` of the response). */
  readonly grantingPaths: boolean;
  /**
   * Check results are cached only under a head revision at least this old (0: always). Writers
   * draw revisions before they commit, so within this window a write with an older revision can
   * still land without moving the head; results computed then are not cached.
   */
  readonly commitWindowMs: number;
}

/** Response headers OpenFGA sets on store-scoped answers. */
export const fgaHeaders = (storeId: string, modelId?: string): Record<string, string> =>
  modelId
    ? { "openfga-store-id": storeId, "openfga-authorization-model-id": modelId }
    : { "openfga-store-id": storeId };
