/**
 * The OAuth API group: token (RFC 6749 §3.2), introspection (RFC 7662), revocation (RFC 7009),
 * metadata (RFC 8414) and the JWKS (RFC 7517). Errors render in the OAuth format (errors.ts).
 */
import { createHash } from "node:crypto";
import { json } from "../http/router.ts";
import type { HttpResponse, Route } from "../http/types.ts";
import type { PublicJwk } from "../keys/model.ts";
import type { Clock } from "../shared/clock.ts";
import type { ClientAuthenticator } from "./client-auth.ts";
import type { ClientService } from "./clients.ts";
import { invalidRequest, OAuthError } from "./errors.ts";
import { parseForm } from "./form.ts";
import {
  assertGrantAllowed,
  clientCredentials,
  type TokenResponse,
  tokenExchange,
  tokenResponseJson,
} from "./grants.ts";
import { PATHS, serverMetadata } from "./metadata.ts";
import { type AccessTokenClaims, GRANT_TYPES, type OAuthClient, TOKEN_EXCHANGE } from "./model.ts";
import type { SignIn } from "./signin.ts";
import { type AccessTokenService, InvalidTokenError } from "./tokens.ts";

/**
 * What the token endpoint issued, for the route-edge decorators (`HttpResponse.meta`; never sent,
 * and holding no credential): the audit rule can read it instead of re-parsing the form, the
 * response and the token. The response's `expires_in` is `exp - iat`, its `scope` the claim's.
 */
export interface TokenMeta {
  /** The request's `grant_type` (one of GRANT_TYPES). */
  readonly grant_type: string;
  /**
   * The access token's claims, as signed (client_credentials, token exchange); absent for the
   * sign-in grants, whose responses carry more (read the response then).
   */
  readonly claims?: AccessTokenClaims;
}

/** What the OAuth routes need. */
export interface OAuthRoutesDeps {
  readonly issuer: string;
  readonly clients: ClientService;
  readonly clientAuth: ClientAuthenticator;
  readonly tokens: AccessTokenService;
  readonly keys: { jwks(): Promise<{ keys: PublicJwk[] }> };
  readonly clock: Clock;
  /** `Cache-Control: max-age` of the JWKS and metadata. @default 300 */
  readonly jwksMaxAgeSeconds?: number;
  /** The interactive half (authorize, hosted pages, code and refresh grants, userinfo, logout). */
  readonly signIn?: SignIn;
}

const PUBLIC_JSON = (maxAge: number) => ({
  "cache-control": `public, max-age=${maxAge}`,
  "access-control-allow-origin": "*",
});

/** A JSON response with an ETag; 304 when the client has it already. */
function cacheable(
  req: { headers: Readonly<Record<string, string>> },
  body: string,
  headers: Record<string, string>,
): HttpResponse {
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
  const common = { ...headers, etag };
  if (req.headers["if-none-match"]?.split(/\s*,\s*/).includes(etag))
    return { statusCode: 304, headers: common };
  return { statusCode: 200, headers: common, body };
}

