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
