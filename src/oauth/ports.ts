/**
 * Ports of the OAuth module. Contract: test/contract/client-store.suite.ts, run against the memory
 * and DynamoDB adapters (one class per backend implements all three stores).
 */
import type { Page } from "../tenants/model.ts";
import type { OAuthClient } from "./model.ts";

/** Registered clients. */
export interface ClientStore {
  /** `conflict` when the client id exists. */
  createClient(client: OAuthClient): Promise<void>;
  /** The hot path of client authentication: one point read. */
  getClient(clientId: string): Promise<OAuthClient | undefined>;
  /** A tenant's clients, oldest first (client ids are time-ordered). */
  listClients(tenantId: string, options: { limit: number; cursor?: string }): Promise<Page<OAuthClient>>;
  /** Replaces a client of that tenant; `not_found` when it does not exist there. */
  updateClient(client: OAuthClient): Promise<void>;
  /** Deletes a client of that tenant; `not_found` when it does not exist there. */
  deleteClient(tenantId: string, clientId: string): Promise<void>;
}

/** One-time use of `jti`s (RFC 7523 §3 item 7: client assertions must not be replayed). */
export interface ReplayCache {
  /**
   * Records `key` until `expiresAt` (epoch ms). True on first use; false if it was recorded before
   * and has not expired at `now`. Atomic: of two concurrent calls with one key only one gets true.
   */
  useOnce(key: string, expiresAt: number, now: number): Promise<boolean>;
}

/** Revoked access tokens by `jti`, kept until the token would have expired anyway. */
export interface RevocationList {
  /** Idempotent. `expiresAt` is the token's expiry (epoch ms). */
  revoke(jti: string, expiresAt: number): Promise<void>;
  /** True when revoked and the entry has not expired at `now`. */
  isRevoked(jti: string, now: number): Promise<boolean>;
}

/** What the OAuth module needs to know about tenants. */
export interface TenantDirectory {
  /** True when the tenant exists and is not deleted. */
  isActive(tenantId: string): Promise<boolean>;
}
