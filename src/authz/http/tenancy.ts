/**
 * Stores belong to tenants. A tenant credential sees and touches only its tenant's stores; any
 * other store id (another tenant's, deleted, or never created) answers 404 `store_id_not_found` on
 * every endpoint, so a caller cannot tell "not mine" from "does not exist". The platform admin
 * credential may use any store; to create or list stores it names the tenant in the
 * `X-Portcullis-Tenant` header (and when it sends the header on a store, the store must belong to
 * that tenant). Tenant credentials carry scopes: `authz:read`, `authz:write`, `authz:check`.
 *
 * Who owns a store never changes, so the answer is cached per container for `storeCacheMs`; a
 * delete in this container forgets it at once, other containers notice within that time.
 */

import type { RequestContext } from "../../http/types.ts";
import type { Clock } from "../../shared/clock.ts";
import { forbidden } from "../../shared/errors.ts";
import { AuthzError } from "../errors.ts";
import type { AuthzService, StoreRecord } from "../index.ts";
import { isStoreId } from "./wire.ts";

export const TENANT_HEADER = "x-portcullis-tenant";

export type AuthzScope = "authz:read" | "authz:write" | "authz:check";

export interface TenancyOptions {
  readonly service: AuthzService;
  /** Whether a tenant exists and is not deleted (creating stores needs one). */
  readonly tenantIsActive: (tenantId: string) => Promise<boolean>;
  readonly clock: Clock;
  readonly storeCacheMs: number;
  /** @default 10000 */
  readonly maxStores?: number;
}

export interface TenancyStats {
  store_cache_hits: number;
  store_cache_misses: number;
}

const notFound = (storeId: string) => new AuthzError("store_id_not_found", `store '${storeId}' not found`);

function requireScope(ctx: RequestContext, scope: AuthzScope): void {
  const p = ctx.principal;
  if (p?.kind === "tenant" && !p.scopes.includes(scope)) {
    throw forbidden(`the credential lacks the '${scope}' scope`);
  }
}

export class Tenancy {
  readonly #o: TenancyOptions;
  readonly #owners = new Map<string, { tenantId: string; until: number }>();
  readonly stats: TenancyStats = { store_cache_hits: 0, store_cache_misses: 0 };

  constructor(options: TenancyOptions) {
    this.#o = options;
  }

  /**
   * The tenant a request acts for, for creating and listing stores: the tenant credential's own, or
   * for the platform admin the `X-Portcullis-Tenant` header (required there).
   */
  async tenantOf(
    req: { headers: Readonly<Record<string, string>> },
    ctx: RequestContext,
    scope: AuthzScope,
  ): Promise<string> {
    requireScope(ctx, scope);
    const p = ctx.principal;
    const named = req.headers[TENANT_HEADER]?.trim();
    if (p?.kind === "tenant") {
      if (named && named !== p.tenantId) {
        throw new AuthzError(
          "validation_error",
          `the ${TENANT_HEADER} header does not match the credential's tenant`,
        );
      }
      return p.tenantId;
    }
    if (!named) {
      throw new AuthzError(
        "validation_error",
        `the platform credential must name a tenant in the ${TENANT_HEADER} header to create or list stores`,
      );
    }
    if (!/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/.test(named) || !(await this.#o.tenantIsActive(named))) {
      throw new AuthzError("validation_error", `unknown tenant in the ${TENANT_HEADER} header`);
    }
    return named;
  }

  /**
   * Authorizes the request on `storeId` (404 `store_id_not_found` unless the caller may use it);
   * returns the store's tenant. Malformed ids are 400 `validation_error`, as in OpenFGA.
   */
  async authorizeStore(
    req: { headers: Readonly<Record<string, string>> },
    ctx: RequestContext,
    storeId: string,
    scope: AuthzScope,
  ): Promise<string> {
    if (!isStoreId(storeId)) {
      throw new AuthzError(
        "validation_error",
        `invalid store_id: value does not match regex pattern "^[ABCDEFGHJKMNPQRSTVWXYZ0-9]{26}$"`,
      );
    }
    requireScope(ctx, scope);
    const owner = await this.#owner(storeId);
    const p = ctx.principal;
    const wanted = p?.kind === "tenant" ? p.tenantId : req.headers[TENANT_HEADER]?.trim();
    if (owner === undefined || (wanted && wanted !== owner)) throw notFound(storeId);
    return owner;
  }

  /** The store record itself (GetStore): always read, never cached. */
  async getStore(
    req: { headers: Readonly<Record<string, string>> },
    ctx: RequestContext,
    storeId: string,
  ): Promise<StoreRecord> {
    await this.authorizeStore(req, ctx, storeId, "authz:read");
    try {
      return await this.#o.service.getStore(storeId);
    } catch (e) {
      if (e instanceof AuthzError && e.openfgaName === "store_id_not_found") this.forget(storeId);
      throw e;
    }
  }

  /** A store was created here: remember its owner. */
  remember(store: StoreRecord): void {
    this.#set(store.id, store.tenantId);
  }

  forget(storeId: string): void {
    this.#owners.delete(storeId);
  }

  async #owner(storeId: string): Promise<string | undefined> {
    const now = this.#o.clock.now();
    const hit = this.#owners.get(storeId);
    if (hit !== undefined && hit.until > now) {
      this.stats.store_cache_hits++;
      return hit.tenantId;
    }
    this.stats.store_cache_misses++;
    let store: StoreRecord;
    try {
      store = await this.#o.service.getStore(storeId);
    } catch (e) {
      if (e instanceof AuthzError && e.openfgaName === "store_id_not_found") {
        this.#owners.delete(storeId);
        return undefined;
      }
      throw e;
    }
    this.#set(storeId, store.tenantId);
    return store.tenantId;
  }

  #set(storeId: string, tenantId: string): void {
    if (this.#o.storeCacheMs <= 0) return;
    if (this.#owners.size >= (this.#o.maxStores ?? 10_000)) {
      const oldest = this.#owners.keys().next();
      if (!oldest.done) this.#owners.delete(oldest.value);
    }
    this.#owners.delete(storeId);
    this.#owners.set(storeId, { tenantId, until: this.#o.clock.now() + this.#o.storeCacheMs });
  }
}
