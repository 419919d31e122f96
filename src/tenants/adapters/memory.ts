import { conflict, notFound } from "../../shared/errors.ts";
import type { ApiKeyRecord, Page, Tenant } from "../model.ts";
import type { TenantStore } from "../ports.ts";

/** Sorted-key pagination over a Map: the cursor is the last key returned. */
function page<T>(sorted: [string, T][], limit: number, cursor?: string): Page<T> {
  const start = cursor === undefined ? 0 : sorted.findIndex(([k]) => k > cursor);
  if (start < 0) return { items: [] };
  const slice = sorted.slice(start, start + limit);
  const last = slice.at(-1);
  const more = start + limit < sorted.length;
  return more && last
    ? { items: slice.map(([, v]) => v), cursor: last[0] }
    : { items: slice.map(([, v]) => v) };
}

/** In-memory TenantStore: the embedded default and the reference for the contract. */
export class MemoryTenantStore implements TenantStore {
  readonly #tenants = new Map<string, Tenant>();
  readonly #keys = new Map<string, ApiKeyRecord>(); // `${tenantId}/${keyId}`
  readonly #byHash = new Map<string, ApiKeyRecord>();

  async createTenant(tenant: Tenant): Promise<void> {
    if (this.#tenants.has(tenant.id)) throw conflict("Tenant already exists.");
    this.#tenants.set(tenant.id, { ...tenant });
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    const t = this.#tenants.get(id);
    return t && { ...t };
  }

  async listTenants(options: { limit: number; cursor?: string }): Promise<Page<Tenant>> {
    const sorted = [...this.#tenants.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return page(sorted, options.limit, options.cursor);
  }

  async markTenantDeleted(id: string, deletedAt: number): Promise<Tenant> {
    const t = this.#tenants.get(id);
    if (!t) throw notFound("Tenant not found.");
    const next = t.deletedAt === undefined ? { ...t, deletedAt } : t;
    this.#tenants.set(id, next);
    return { ...next };
  }

  async createApiKey(key: ApiKeyRecord): Promise<void> {
    const k = `${key.tenantId}/${key.id}`;
    if (this.#keys.has(k) || this.#byHash.has(key.keyHash)) throw conflict("API key already exists.");
    this.#keys.set(k, { ...key });
    this.#byHash.set(key.keyHash, { ...key });
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const r = this.#byHash.get(keyHash);
    return r && { ...r };
  }

  async getApiKey(tenantId: string, keyId: string): Promise<ApiKeyRecord | undefined> {
    const r = this.#keys.get(`${tenantId}/${keyId}`);
    return r && { ...r };
  }

  async listApiKeys(
    tenantId: string,
    options: { limit: number; cursor?: string },
  ): Promise<Page<ApiKeyRecord>> {
    const sorted = [...this.#keys.values()]
      .filter((k) => k.tenantId === tenantId)
      .map((k): [string, ApiKeyRecord] => [k.id, { ...k }])
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return page(sorted, options.limit, options.cursor);
  }

  async revokeApiKey(tenantId: string, keyId: string, revokedAt: number): Promise<ApiKeyRecord> {
    const k = `${tenantId}/${keyId}`;
    const r = this.#keys.get(k);
    if (!r) throw notFound("API key not found.");
    const next = r.revokedAt === undefined ? { ...r, revokedAt } : r;
    this.#keys.set(k, next);
    this.#byHash.set(r.keyHash, next);
    return { ...next };
  }
}
