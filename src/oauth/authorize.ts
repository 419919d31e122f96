/**
 * The authorization endpoint (OAuth 2.1 §4.1, OIDC Core §3.1.2) and the consent page.
 *
 * Checks, in order, each one refusal (node-oidc-provider style):
 * 1. `client_id` names an active client with the authorization_code grant, and `redirect_uri`
 *    matches one of its registered URIs exactly. Otherwise an error PAGE: never a redirect to an
 *    unverified address (no open redirects).
 * 2. From here errors go back to the client's redirect URI with `state` and `iss`:
 *    `request`/`request_uri` → request_not_supported; `response_type` other than `code` →
 *    unsupported_response_type; `response_mode` other than `query`, missing `code_challenge`, or a
 *    method other than `S256` (plain is refused) → invalid_request; scopes outside the client's
 *    registration → invalid_scope; bad `prompt`/`max_age` → invalid_request.
 * 3. An active session of the request's tenant (organizations.ts: the client's own, or the
 *    organization a multi-tenant client chose), within `max_age` and not `prompt=login`, gets a code
 *    at once (after consent for third-party clients whose remembered consent does not cover the
 *    requested scopes, or with `prompt=consent`); otherwise `prompt=none` → login_required
 *    (consent_required when consent is missing), else a login transaction starts and the browser
 *    goes to the sign-in page.
 */
import { randomBytes } from "node:crypto";
import type { HttpRequest, HttpResponse, Route } from "../http/types.ts";
import type { Interaction, Session } from "../sessions/model.ts";
import { constantTimeEqual } from "../shared/ids.ts";
import { OAuthError } from "./errors.ts";
import { parseForm } from "./form.ts";
import { PATHS } from "./metadata.ts";
import type { OAuthClient } from "./model.ts";
import { chooseTenant, interactionTenant, sessionFits } from "./organizations.ts";
import { consentStep, message, page } from "./pages/html.ts";
import { grantScopes, parseScope } from "./scopes.ts";
import { originOf, redirect, type SignInContext } from "./signin-deps.ts";

const PKCE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const MAX_PARAM = 1024;

/** An HTML error page (no redirect). Generic by design. */
export const errorPage = (status: number, text: string): HttpResponse =>
  page(status, "Sign-in problem", message("Something went wrong", text));

type Outcome =
  | { ok: true; client: OAuthClient; params: Record<string, string> }
  | { ok: false; res: HttpResponse };

/** Validates an authorization request. */
export async function validateAuthorizationRequest(
  x: SignInContext,
  q: Readonly<Record<string, string>>,
): Promise<Outcome> {
  const clientId = q.client_id;
  const client = clientId && clientId.length < 64 ? await x.d.clients.findActive(clientId) : undefined;
  if (!client?.grantTypes.includes("authorization_code"))
    return {
      ok: false,
      res: errorPage(400, "The application that sent you here is not known. Go back and try again."),
    };
  const redirectUri = q.redirect_uri;
  if (!redirectUri || !client.redirectUris.includes(redirectUri))
    return {
      ok: false,
      res: errorPage(400, "The application sent you here with an address that is not registered."),
    };
  const base = {
    redirect_uri: redirectUri,
    ...(q.state !== undefined && q.state.length <= MAX_PARAM ? { state: q.state } : {}),
  };
  const fail = (error: string, d: string): Outcome => ({ ok: false, res: x.errorRedirect(base, error, d) });
  if (q.request !== undefined || q.request_uri !== undefined)
    return fail("request_not_supported", "Request objects are not supported.");
  if (q.response_type !== "code")
    return fail("unsupported_response_type", "Only response_type=code is supported.");
  if (q.response_mode !== undefined && q.response_mode !== "query")
    return fail("invalid_request", "Only response_mode=query is supported.");
  for (const [k, v] of Object.entries(q))
    if (v.length > MAX_PARAM) return fail("invalid_request", `The ${k} parameter is too long.`);
  if (q.code_challenge === undefined)
    return fail("invalid_request", "PKCE is required: send code_challenge with S256.");
  if (q.code_challenge_method !== "S256")
    return fail("invalid_request", "code_challenge_method must be S256.");
  if (!PKCE_CHALLENGE.test(q.code_challenge)) return fail("invalid_request", "code_challenge is malformed.");
  let scopes: string[];
  try {
    scopes = grantScopes(parseScope(q.scope || undefined), client.scope);
  } catch (e) {
    if (e instanceof OAuthError) return fail("invalid_scope", e.description);
    throw e;
  }
  const prompts = (q.prompt ?? "").split(" ").filter(Boolean);
  if (
    prompts.some((p) => !["none", "login", "consent"].includes(p)) ||
    (prompts.includes("none") && prompts.length > 1)
  )
    return fail("invalid_request", "prompt must be none, login or consent.");
  if (q.max_age !== undefined && !/^\d{1,9}$/.test(q.max_age))
    return fail("invalid_request", "max_age must be a number of seconds.");
  const params: Record<string, string> = {
    ...base,
    client_id: client.clientId,
    scope: scopes.join(" "),
    code_challenge: q.code_challenge,
  };
  for (const k of ["nonce", "prompt", "max_age", "login_hint"] as const)
    if (q[k] !== undefined) params[k] = q[k];
  return { ok: true, client, params };
}

