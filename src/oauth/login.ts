/**
 * The sign-in pages: `GET /oauth/login` (email step) and `POST /oauth/login` (email step, then
 * password step). Every POST needs the login transaction's cookie and CSRF token. Failures show one
 * generic message whether the email exists, the password is wrong or the user is disabled;
 * failed attempts are throttled per account and per IP with exponential backoff (429 with
 * Retry-After) and reported as `login.failed` / `login.throttled` events. For multi-tenant clients
 * not bound to an `organization`, the email step finds the tenant by the email's domain
 * (organizations.ts) and counts every such submission per IP (and IP + tenant).
 */
import type { HttpResponse, Route } from "../http/types.ts";
import type { Interaction } from "../sessions/model.ts";
import { DomainError } from "../shared/errors.ts";
import { EXPIRED_TEXT, errorPage, interactionOf } from "./authorize.ts";
import { type Form, parseForm } from "./form.ts";
import { PATHS } from "./metadata.ts";
import type { OAuthClient } from "./model.ts";
import { isMultiTenant, ORGANIZATION_NOT_FOUND } from "./organizations.ts";
import { emailStep, page, passwordStep } from "./pages/html.ts";
import { ACR_PASSWORD, originOf, redirect, type SignInContext } from "./signin-deps.ts";

/** The one message for every failed sign-in. */
export const LOGIN_FAILED = "The email address or password is incorrect.";
export const LOGIN_THROTTLED = "Too many attempts. Wait a moment and try again.";
const EMAIL_SHAPE = /^[^\s@]{1,64}@[^\s@]{1,253}$/;

