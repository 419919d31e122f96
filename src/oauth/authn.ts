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
   * The issuing client's tenant if the client still exists and that tenant is active; undefined
   * otherwise (a deleted client's or tenant's tokens are refused at once, as their API keys are).
   */
  readonly activeClientTenant?: (clientId: string) => Promise<string | undefined>;
  /**
   * Whether the token's tenant is active, asked only when it is not the client's own (the user's
   * tenant, for a multi-tenant client): the client check has read that one already.
   */
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
        const [revoked, clientTenant] = await Promise.all([
          o.tokens.isRevoked(claims),
          o.activeClientTenant ? o.activeClientTenant(claims.client_id) : claims.tenant_id,
        ]);
        const clientActive = clientTenant !== undefined;
        const tenantActive =
          !clientActive ||
          clientTenant === claims.tenant_id ||
          !o.tenantIsActive ||
          (await o.tenantIsActive(claims.tenant_id));
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
