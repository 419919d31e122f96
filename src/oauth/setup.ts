/**
 * Wires the OAuth module from its ports: the composition used by functions/_shared/container.ts.
 */
import type { Authenticator, Route } from "../http/types.ts";
import type { KeyRing } from "../keys/ring.ts";
import type { Clock } from "../shared/clock.ts";
import type { IdGenerator } from "../shared/ids.ts";
import type { Logger } from "../shared/logger.ts";
import { clientRoutes } from "./admin-http.ts";
import { accessTokenAuthenticator } from "./authn.ts";
import { ClientAuthenticator } from "./client-auth.ts";
import { ClientService } from "./clients.ts";
import { oauthRoutes } from "./http.ts";
import { IdTokenService } from "./id-token.ts";
import type { ClientStore, ReplayCache, RevocationList, TenantDirectory } from "./ports.ts";
import { createSignIn, type SignIn, type SignInDeps } from "./signin.ts";
import { AccessTokenService } from "./tokens.ts";

/** Dependencies of {@link createOAuth}. */
export interface OAuthDeps {
  /** Issuer identifier (`PORTCULLIS_ISSUER`): base of every endpoint URL. */
  readonly issuer: string;
  /** Audience of the platform's own APIs. @default issuer */
  readonly apiAudience?: string;
  readonly store: ClientStore & ReplayCache & RevocationList;
  readonly tenants: TenantDirectory;
  readonly keyRing: KeyRing;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly log: Logger;
  /** Default access token lifetime (s). @default 600 */
  readonly tokenLifetime?: number;
  /** How long an authenticated client record is kept per container (ms). @default 5000 */
  readonly clientAuthCacheMs?: number;
  /** Longest token lifetime (s); also the key ring's retention. @default 3600 */
  readonly maxTokenLifetime?: number;
  /** JWKS and metadata `max-age` (s). @default 300 */
  readonly jwksMaxAgeSeconds?: number;
  /**
   * End-user sign-in (hosted pages, authorization code + PKCE, refresh tokens, OIDC). Absent: the
   * machine-to-machine half only.
   */
  readonly signIn?: Omit<
    SignInDeps,
    "issuer" | "clients" | "tokens" | "idTokens" | "revocations" | "clock" | "log"
  >;
}

/** The OAuth module's services, authenticator and routes. */
export interface OAuth {
  readonly clients: ClientService;
  readonly clientAuth: ClientAuthenticator;
  readonly tokens: AccessTokenService;
  /** Bearer access tokens for the platform's own APIs. */
  readonly authenticator: Authenticator;
  /** Routes of the `oauth` API group. */
  readonly routes: Route[];
  /** Client admin routes (for the `admin` API group). */
  readonly adminRoutes: Route[];
  /** The interactive half, when configured. */
  readonly signIn?: SignIn;
}

/**
 * Builds the OAuth module: client service, client authenticator, token service, the bearer
 * authenticator for the platform's APIs, and the routes of the `oauth` and `admin` groups.
 */
export function createOAuth(d: OAuthDeps): OAuth {
  const apiAudience = d.apiAudience ?? d.issuer;
  const clients = new ClientService({
    store: d.store,
    tenants: d.tenants,
    clock: d.clock,
    ids: d.ids,
    apiAudience,
    ...(d.tokenLifetime ? { defaultTokenLifetime: d.tokenLifetime } : {}),
    ...(d.clientAuthCacheMs !== undefined ? { authCacheMs: d.clientAuthCacheMs } : {}),
    ...(d.maxTokenLifetime ? { maxTokenLifetime: d.maxTokenLifetime } : {}),
    // A deleted client's consents go with it (and the refresh tokens its users held); first, so a
    // failure leaves the client in place and the deletion can be retried.
    ...(d.signIn
      ? {
          beforeDelete: async (clientId: string) => void (await d.signIn!.consents.deleteForClient(clientId)),
        }
      : {}),
  });
  const tokens = new AccessTokenService({
    issuer: d.issuer,
    keys: d.keyRing,
    clock: d.clock,
    revocations: d.store,
    // Tokens issued from a refresh family die with it (their `fid` claim).
    ...(d.signIn ? { families: d.signIn.store } : {}),
  });
  const clientAuth = new ClientAuthenticator({ clients, replay: d.store, clock: d.clock, issuer: d.issuer });
  const signIn = d.signIn
    ? createSignIn({
        ...d.signIn,
        issuer: d.issuer,
        clients,
        tokens,
        idTokens: new IdTokenService({ issuer: d.issuer, keys: d.keyRing, clock: d.clock }),
        revocations: d.store,
        clock: d.clock,
        log: d.log,
      })
    : undefined;
  return {
    clients,
    clientAuth,
    tokens,
    authenticator: accessTokenAuthenticator({
      tokens,
      audience: apiAudience,
      log: d.log,
      // The client record as client authentication keeps it (`clientAuthCacheMs`: a client deleted
      // through another container is refused within that time); its tenant is read every time.
      activeClientTenant: async (id) =>
        (await clients.findActiveFor(id, (c) => c !== undefined, undefined))?.tenantId,
      tenantIsActive: (id) => d.tenants.isActive(id),
    }),
    routes: oauthRoutes({
      issuer: d.issuer,
      clients,
      clientAuth,
      tokens,
      keys: d.keyRing,
      clock: d.clock,
      ...(d.jwksMaxAgeSeconds === undefined ? {} : { jwksMaxAgeSeconds: d.jwksMaxAgeSeconds }),
      ...(signIn ? { signIn } : {}),
    }),
    adminRoutes: clientRoutes(clients),
    ...(signIn ? { signIn } : {}),
  };
}