/** Routes of the `oauth` API group. */
export function oauthRoutes(d: OAuthRoutesDeps): Route[] {
  const maxAge = d.jwksMaxAgeSeconds ?? 300;
  const metadata = JSON.stringify(serverMetadata(d.issuer, { interactive: d.signIn !== undefined }));
  const url = (p: string) => `${d.issuer}${p}`;
  const noStore = { pragma: "no-cache" };
  const tokenUrl = url(PATHS.token);

  const serveMetadata: Route["handler"] = async (req) =>
    cacheable(req, metadata, { "content-type": "application/json", ...PUBLIC_JSON(maxAge) });

  /**
   * Verified, unrevoked, of the caller's tenant and from a client that still exists; else undefined.
   * A multi-tenant client's user tokens carry the user's tenant: the client itself may introspect them.
   */
  const activeClaims = async (token: string, caller: OAuthClient): Promise<AccessTokenClaims | undefined> => {
    const tenantId = caller.tenantId;
    let claims: AccessTokenClaims;
    try {
      claims = await d.tokens.verify(token);
    } catch (e) {
      if (e instanceof InvalidTokenError) return undefined;
      throw e;
    }
    const own = claims.client_id === caller.clientId && caller.organizationUsage === "require";
    if ((claims.tenant_id !== tenantId && !own) || (await d.tokens.isRevoked(claims))) return undefined;
    const issuedTo = await d.clients.findActive(claims.client_id);
    return issuedTo?.tenantId === tenantId ? claims : undefined;
  };

  return [
    {
      method: "POST",
      path: PATHS.token,
      access: { kind: "public" },
      handler: async (req, ctx) => {
        const form = parseForm(req);
        const grantType = form.get("grant_type");
        if (grantType === undefined) throw invalidRequest("grant_type is required.");
        if (!(GRANT_TYPES as readonly string[]).includes(grantType))
          throw new OAuthError("unsupported_grant_type", "This grant type is not supported.");
        const interactive = grantType === "authorization_code" || grantType === "refresh_token";
        if (interactive && !d.signIn)
          throw new OAuthError("unsupported_grant_type", "This grant type is not supported.");
        const { client } = await d.clientAuth.authenticate(req, form, tokenUrl, ctx.log, {
          allowPublic: interactive,
        });
        assertGrantAllowed(client, grantType);
        const issued: { response: TokenResponse; claims?: AccessTokenClaims } =
          grantType === TOKEN_EXCHANGE
            ? await tokenExchange(form, client, d.tokens, d.clock)
            : interactive
              ? { response: await d.signIn!.grant(grantType, form, client) }
              : await clientCredentials(form, client, d.tokens);
        // No log line here: the `token.issued` audit event records client, tenant and grant, and a
        // debug line would make a per-request child logger even when debug is off.
        const meta: TokenMeta = issued.claims
          ? { grant_type: grantType, claims: issued.claims }
          : { grant_type: grantType };
        // json(200, issued.response, noStore) with the meta, built directly.
        return {
          statusCode: 200,
          headers: { "content-type": "application/json", "cache-control": "no-store", pragma: "no-cache" },
          // Our grants' responses (access token, type, expiry, scope, issued type) serialise by
          // hand; the sign-in grants' (refresh and id tokens too) with JSON.stringify.
          body: issued.claims ? tokenResponseJson(issued.response) : JSON.stringify(issued.response),
          meta,
        };
      },
    },
    {
      method: "POST",
      path: PATHS.introspect,
      access: { kind: "public" },
      handler: async (req, ctx) => {
        const form = parseForm(req);
        const { client } = await d.clientAuth.authenticate(req, form, url(PATHS.introspect), ctx.log);
        const token = form.get("token");
        if (token === undefined) throw invalidRequest("token is required.");
        const claims = await activeClaims(token, client);
        if (!claims) return json(200, { active: false }, noStore);
        const { iss, sub, aud, exp, iat, jti, client_id, scope, tenant_id, act } = claims;
        return json(
          200,
          {
            active: true,
            ...(scope ? { scope } : {}),
            client_id,
            token_type: "Bearer",
            exp,
            iat,
            sub,
            aud,
            iss,
            jti,
            tenant_id,
            ...(act ? { act } : {}),
          },
          noStore,
        );
      },
    },
    {
      method: "POST",
      path: PATHS.revoke,
      access: { kind: "public" },
      handler: async (req, ctx) => {
        const form = parseForm(req);
        const { client } = await d.clientAuth.authenticate(req, form, url(PATHS.revoke), ctx.log, {
          allowPublic: d.signIn !== undefined,
        });
        const token = form.get("token");
        if (token === undefined) throw invalidRequest("token is required.");
        if (d.signIn && (await d.signIn.revoke(token, client)))
          return { statusCode: 200, headers: { "cache-control": "no-store" } };
        let claims: AccessTokenClaims;
        try {
          claims = await d.tokens.verify(token);
        } catch (e) {
          // RFC 7009 §2.2: invalid (or expired, or unknown) tokens do not cause an error.
          if (e instanceof InvalidTokenError)
            return { statusCode: 200, headers: { "cache-control": "no-store" } };
          throw e;
        }
        const ownTenant = claims.tenant_id === client.tenantId || client.organizationUsage === "require";
        if (!ownTenant || claims.client_id !== client.clientId)
          throw new OAuthError("unauthorized_client", "This token was not issued to this client.");
        await d.tokens.revoke(claims);
        ctx.log.info("token revoked", {
          client_id: client.clientId,
          tenant: client.tenantId,
          jti: claims.jti,
        });
        return { statusCode: 200, headers: { "cache-control": "no-store" } };
      },
    },
    { method: "GET", path: PATHS.oauthMetadata, access: { kind: "public" }, handler: serveMetadata },
    { method: "GET", path: PATHS.openidMetadata, access: { kind: "public" }, handler: serveMetadata },
    {
      method: "GET",
      path: PATHS.jwks,
      access: { kind: "public" },
      handler: async (req) =>
        cacheable(req, JSON.stringify(await d.keys.jwks()), {
          "content-type": "application/jwk-set+json",
          ...PUBLIC_JSON(maxAge),
        }),
    },
    ...(d.signIn?.routes ?? []),
  ];
}
