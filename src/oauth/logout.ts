/**
 * RP-Initiated Logout (OIDC RP-Initiated Logout 1.0): `GET /oauth/logout` shows a confirmation page;
 * its form POSTs back (CSRF token bound to the session cookie), which ends the session (its refresh
 * tokens die with it; a `session.revoked` event), clears the cookie and, when `post_logout_redirect_uri` is registered for
 * the client named by `client_id` or the `id_token_hint`'s audience, redirects there with `state`.
 * An unregistered URI or a foreign/forged hint gets an error page: never an open redirect.
 */
import { createHash } from "node:crypto";
import type { HttpRequest, HttpResponse, Route } from "../http/types.ts";
import { constantTimeEqual } from "../shared/ids.ts";
import { errorPage } from "./authorize.ts";
import { parseForm } from "./form.ts";
import { PATHS } from "./metadata.ts";
import { logoutStep, message, page } from "./pages/html.ts";
import { originOf, redirect, type SignInContext, withQuery } from "./signin-deps.ts";

type Target =
  | { ok: true; redirectTo?: string; clientId?: string; fields: Record<string, string | undefined> }
  | { ok: false; res: HttpResponse };

/** Validates the logout parameters (from the query, or the confirmation form). */
async function target(
  x: SignInContext,
  p: {
    id_token_hint?: string | undefined;
    client_id?: string | undefined;
    post_logout_redirect_uri?: string | undefined;
    state?: string | undefined;
  },
): Promise<Target> {
  const bad = (): Target => ({
    ok: false,
    res: errorPage(400, "The sign-out request is not valid. You have not been signed out."),
  });
  let clientId = p.client_id;
  if (p.id_token_hint !== undefined) {
    const hint = await x.d.idTokens.verifyHint(p.id_token_hint);
    if (!hint || (clientId !== undefined && hint.aud !== clientId)) return bad();
    clientId = hint.aud;
  }
  if (p.post_logout_redirect_uri === undefined)
    return {
      ok: true,
      ...(clientId ? { clientId } : {}),
      fields: { id_token_hint: p.id_token_hint, client_id: p.client_id },
    };
  const client = clientId ? await x.d.clients.findActive(clientId) : undefined;
  if (!client || !(client.postLogoutRedirectUris ?? []).includes(p.post_logout_redirect_uri)) return bad();
  return {
    ok: true,
    clientId: client.clientId,
    redirectTo: withQuery(p.post_logout_redirect_uri, { state: p.state }),
    fields: {
      id_token_hint: p.id_token_hint,
      client_id: p.client_id,
      post_logout_redirect_uri: p.post_logout_redirect_uri,
      state: p.state,
    },
  };
}

/** CSRF token of the logout form: bound to the session cookie, nothing stored. */
const csrfOf = (cookie: string) =>
  createHash("sha256").update(`portcullis-logout:${cookie}`).digest("base64url");

export function logoutRoutes(x: SignInContext): Route[] {
  const done = (t: { redirectTo?: string }, cookie?: string): HttpResponse =>
    t.redirectTo
      ? redirect(t.redirectTo, cookie)
      : page(
          200,
          "Signed out",
          message("You are signed out", "You can close this window."),
          cookie ? { cookie } : {},
        );
  const cookieOf = (req: HttpRequest) => x.cookies.get(req, x.cookies.session);
  return [
    {
      method: "GET",
      path: PATHS.logout,
      access: { kind: "public" },
      handler: async (req) => {
        const q = req.query;
        const t = await target(x, q);
        if (!t.ok) return t.res;
        const cookie = cookieOf(req);
        const session = await x.session(req);
        if (!session || !cookie) return done(t);
        return page(
          200,
          "Sign out",
          logoutStep({ action: PATHS.logout, csrf: csrfOf(cookie), fields: t.fields }),
          {
            formTargets: t.redirectTo ? [originOf(t.redirectTo)] : [],
          },
        );
      },
    },
    {
      method: "POST",
      path: PATHS.logout,
      access: { kind: "public" },
      handler: async (req) => {
        const form = parseForm(req);
        const cookie = cookieOf(req);
        const csrf = form.get("csrf");
        if (!cookie || !csrf || !constantTimeEqual(csrf, csrfOf(cookie)))
          return errorPage(403, "The sign-out request could not be verified. You have not been signed out.");
        const t = await target(x, {
          id_token_hint: form.get("id_token_hint"),
          client_id: form.get("client_id"),
          post_logout_redirect_uri: form.get("post_logout_redirect_uri"),
          state: form.get("state"),
        });
        if (!t.ok) return t.res;
        const session = await x.session(req);
        if (session) await x.endSession(req, session, "logout", t.clientId);
        return done(t, x.cookies.set(x.cookies.session, "", 0));
      },
    },
  ];
}
