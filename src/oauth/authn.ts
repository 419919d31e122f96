/**
 * Bearer access tokens of this issuer as credentials for the platform's own APIs: a third
 * Authenticator next to the admin key and tenant API keys. The token must be audience-restricted
 * to the platform API (`apiAudience`), unrevoked, and carries its tenant and scopes; scopes map 1:1
 * to API permissions (authz:read, authz:write, authz:check, audit:read, tenant:admin).
 */
import { bearerToken } from "../http/router.ts";
import type { Authenticator } from "../http/types.ts";
import type { Logger } from "../shared/logger.ts";
import { permissionsOf } from "./scopes.ts";
import { type AccessTokenService, InvalidTokenError } from "./tokens.ts";

/** Options of {@link accessTokenAuthenticator}. */
export interface AccessTokenAuthenticatorOptions {
  readonly tokens: AccessTokenService;
  /** The platform API's audience (resource indicator); tokens for other audiences are refused. */
  readonly audience: string;
  readonly log?: Logger;
  /**
   * The issuing client, if it still exists and its tenant is active (a deleted client's or
   * tenant's tokens are refused at once, as their API keys are).
   */
  readonly clientIsActive?: (clientId: string) => Promise<boolean>;
  /** Whether the token's tenant (the user's, for a multi-tenant client) is active. */
  readonly tenantIsActive?: (tenantId: string) => Promise<boolean>;
}

const JWT_SHAPE = /^eyJ[\w-]*\.[\w-]+\.[\w-]+$/;

/** Accepts this issuer's JWT access tokens; anything that is not a JWT is left to other authenticators. */
export function accessTokenAuthenticator(o: AccessTokenAuthenticatorOptions): Authenticator {
  return {
    async authenticate(req) {
      const token = bearerToken(req);
      if (!token || !JWT_SHAPE.test(token)) return undefined;
      try {
        const claims = await o.tokens.verify(token, { audience: o.audience });
        const [revoked, clientActive, tenantActive] = await Promise.all([
          o.tokens.isRevoked(claims),
          o.clientIsActive ? o.clientIsActive(claims.client_id) : true,
          o.tenantIsActive ? o.tenantIsActive(claims.tenant_id) : true,
        ]);
        if (revoked || !clientActive || !tenantActive) {
          const reason = revoked ? "revoked" : !clientActive ? "client_inactive" : "tenant_inactive";
          o.log?.info("bearer token refused", { reason, request_id: req.requestId });
          return undefined;
        }
        return {
          kind: "tenant",
          tenantId: claims.tenant_id,
          credentialId: `client:${claims.client_id}`,
          scopes: permissionsOf(claims.scope),
        };
      } catch (e) {
        if (!(e instanceof InvalidTokenError)) throw e;
        o.log?.info("bearer token refused", { reason: e.reason, request_id: req.requestId });
        return undefined;
      }
    },
  };
}