/** Starts a login transaction: cookie-bound, with its CSRF token. */
async function startInteraction(
  x: SignInContext,
  client: OAuthClient,
  params: Record<string, string>,
  tenant: Pick<Interaction, "tenantId" | "tenantFrom">,
  sessionId?: string,
) {
  const i: Interaction = {
    id: randomBytes(18).toString("base64url"),
    ...tenant,
    clientId: client.clientId,
    csrf: randomBytes(24).toString("base64url"),
    params,
    ...(sessionId ? { sessionId } : {}),
    expiresAt: x.d.clock.now() + (x.d.interactionLifetimeSeconds ?? 600) * 1000,
  };
  await x.d.store.putInteraction(i);
  return { i, cookie: x.cookies.set(x.cookies.transaction, i.id, x.d.interactionLifetimeSeconds ?? 600) };
}

/**
 * The login transaction of a hosted-page request: the `tx` parameter must name a live transaction
 * AND match the browser's transaction cookie; for POSTs the CSRF token must match too.
 */
export async function interactionOf(
  x: SignInContext,
  req: HttpRequest,
  tx: string | undefined,
  csrf?: string | null,
): Promise<Interaction | undefined> {
  const cookie = x.cookies.get(req, x.cookies.transaction);
  if (!tx || !cookie || !constantTimeEqual(tx, cookie)) return undefined;
  const i = await x.d.store.getInteraction(tx, x.d.clock.now());
  if (!i) return undefined;
  if (csrf !== undefined && (csrf === null || !constantTimeEqual(csrf, i.csrf))) return undefined;
  return i;
}

export const EXPIRED_TEXT =
  "This sign-in page has expired or the request could not be verified. Go back to the application and try again.";