export function loginRoutes(x: SignInContext): Route[] {
  const emailPage = (
    client: OAuthClient,
    i: Interaction,
    status = 200,
    email?: string,
    error?: string,
  ): HttpResponse =>
    page(
      status,
      "Sign in",
      emailStep({
        action: PATHS.login,
        tx: i.id,
        csrf: i.csrf,
        clientName: client.clientName,
        ...(email !== undefined ? { email } : {}),
        ...(error ? { error } : {}),
      }),
      { formTargets: [originOf(i.params.redirect_uri!)] },
    );
  const passwordPage = (
    client: OAuthClient,
    i: Interaction,
    email: string,
    status = 200,
    error?: string,
    extra: Record<string, string> = {},
  ): HttpResponse => {
    const res = page(
      status,
      "Sign in",
      passwordStep({
        action: PATHS.login,
        tx: i.id,
        csrf: i.csrf,
        clientName: client.clientName,
        email,
        ...(error ? { error } : {}),
      }),
      {
        formTargets: [originOf(i.params.redirect_uri!)],
      },
    );
    return { ...res, headers: { ...res.headers, ...extra } };
  };

  const passwordStepPost = async (
    form: Form,
    client: OAuthClient,
    i: Interaction,
    req: Parameters<Route["handler"]>[0],
  ): Promise<HttpResponse> => {
    const email = (form.get("email") ?? "").trim();
    const password = form.get("password") ?? "";
    if (!EMAIL_SHAPE.test(email)) return emailPage(client, i, 400, email, "Enter a valid email address.");
    // The tenant must be decided (by the client, the organization parameter or the email step),
    // and a single-tenant client's is always its own.
    if (!i.tenantId || (!isMultiTenant(client) && i.tenantId !== client.tenantId))
      return emailPage(client, i, 400, email, "Enter your email address to continue.");
    const ip = req.sourceIp;
    const request = x.requestInfo(req);
    const wait = await x.d.throttle.retryAfterMs(i.tenantId, email, ip);
    if (wait > 0) {
      x.event({
        type: "login.throttled",
        tenant: i.tenantId,
        reason: "backoff",
        request,
        detail: { client_id: client.clientId, retry_after_ms: wait },
      });
      return passwordPage(client, i, email, 429, LOGIN_THROTTLED, {
        "retry-after": String(Math.ceil(wait / 1000)),
      });
    }
    const user = password ? await x.d.users.authenticate(i.tenantId, email, password) : undefined;
    if (!user) {
      let next: number;
      try {
        next = await x.d.throttle.failed(i.tenantId, email, ip);
      } catch (e) {
        // A failure counter that cannot be settled under a burst: "wait", never a server error.
        if (!(e instanceof DomainError && e.code === "rate_limited")) throw e;
        x.event({
          type: "login.throttled",
          tenant: i.tenantId,
          reason: "backoff",
          request,
          detail: { client_id: client.clientId, retry_after_ms: 1000 },
        });
        return passwordPage(client, i, email, 429, LOGIN_THROTTLED, { "retry-after": "1" });
      }
      x.event({
        type: "login.failed",
        tenant: i.tenantId,
        reason: "invalid_credentials",
        request,
        detail: { client_id: client.clientId, retry_after_ms: next },
      });
      return passwordPage(client, i, email, 401, LOGIN_FAILED);
    }
    await x.d.throttle.succeeded(i.tenantId, email);
    // A new sign-in replaces the browser's previous session (no fixation, no pile-up); emits
    // session.revoked (the previous one) and session.created.
    const { session, cookie } = await x.startSession(req, i.tenantId, user.id, client.clientId, {
      amr: ["pwd"],
      acr: ACR_PASSWORD,
    });
    x.event({
      type: "login.succeeded",
      tenant: i.tenantId,
      subject: user.id,
      request,
      detail: { client_id: client.clientId, session_id: session.id, amr: ["pwd"] },
    });
    const policy = await x.d.sessions.policy(i.tenantId);
    const sessionCookie = x.cookies.set(x.cookies.session, cookie, policy.absoluteTimeoutSeconds);
    if (await x.needsConsent(client, i.params, { tenantId: i.tenantId, userId: user.id })) {
      await x.d.store.putInteraction({ ...i, sessionId: session.id });
      return redirect(`${PATHS.consent}?tx=${encodeURIComponent(i.id)}`, sessionCookie);
    }
    await x.d.store.deleteInteraction(i.id);
    return redirect(await x.codeRedirect(client, i.params, session), sessionCookie);
  };

  /** A 429 email page with Retry-After, reported as `login.throttled`. */
  const emailThrottled = (
    client: OAuthClient,
    i: Interaction,
    req: Parameters<Route["handler"]>[0],
    email: string,
    limit: { waitMs: number; scope?: string },
    tenant: string,
  ): HttpResponse => {
    x.event({
      type: "login.throttled",
      tenant,
      reason: "email_step_rate",
      request: x.requestInfo(req),
      detail: { client_id: client.clientId, retry_after_ms: limit.waitMs, limit: limit.scope ?? "ip" },
    });
    const res = emailPage(client, i, 429, email, LOGIN_THROTTLED);
    return { ...res, headers: { ...res.headers, "retry-after": String(Math.ceil(limit.waitMs / 1000)) } };
  };

  /**
   * Email step. For a multi-tenant client not bound by an `organization` parameter: home-realm
   * discovery by the email's domain, rate limited per IP and per IP + found tenant, counting every
   * such submission; no match is one generic message. Otherwise (single-tenant clients, a fixed
   * organization) the email only goes on to the password step, which has its own throttling: not
   * counted, so a shared IP cannot be locked out of ordinary sign-ins.
   */
  const emailStepPost = async (
    form: Form,
    client: OAuthClient,
    i: Interaction,
    req: Parameters<Route["handler"]>[0],
  ): Promise<HttpResponse> => {
    const email = (form.get("email") ?? "").trim().slice(0, 320);
    const multi = isMultiTenant(client);
    const discover = multi && i.tenantFrom !== "organization";
    if (!discover) {
      if (!EMAIL_SHAPE.test(email)) return emailPage(client, i, 400, email, "Enter a valid email address.");
      return passwordPage(client, i, email);
    }
    const limiter = x.d.emailStepLimiter;
    if (limiter) {
      const limit = await limiter.hit(req.sourceIp);
      // Before discovery the submission has no tenant yet: reported to the client's own.
      if (limit.waitMs > 0) return emailThrottled(client, i, req, email, limit, client.tenantId);
    }
    if (!EMAIL_SHAPE.test(email)) return emailPage(client, i, 400, email, "Enter a valid email address.");
    const tenantId = await x.d.organizations?.tenantOfEmail(email);
    if (!tenantId) {
      x.event({
        type: "login.failed",
        tenant: client.tenantId,
        reason: "unknown_organization",
        request: x.requestInfo(req),
        detail: { client_id: client.clientId },
      });
      return emailPage(client, i, 400, email, ORGANIZATION_NOT_FOUND);
    }
    if (limiter) {
      const limit = await limiter.hitTenant(req.sourceIp, tenantId);
      if (limit.waitMs > 0) return emailThrottled(client, i, req, email, limit, tenantId);
    }
    if (tenantId !== i.tenantId) {
      // The entered email decides (a login_hint only pre-routes); the password step signs in here.
      const next: Interaction = { ...i, tenantId, tenantFrom: "email" };
      await x.d.store.putInteraction(next);
      return passwordPage(client, next, email);
    }
    return passwordPage(client, i, email);
  };

  return [
    {
      method: "GET",
      path: PATHS.login,
      access: { kind: "public" },
      handler: async (req) => {
        const i = await interactionOf(x, req, req.query.tx);
        const client = i ? await x.d.clients.findActive(i.clientId) : undefined;
        if (!i || !client) return errorPage(403, EXPIRED_TEXT);
        return emailPage(client, i, 200, i.params.login_hint);
      },
    },
    {
      method: "POST",
      path: PATHS.login,
      access: { kind: "public" },
      handler: async (req) => {
        const form = parseForm(req);
        const i = await interactionOf(x, req, form.get("tx"), form.get("csrf") ?? null);
        const client = i ? await x.d.clients.findActive(i.clientId) : undefined;
        if (!i || !client) return errorPage(403, EXPIRED_TEXT);
        if (form.get("step") === "password") return passwordStepPost(form, client, i, req);
        return emailStepPost(form, client, i, req);
      },
    },
  ];
}
