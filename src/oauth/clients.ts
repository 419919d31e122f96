/**
 * OAuth clients per tenant: registration (metadata as in RFC 7591), secrets (shown once, stored
 * as SHA-256), listing, secret rotation, deletion.
 */
import { createPublicKey } from "node:crypto";
import type { JWK } from "jose";
import type { Clock } from "../shared/clock.ts";
import { forbidden, notFound, validationError } from "../shared/errors.ts";
import { hashSecret, type IdGenerator, newSecret } from "../shared/ids.ts";
import type { Page } from "../tenants/model.ts";
import {
  ASSERTION_ALGS,
  type AuthMethod,
  type GrantType,
  type OAuthClient,
  PLATFORM_SCOPES,
  PUBLIC_CLIENT_GRANTS,
} from "./model.ts";
import type { ClientStore, TenantDirectory } from "./ports.ts";
import { isResourceIndicator, parseScope } from "./scopes.ts";

/** Prefixes so leaked credentials are recognisable by scanners and humans. */
export const CLIENT_ID_PREFIX = "pcc_";
/** Prefix of client secrets. */
export const CLIENT_SECRET_PREFIX = "pcs_";
/** Shape of our client ids: the prefix and a ULID. */
export const CLIENT_ID_RE = /^pcc_[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** Client metadata as registered (validated for shape at the edge; rules checked here). */
export interface ClientRegistration {
  readonly client_name: string;
  readonly grant_types?: readonly GrantType[];
  readonly redirect_uris?: readonly string[];
  readonly token_endpoint_auth_method?: AuthMethod;
  readonly scope?: string;
  readonly jwks?: { readonly keys: readonly JWK[] };
  readonly resources?: readonly string[];
  readonly access_token_lifetime?: number;
  readonly post_logout_redirect_uris?: readonly string[];
  readonly third_party?: boolean;
  /** `require`: a multi-tenant client (platform admin only); `none` (default): its tenant only. */
  readonly organization_usage?: "none" | "require";
}

/** Options of {@link ClientService}. */
export interface ClientServiceDeps {
  readonly store: ClientStore;
  readonly tenants: TenantDirectory;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  /** Audience of the platform's own APIs: the default `resources`. */
  readonly apiAudience: string;
  /** @default 600 */
  readonly defaultTokenLifetime?: number;
  /** Upper bound of `access_token_lifetime` (and so of every token). @default 3600 */
  readonly maxTokenLifetime?: number;
  /**
   * How long a container may reuse a client record that authenticated a request (see
   * {@link ClientService.findActiveFor}); 0 disables. @default 5000
   */
  readonly authCacheMs?: number;
  /** Most client records kept for that. @default 10000 */
  readonly authCacheEntries?: number;
  /**
   * Runs before a client of the tenant is deleted (its consents are removed there); when it fails,
   * the client is not deleted and the caller gets the error, so a retry finishes both.
   */
  readonly beforeDelete?: (clientId: string) => Promise<void>;
}

type Problem = { path: string; message: string };

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/** Checks a client JWK: a public signing key we can verify assertions with. */
function checkJwk(jwk: JWK, i: number, problems: Problem[]): void {
  const path = `/jwks/keys/${i}`;
  if (PRIVATE_MEMBERS.some((m) => m in jwk)) problems.push({ path, message: "must be a public key" });
  else if (jwk.use !== undefined && jwk.use !== "sig")
    problems.push({ path: `${path}/use`, message: 'must be "sig"' });
  else if (jwk.alg !== undefined && !(ASSERTION_ALGS as readonly string[]).includes(jwk.alg))
    problems.push({ path: `${path}/alg`, message: `must be one of ${ASSERTION_ALGS.join(", ")}` });
  else {
    try {
      const key = createPublicKey({ key: jwk as import("node:crypto").JsonWebKey, format: "jwk" });
      const t = key.asymmetricKeyType;
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (!(t === "ec" || t === "ed25519" || (t === "rsa" && bits >= 2048)))
        problems.push({ path, message: "must be an EC, Ed25519 or RSA (2048 bits or more) key" });
    } catch {
      problems.push({ path, message: "is not a valid JWK" });
    }
  }
}

function checkRedirectUri(uri: string, i: number, problems: Problem[], field = "redirect_uris"): void {
  let ok = false;
  try {
    const u = new URL(uri);
    const loopback = u.hostname === "127.0.0.1" || u.hostname === "[::1]" || u.hostname === "localhost";
    ok = !u.hash && !uri.includes("#") && (u.protocol === "https:" || (u.protocol === "http:" && loopback));
  } catch {
    ok = false;
  }
  if (!ok)
    problems.push({
      path: `/${field}/${i}`,
      message: "must be an https (or loopback http) URI without fragment",
    });
}

/** Registered clients and their rules. */
export class ClientService {
  readonly #d: ClientServiceDeps;
  readonly #default: number;
  readonly #max: number;
  readonly #authCacheMs: number;
  readonly #authCacheEntries: number;
  /** Client records that recently authenticated a request, by client id (insertion-ordered). */
  readonly #recent = new Map<string, { readonly client: OAuthClient; readonly until: number }>();
  /** Bumped by every change this service makes to a client, so a read that raced it is not kept. */
  #changes = 0;

  constructor(deps: ClientServiceDeps) {
    this.#d = deps;
    this.#max = deps.maxTokenLifetime ?? 3600;
    this.#default = Math.min(deps.defaultTokenLifetime ?? 600, this.#max);
    this.#authCacheMs = deps.authCacheMs ?? 5000;
    this.#authCacheEntries = deps.authCacheEntries ?? 10_000;
  }

  /** Longest token lifetime any client may have (seconds). */
  get maxTokenLifetime(): number {
    return this.#max;
  }

  async #activeTenant(tenantId: string): Promise<void> {
    if (!(await this.#d.tenants.isActive(tenantId))) throw notFound("Tenant not found.");
  }

  /** Validates metadata against the rules and fills defaults; `validation` error listing problems. */
  #normalise(m: ClientRegistration): Omit<OAuthClient, "clientId" | "tenantId" | "createdAt" | "secretHash"> {
    const problems: Problem[] = [];
    const method = m.token_endpoint_auth_method ?? "client_secret_basic";
    const grantTypes: GrantType[] = [...new Set<GrantType>(m.grant_types ?? ["client_credentials"])];
    if (grantTypes.length === 0) problems.push({ path: "/grant_types", message: "must not be empty" });
    let scope: string[] = [];
    try {
      scope = parseScope(m.scope === "" ? undefined : m.scope);
    } catch {
      problems.push({ path: "/scope", message: "must be space-separated scope tokens" });
    }
    const keys = m.jwks?.keys ?? [];
    if (method === "private_key_jwt" && keys.length === 0)
      problems.push({ path: "/jwks", message: "is required for private_key_jwt" });
    if (method !== "private_key_jwt" && m.jwks !== undefined)
      problems.push({ path: "/jwks", message: "is only used with private_key_jwt" });
    for (const [i, k] of keys.entries()) checkJwk(k, i, problems);
    const kids = keys.map((k) => k.kid).filter((k) => k !== undefined);
    if (new Set(kids).size !== kids.length)
      problems.push({ path: "/jwks", message: "kid values must be unique" });
    for (const [i, u] of (m.redirect_uris ?? []).entries()) checkRedirectUri(u, i, problems);
    for (const [i, u] of (m.post_logout_redirect_uris ?? []).entries())
      checkRedirectUri(u, i, problems, "post_logout_redirect_uris");
    if (method === "none" && grantTypes.some((g) => !PUBLIC_CLIENT_GRANTS.includes(g)))
      problems.push({
        path: "/grant_types",
        message: "a public client (none) may only use authorization_code and refresh_token",
      });
    if (grantTypes.includes("authorization_code") && (m.redirect_uris ?? []).length === 0)
      problems.push({ path: "/redirect_uris", message: "is required for authorization_code" });
    if (grantTypes.includes("refresh_token") && !grantTypes.includes("authorization_code"))
      problems.push({ path: "/grant_types", message: "refresh_token needs authorization_code" });
    const resources = [...new Set(m.resources ?? [this.#d.apiAudience])];
    resources.forEach((r, i) => {
      if (!isResourceIndicator(r) && !CLIENT_ID_RE.test(r))
        problems.push({
          path: `/resources/${i}`,
          message: "must be an absolute URI without fragment, or a client id",
        });
    });
    const lifetime = m.access_token_lifetime ?? this.#default;
    if (lifetime < 60 || lifetime > this.#max)
      problems.push({
        path: "/access_token_lifetime",
        message: `must be between 60 and ${this.#max} seconds`,
      });
    if (m.organization_usage === "require") {
      if (!grantTypes.includes("authorization_code"))
        problems.push({ path: "/organization_usage", message: "needs the authorization_code grant" });
      // A user's token of a multi-tenant client carries the USER's tenant: platform scopes would
      // hand the client owner API rights in every tenant whose users sign in.
      const platform = scope.filter((s) => (PLATFORM_SCOPES as readonly string[]).includes(s));
      if (platform.length > 0)
        problems.push({
          path: "/scope",
          message: `a multi-tenant client may not have platform scopes (${platform.join(", ")})`,
        });
    }
    if (problems.length > 0) throw validationError("The client metadata is invalid.", problems);
    return {
      clientName: m.client_name,
      grantTypes,
      redirectUris: [...(m.redirect_uris ?? [])],
      tokenEndpointAuthMethod: method,
      scope,
      resources,
      ...(keys.length ? { jwks: keys.map((k) => ({ ...k })) } : {}),
      accessTokenLifetime: lifetime,
      ...(m.post_logout_redirect_uris?.length
        ? { postLogoutRedirectUris: [...m.post_logout_redirect_uris] }
        : {}),
      ...(m.third_party ? { thirdParty: true } : {}),
      ...(m.organization_usage === "require" ? { organizationUsage: "require" as const } : {}),
    };
  }

  /**
   * Registers a client; for secret-based methods the plaintext secret is returned once. A
   * multi-tenant client (`organization_usage: require`) signs in users of every tenant, so only the
   * platform admin (`by.platform`) may register one (`forbidden` otherwise).
   */
  async register(
    tenantId: string,
    m: ClientRegistration,
    by: { readonly platform: boolean; readonly scopes?: readonly string[] } = { platform: false },
  ): Promise<{ client: OAuthClient; secret?: string }> {
    if (m.organization_usage === "require" && !by.platform)
      throw forbidden("Only the platform admin may register a multi-tenant client.");
    await this.#activeTenant(tenantId);
    const base = this.#normalise(m);
    // A tenant credential hands on no platform permission it does not hold itself (a token with
    // only `tenant:admin` may not mint a client that can get `audit:read`).
    if (!by.platform && by.scopes) {
      const held = new Set(by.scopes);
      const beyond = base.scope.filter(
        (s) => (PLATFORM_SCOPES as readonly string[]).includes(s) && !held.has(s),
      );
      if (beyond.length > 0)
        throw forbidden(
          `This credential may not grant platform scopes it does not hold (${beyond.join(", ")}).`,
        );
    }
    const usesSecret =
      base.tokenEndpointAuthMethod !== "private_key_jwt" && base.tokenEndpointAuthMethod !== "none";
    const secret = usesSecret ? newSecret(CLIENT_SECRET_PREFIX) : undefined;
    const client: OAuthClient = {
      ...base,
      clientId: `${CLIENT_ID_PREFIX}${this.#d.ids.ulid()}`,
      tenantId,
      createdAt: this.#d.clock.now(),
      ...(secret ? { secretHash: hashSecret(secret) } : {}),
    };
    await this.#d.store.createClient(client);
    return secret ? { client, secret } : { client };
  }

  /** A client of that tenant; `not_found` otherwise (also for another tenant's client). */
  async get(tenantId: string, clientId: string): Promise<OAuthClient> {
    const c = CLIENT_ID_RE.test(clientId) ? await this.#d.store.getClient(clientId) : undefined;
    if (!c || c.tenantId !== tenantId) throw notFound("Client not found.");
    return c;
  }

  async list(tenantId: string, limit: number, cursor?: string): Promise<Page<OAuthClient>> {
    await this.#activeTenant(tenantId);
    return this.#d.store.listClients(tenantId, cursor === undefined ? { limit } : { limit, cursor });
  }

  /** `forbidden` when a tenant credential changes a multi-tenant client (platform admin only). */
  #assertMayChange(c: OAuthClient, by: { readonly platform: boolean }): void {
    if (c.organizationUsage === "require" && !by.platform)
      throw forbidden("Only the platform admin may change a multi-tenant client.");
  }

  /**
   * Issues a new secret, returned once. The old one stops working at once in this container and
   * within `authCacheMs` (default 5 s) in the others (the oauth function's containers, in AWS).
   */
  async rotateSecret(
    tenantId: string,
    clientId: string,
    by: { readonly platform: boolean } = { platform: false },
  ): Promise<{ client: OAuthClient; secret: string }> {
    const c = await this.get(tenantId, clientId);
    this.#assertMayChange(c, by);
    if (c.tokenEndpointAuthMethod === "private_key_jwt" || c.tokenEndpointAuthMethod === "none")
      throw validationError("This client has no secret.");
    const secret = newSecret(CLIENT_SECRET_PREFIX);
    const client: OAuthClient = { ...c, secretHash: hashSecret(secret), updatedAt: this.#d.clock.now() };
    this.#forget(clientId);
    try {
      await this.#d.store.updateClient(client);
    } finally {
      this.#forget(clientId);
    }
    return { client, secret };
  }

  async delete(
    tenantId: string,
    clientId: string,
    by: { readonly platform: boolean } = { platform: false },
  ): Promise<void> {
    const c = CLIENT_ID_RE.test(clientId) ? await this.#d.store.getClient(clientId) : undefined;
    // Another tenant's client (or none): the store's delete answers not_found.
    if (c && c.tenantId === tenantId) {
      if (!by.platform) this.#assertMayChange(c, by);
      await this.#d.beforeDelete?.(clientId);
    }
    this.#forget(clientId);
    try {
      await this.#d.store.deleteClient(tenantId, clientId);
    } finally {
      this.#forget(clientId);
    }
  }

  /** Drops a client's cached record (after this container changed it). */
  #forget(clientId: string): void {
    this.#changes++;
    this.#recent.delete(clientId);
  }

  /**
   * The client with this id if it may obtain tokens now (its tenant is active); undefined
   * otherwise, without saying why. The hot path of client authentication.
   */
  async findActive(clientId: string): Promise<OAuthClient | undefined> {
    if (!CLIENT_ID_RE.test(clientId)) return undefined;
    const c = await this.#d.store.getClient(clientId);
    if (!c || !(await this.#d.tenants.isActive(c.tenantId))) return undefined;
    return c;
  }

  /**
   * {@link findActive} for a credential check on the hot path: `fits(record, arg)` says whether a
   * record matches the presented credential (it is called with undefined for an unknown client, so
   * it can do the same work either way). A record that fitted is kept for `authCacheMs` from its
   * read and reused while it fits, saving the client read (one DynamoDB `GetItem`); the tenant is
   * checked on every call and failures are never kept. A kept record that does not fit is read
   * again, so a secret rotated in another container works here at once; what a kept record allows
   * for at most `authCacheMs` after a change made in another container is the old secret, or a
   * deleted client. Changes made through this service drop the record at once.
   */
  async findActiveFor<A>(
    clientId: string,
    fits: (client: OAuthClient | undefined, arg: A) => boolean,
    arg: A,
  ): Promise<OAuthClient | undefined> {
    const now = this.#d.clock.now();
    const kept = this.#recent.get(clientId);
    if (kept !== undefined) {
      if (kept.until > now && fits(kept.client, arg)) {
        if (await this.#d.tenants.isActive(kept.client.tenantId)) return kept.client;
        this.#recent.delete(clientId);
        return undefined;
      }
      this.#recent.delete(clientId);
    }
    const changes = this.#changes;
    const c = await this.findActive(clientId);
    if (!fits(c, arg) || c === undefined) return undefined;
    if (this.#authCacheMs > 0 && changes === this.#changes) {
      if (this.#recent.size >= this.#authCacheEntries) {
        const oldest = this.#recent.keys().next();
        if (!oldest.done) this.#recent.delete(oldest.value);
      }
      this.#recent.set(clientId, { client: c, until: now + this.#authCacheMs });
    }
    return c;
  }
}
