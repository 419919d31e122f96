import { conflict } from "../../shared/errors.ts";
import type { TenantDomainStore } from "../ports.ts";

/** In-memory TenantDomainStore: the embedded default and the reference for the contract. */
export class MemoryTenantDomainStore implements TenantDomainStore {
  readonly #owner = new Map<string, string>(); // domain → tenant id

  async listTenantDomains(tenantId: string): Promise<string[]> {
    return [...this.#owner]
      .filter(([, t]) => t === tenantId)
      .map(([d]) => d)
      .sort();
  }

  async setTenantDomains(tenantId: string, domains: readonly string[]): Promise<void> {
    // Check everything before changing anything: a conflict leaves the claims as they were.
    for (const d of domains) {
      const owner = this.#owner.get(d);
      if (owner !== undefined && owner !== tenantId)
        throw conflict(`The domain ${d} is held by another tenant.`);
    }
    const wanted = new Set(domains);
    for (const [d, t] of this.#owner) if (t === tenantId && !wanted.has(d)) this.#owner.delete(d);
    for (const d of domains) this.#owner.set(d, tenantId);
  }

  async findDomainTenant(domain: string): Promise<string | undefined> {
    return this.#owner.get(domain);
  }
}
