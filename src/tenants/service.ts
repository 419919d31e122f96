import type { Clock } from "../shared/clock.ts";
import { notFound, validationError } from "../shared/errors.ts";
import { hashSecret, type IdGenerator, newSecret } from "../shared/ids.ts";
import type { ApiKeyRecord, Page, Tenant } from "./model.ts";
import type { TenantStore } from "./ports.ts";

/** Prefix of tenant API keys, so secret scanners and humans recognise a leaked one. */
export const API_KEY_PREFIX = "pcl_";

export interface TenantServiceDeps {
  readonly store: TenantStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
}

/** Tenants and their API keys: the rules on top of the store. */
export class TenantService {
  readonly #d: TenantServiceDeps;
  constructor(deps: TenantServiceDeps) {
    this.#d = deps;
  }

  async create(name: string): Promise<Tenant> {
    const tenant: Tenant = { id: this.#d.ids.ulid(), name, createdAt: this.#d.clock.now() };
    await this.#d.store.createTenant(tenant);
    return tenant;
  }

  async get(id: string): Promise<Tenant> {
    const t = await this.#d.store.getTenant(id);
    if (!t) throw notFound("Tenant not found.");
    return t;
  }

  /** An existing tenant that is not deleted: the precondition for anything created in it. */
  async getActive(id: string): Promise<Tenant> {
    const t = await this.get(id);
    if (t.deletedAt !== undefined) throw notFound("Tenant not found.");
    return t;
  }

  list(limit: number, cursor?: string): Promise<Page<Tenant>> {
    return this.#d.store.listTenants(cursor === undefined ? { limit } : { limit, cursor });
  }

  softDelete(id: string): Promise<Tenant> {
    return this.#d.store.markTenantDeleted(id, this.#d.clock.now());
  }

  /** Creates a key; the plaintext key is returned once and only its hash is stored. */
  async createApiKey(tenantId: string, name: string): Promise<{ record: ApiKeyRecord; key: string }> {
    await this.getActive(tenantId);
    const key = newSecret(API_KEY_PREFIX);
    const record: ApiKeyRecord = {
      id: this.#d.ids.ulid(),
      tenantId,
      name,
      keyHash: hashSecret(key),
      prefix: key.slice(0, API_KEY_PREFIX.length + 6),
      createdAt: this.#d.clock.now(),
    };
    await this.#d.store.createApiKey(record);
    return { record, key };
  }

  async listApiKeys(tenantId: string, limit: number, cursor?: string): Promise<Page<ApiKeyRecord>> {
    await this.get(tenantId);
    return this.#d.store.listApiKeys(tenantId, cursor === undefined ? { limit } : { limit, cursor });
  }

  async getApiKey(tenantId: string, keyId: string): Promise<ApiKeyRecord> {
    const k = await this.#d.store.getApiKey(tenantId, keyId);
    if (!k) throw notFound("API key not found.");
    return k;
  }

  revokeApiKey(tenantId: string, keyId: string): Promise<ApiKeyRecord> {
    return this.#d.store.revokeApiKey(tenantId, keyId, this.#d.clock.now());
  }

  /**
   * Resolves a presented API key to its record if the key is live (not revoked, tenant not
   * deleted). Returns undefined otherwise, without saying why.
   */
  async verifyApiKey(key: string): Promise<ApiKeyRecord | undefined> {
    if (!key.startsWith(API_KEY_PREFIX) || key.length > 128) return undefined;
    const record = await this.#d.store.findApiKeyByHash(hashSecret(key));
    if (!record || record.revokedAt !== undefined) return undefined;
    const tenant = await this.#d.store.getTenant(record.tenantId);
    if (!tenant || tenant.deletedAt !== undefined) return undefined;
    return record;
  }
}

export const assertName = (name: string): string => {
  const n = name.trim();
  if (n.length === 0) throw validationError("name must not be blank.");
  return n;
};
