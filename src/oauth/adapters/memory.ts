import { conflict, notFound } from "../../shared/errors.ts";
import type { Page } from "../../tenants/model.ts";
import type { OAuthClient } from "../model.ts";
import type { ClientStore, ReplayCache, RevocationList } from "../ports.ts";

const SWEEP_AT = 10_000;

/** A deep-frozen copy: handed out as is, so reads on the hot path copy nothing. */
function frozen<T>(value: T): T {
  const copy = structuredClone(value);
  const freeze = (v: unknown): void => {
    if (v && typeof v === "object" && !Object.isFrozen(v)) {
      Object.freeze(v);
      for (const x of Object.values(v)) freeze(x);
    }
  };
  freeze(copy);
  return copy;
}

/** Drops expired entries once a map grows large (TTL stand-in). */
function sweep(map: Map<string, number>, now: number): void {
  if (map.size < SWEEP_AT) return;
  for (const [k, exp] of map) if (exp <= now) map.delete(k);
}

/**
 * In-memory OAuth stores (clients, assertion replay cache, revocation list): the embedded default
 * and the reference for the contract.
 */
export class MemoryOAuthStore implements ClientStore, ReplayCache, RevocationList {
  readonly #clients = new Map<string, OAuthClient>();
  readonly #used = new Map<string, number>();
  readonly #revoked = new Map<string, number>();

  async createClient(client: OAuthClient): Promise<void> {
    if (this.#clients.has(client.clientId)) throw conflict("Client already exists.");
    this.#clients.set(client.clientId, frozen(client));
  }

  async getClient(clientId: string): Promise<OAuthClient | undefined> {
    return this.#clients.get(clientId);
  }

  async listClients(
    tenantId: string,
    options: { limit: number; cursor?: string },
  ): Promise<Page<OAuthClient>> {
    const all = [...this.#clients.values()]
      .filter((c) => c.tenantId === tenantId && (options.cursor === undefined || c.clientId > options.cursor))
      .sort((a, b) => (a.clientId < b.clientId ? -1 : 1));
    const items = all.slice(0, options.limit);
    const last = items.at(-1);
    return all.length > options.limit && last ? { items, cursor: last.clientId } : { items };
  }

  async updateClient(client: OAuthClient): Promise<void> {
    if (this.#clients.get(client.clientId)?.tenantId !== client.tenantId) throw notFound("Client not found.");
    this.#clients.set(client.clientId, frozen(client));
  }

  async deleteClient(tenantId: string, clientId: string): Promise<void> {
    if (this.#clients.get(clientId)?.tenantId !== tenantId) throw notFound("Client not found.");
    this.#clients.delete(clientId);
  }

  async useOnce(key: string, expiresAt: number, now: number): Promise<boolean> {
    const seen = this.#used.get(key);
    if (seen !== undefined && seen > now) return false;
    sweep(this.#used, now);
    this.#used.set(key, expiresAt);
    return true;
  }

  async revoke(jti: string, expiresAt: number): Promise<void> {
    this.#revoked.set(jti, Math.max(expiresAt, this.#revoked.get(jti) ?? 0));
  }

  async isRevoked(jti: string, now: number): Promise<boolean> {
    sweep(this.#revoked, now);
    const exp = this.#revoked.get(jti);
    return exp !== undefined && exp > now;
  }
}
