/**
 * `GET|POST /oauth/userinfo` (OIDC Core §5.3): claims about the signed-in user for an access token
 * with the `openid` scope; `profile` adds `name`, `email` adds `email` and `email_verified`.
 * Refusals are `401` with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3) or `403
 * insufficient_scope`, and never say whether the user exists.
 */
import { bearerToken, json } from "../http/router.ts";
import type { HttpResponse, Route } from "../http/types.ts";
import { PATHS } from "./metadata.ts";
import type { SignInContext } from "./signin-deps.ts";
import { InvalidTokenError } from "./tokens.ts";

const challenge = (error: string, status: number): HttpResponse => ({
  statusCode: status,
  headers: {
    "www-authenticate": `Bearer realm="portcullis", error="${error}"`,
    "cache-control": "no-store",
    "content-type": "application/json",
  },
  body: JSON.stringify({
    error,
    error_description:
      error === "invalid_token" ? "The access token is invalid." : "The token lacks the openid scope.",
  }),
});

export function userinfoRoutes(x: SignInContext): Route[] {
  const handler: Route["handler"] = async (req) => {
    const token = bearerToken(req);
    if (!token)
      return {
        ...challenge("invalid_token", 401),
        headers: { "www-authenticate": 'Bearer realm="portcullis"', "cache-control": "no-store" },
        body: "",
      };
    let claims: Awaited<ReturnType<typeof x.d.tokens.verify>>;
    try {
      claims = await x.d.tokens.verify(token);
    } catch (e) {
      if (e instanceof InvalidTokenError) return challenge("invalid_token", 401);
      throw e;
    }
    if (claims.sub === claims.client_id || (await x.d.tokens.isRevoked(claims)))
      return challenge("invalid_token", 401);
    const scopes = (claims.scope ?? "").split(" ");
    if (!scopes.includes("openid")) return challenge("insufficient_scope", 403);
    const user = await x.d.users.findActive(claims.tenant_id, claims.sub);
    if (!user) return challenge("invalid_token", 401);
    return json(200, {
      sub: user.id,
      ...(scopes.includes("profile") ? { name: user.name } : {}),
      ...(scopes.includes("email") ? { email: user.email, email_verified: user.emailVerified } : {}),
    });
  };
  return [
    { method: "GET", path: PATHS.userinfo, access: { kind: "public" }, handler },
    { method: "POST", path: PATHS.userinfo, access: { kind: "public" }, handler },
  ];
}
