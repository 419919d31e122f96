/**
 * The interactive half of the authorization server, assembled: hosted pages, authorization
 * endpoint, userinfo, logout, and the interactive token grants.
 */
import type { Route } from "../http/types.ts";
import { DomainError } from "../shared/errors.ts";
import { authorizeRoutes, errorPage } from "./authorize.ts";
import { OAuthError } from "./errors.ts";
import type { Form } from "./form.ts";
import { loginRoutes } from "./login.ts";
import { logoutRoutes } from "./logout.ts";
import type { OAuthClient } from "./model.ts";
import {
  authorizationCodeGrant,
  type InteractiveTokenResponse,
  refreshTokenGrant,
  revokeRefreshToken,
} from "./refresh.ts";
import { SignInContext, type SignInDeps } from "./signin-deps.ts";
import { userinfoRoutes } from "./userinfo.ts";

/** The interactive flow: routes for the `oauth` group and the grants the token endpoint calls. */
export interface SignIn {
  readonly routes: Route[];
  grant(
    grantType: "authorization_code" | "refresh_token",
    form: Form,
    client: OAuthClient,
  ): Promise<InteractiveTokenResponse>;
  /** RFC 7009 for refresh tokens: true when `token` was a refresh token (handled). */
  revoke(token: string, client: OAuthClient): Promise<boolean>;
}

/**
 * Pages never render OAuth JSON: a malformed request (OAuthError, e.g. a form of the wrong media
 * type) is a 400 page, a busy store a 503 page, anything else a generic 500 page whose cause goes to
 * the log.
 */
function htmlErrors(route: Route): Route {
  return {
    ...route,
    handler: async (req, ctx) => {
      try {
        return await route.handler(req, ctx);
      } catch (err) {
        if (err instanceof OAuthError)
          return errorPage(
            400,
            "The request could not be processed. Go back to the application and try again.",
          );
        if (err instanceof DomainError && (err.code === "unavailable" || err.code === "rate_limited"))
          return errorPage(503, "The service is busy. Try again in a moment.");
        ctx.log.error("hosted page failed", { err, request_id: req.requestId });
        return errorPage(500, "Something went wrong on our side. Try again later.");
      }
    },
  };
}

export function createSignIn(d: SignInDeps): SignIn {
  const x = new SignInContext(d);
  const pages = [...authorizeRoutes(x), ...loginRoutes(x), ...logoutRoutes(x)].map(htmlErrors);
  return {
    routes: [...pages, ...userinfoRoutes(x)],
    grant: (type, form, client) =>
      type === "authorization_code"
        ? authorizationCodeGrant(x, form, client)
        : refreshTokenGrant(x, form, client),
    revoke: (token, client) => revokeRefreshToken(x, token, client),
  };
}

export type { SignInDeps } from "./signin-deps.ts";
