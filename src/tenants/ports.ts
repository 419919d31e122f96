import type { ApiKeyRecord, Page, Tenant } from "./model.ts";

/**
 * Storage for tenants and their API keys. Contract: test/contract/tenant-store.suite.ts; every
 * adapter (memory, DynamoDB) must pass it and any difference between them is a bug.
 */
export interface TenantStore {
  /** Fails with a `conflict` DomainError when the id exists. */
  createTenant(tenant: Tenant): Promise<void>;
  getTenant(id: string): Promise<Tenant | undefined>;
  /** Oldest first (ids are ULIDs), including soft-deleted ones. */
  listTenants(options: { limit: number; cursor?: string }): Promise<Page<Tenant>>;
  /** Sets `deletedAt` if not set yet; `not_found` when the tenant does not exist. */
  markTenantDeleted(id: string, deletedAt: number): Promise<Tenant>;

  /** Stores the key and its hash lookup atomically; `conflict` when id or hash exists. */
  createApiKey(key: ApiKeyRecord): Promise<void>;
  /** The hot path of API-key authentication: one point read. */
  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
  getApiKey(tenantId: string, keyId: string): Promise<ApiKeyRecord | undefined>;
  /** Oldest first. */
  listApiKeys(tenantId: string, options: { limit: number; cursor?: string }): Promise<Page<ApiKeyRecord>>;
  /** Sets `revokedAt` if not set yet; `not_found` when the key does not exist in that tenant. */
  revokeApiKey(tenantId: string, keyId: string, revokedAt: number): Promise<ApiKeyRecord>;
}

/**
 * Email domains claimed by tenants (home-realm discovery). A domain belongs to at most one tenant.
 * Contract: test/contract/domain-store.suite.ts (memory and DynamoDB).
 */
export interface TenantDomainStore {
  /** The tenant's domains, sorted. */
  listTenantDomains(tenantId: string): Promise<string[]>;
  /**
   * Replaces the tenant's domains with `domains` (normalised, distinct) atomically: new ones are
   * claimed, missing ones released. `conflict` (naming the domain) when another tenant holds one;
   * then nothing changes.
   */
  setTenantDomains(tenantId: string, domains: readonly string[], at: number): Promise<void>;
  /** The tenant holding `domain` (normalised), if any: the sign-in hot path, one point read. */
  findDomainTenant(domain: string): Promise<string | undefined>;
}