/** Routes: `GET /oauth/authorize`, `GET|POST /oauth/consent`. */
export function authorizeRoutes(x: SignInContext): Route[] {
  /**
   * The consent page: the scopes the user has not granted the client yet (all requested ones with
   * `prompt=consent` when nothing is new), and those already granted as a note.
   */
  const consentPage = async (client: OAuthClient, i: Interaction, s: Session) => {
    const requested = (i.params.scope ?? "").split(" ").filter(Boolean);
    const fresh = await x.d.consents.missing(s.tenantId, s.userId, client.clientId, requested);
    const asked = fresh.length > 0 ? fresh : requested;
    return page(
      200,
      "Allow access",
      consentStep({
        action: PATHS.consent,
        tx: i.id,
        csrf: i.csrf,
        clientName: client.clientName,
        scopes: asked,
        granted: requested.filter((s) => !asked.includes(s)),
      }),
      { formTargets: [originOf(i.params.redirect_uri!)] },
    );
  };

  return [
    {
      method: "GET",
      path: PATHS.authorize,
      access: { kind: "public" },
      handler: async (req) => {
        const v = await validateAuthorizationRequest(x, req.query);
        if (!v.ok) return v.res;
        const { client, params } = v;
        // Which tenant (docs/SIGNIN.md "Which tenant"); sessions are tenant-bound.
        const t = await chooseTenant(x, client, req.query, params, req);
        if (!t.ok) return t.res;
        const prompts = (params.prompt ?? "").split(" ");
        let session = prompts.includes("login") ? undefined : await x.session(req);
        if (session && !sessionFits(session, t.choice)) session = undefined;
        if (
          session &&
          params.max_age !== undefined &&
          x.d.clock.now() - session.authTime > Number(params.max_age) * 1000
        )
          session = undefined;
        if (session) {
          if (!(await x.needsConsent(client, params, session)))
            return redirect(await x.codeRedirect(client, params, session));
          if (prompts.includes("none"))
            return x.errorRedirect(params, "consent_required", "The user must consent.");
          const { i, cookie } = await startInteraction(
            x,
            client,
            params,
            interactionTenant(t.choice, session),
            session.id,
          );
          return redirect(`${PATHS.consent}?tx=${encodeURIComponent(i.id)}`, cookie);
        }
        if (prompts.includes("none"))
          return x.errorRedirect(params, "login_required", "The user must sign in.");
        const { i, cookie } = await startInteraction(x, client, params, interactionTenant(t.choice));
        return redirect(x.loginUrl(i.id), cookie);
      },
    },
    {
      method: "GET",
      path: PATHS.consent,
      access: { kind: "public" },
      handler: async (req) => {
        const i = await interactionOf(x, req, req.query.tx);
        const s = i?.sessionId ? await x.session(req) : undefined;
        const client = i ? await x.d.clients.findActive(i.clientId) : undefined;
        if (!i || !s || s.id !== i.sessionId || !client) return errorPage(403, EXPIRED_TEXT);
        return consentPage(client, i, s);
      },
    },
    {
      method: "POST",
      path: PATHS.consent,
      access: { kind: "public" },
      handler: async (req) => {
        const form = parseForm(req);
        const i = await interactionOf(x, req, form.get("tx"), form.get("csrf") ?? null);
        const s = i?.sessionId ? await x.session(req) : undefined;
        const client = i ? await x.d.clients.findActive(i.clientId) : undefined;
        if (!i || !s || s.id !== i.sessionId || !client) return errorPage(403, EXPIRED_TEXT);
        await x.d.store.deleteInteraction(i.id);
        const scopes = (i.params.scope ?? "").split(" ").filter(Boolean);
        const consentEvent = {
          tenant: s.tenantId,
          subject: s.userId,
          resource: `client:${client.clientId}`,
          request: x.requestInfo(req),
        };
        if (form.get("decision") !== "allow") {
          x.event({
            ...consentEvent,
            type: "consent.denied",
            action: "deny",
            reason: "access_denied",
            detail: { client_id: client.clientId, scope: scopes.join(" ") },
          });
          return x.errorRedirect(i.params, "access_denied", "The user denied access.");
        }
        // Remembered: later requests for these scopes skip the page (unless prompt=consent).
        const consent = await x.d.consents.grant(s.tenantId, s.userId, client.clientId, scopes);
        x.event({
          ...consentEvent,
          type: "consent.granted",
          action: "grant",
          detail: {
            client_id: client.clientId,
            scope: scopes.join(" "),
            granted_scope: consent.scopes.join(" "),
          },
        });
        return redirect(await x.codeRedirect(client, i.params, s));
      },
    },
  ];
}
