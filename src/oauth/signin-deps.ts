/**
 * What the interactive half of the authorization server (hosted pages, authorization code,
 * refresh tokens, userinfo, logout) needs, and the helpers its parts share.
 */
import type { HttpRequest, HttpResponse } from "../http/types.ts";
import type { ConsentService } from "../sessions/consents.ts";
import type { EmailStepLimiter } from "../sessions/email-step-limit.ts";
import type { Session } from "../sessions/model.ts";
import type { SignInStore } from "../sessions/ports.ts";
import type { SessionService } from "../sessions/service.ts";
import type { LoginEvent, LoginThrottle } from "../sessions/throttle.ts";
import type { Clock } from "../shared/clock.ts";
import { hashSecret, newSecret } from "../shared/ids.ts";
import type { Logger } from "../shared/logger.ts";
import type { UserService } from "../users/service.ts";
import type { ClientService } from "./clients.ts";
import type { IdTokenService } from "./id-token.ts";
import { PATHS } from "./metadata.ts";
import type { OAuthClient } from "./model.ts";
import { type CookieJar, cookieJar } from "./pages/cookies.ts";
import type { RevocationList } from "./ports.ts";
import type { AccessTokenService } from "./tokens.ts";

/** Dependencies of the interactive flow. */
export interface SignInDeps {
  readonly issuer: string;
  readonly clients: ClientService;
  readonly tokens: AccessTokenService;
  readonly idTokens: IdTokenService;
  readonly revocations: RevocationList;
  readonly users: UserService;
  readonly sessions: SessionService;
  readonly store: SignInStore;
  readonly throttle: LoginThrottle;
  /** Rate limit of the email step and home-realm lookups (every submission counts). @default none */
  readonly emailStepLimiter?: EmailStepLimiter;
  /**
   * Tenants for multi-tenant clients: by email domain (home-realm discovery) and by id (the
   * `organization` parameter). Absent: multi-tenant clients find no organization.
   */
  readonly organizations?: OrganizationDirectory;
  /** Remembered consent per (tenant, user, client). */
  readonly consents: ConsentService;
  readonly clock: Clock;
  readonly log: Logger;
  /**
   * Audit-ready sign-in events (login.*, session.created/revoked, consent.granted/denied).
   * @default logged
   */
  readonly onEvent?: (e: LoginEvent) => void;
  /** @default 60 */
  readonly codeLifetimeSeconds?: number;
  /** Refresh-token family lifetime (s). @default 2592000 (30 days) */
  readonly refreshTokenLifetimeSeconds?: number;
  /** Login transaction lifetime (s). @default 600 */
  readonly interactionLifetimeSeconds?: number;
}

/** Where multi-tenant clients find tenants (src/tenants/domains.ts). */
export interface OrganizationDirectory {
  /** The active tenant that claimed the email's domain, if any. */
  tenantOfEmail(email: string): Promise<string | undefined>;
  /** True for an active tenant. */
  isActive(tenantId: string): Promise<boolean>;
}

/** The authentication context a code or refresh token carries. */
export interface Grant {
  readonly tenantId: string;
  readonly userId: string;
  readonly sessionId: string;
  readonly scope: readonly string[];
  readonly authTime: number;
  readonly amr: readonly string[];
  readonly acr: string;
  readonly nonce?: string;
}

/** Password sign-in (NIST AAL1). */
export const ACR_PASSWORD = "urn:portcullis:acr:pwd";
export const CODE_PREFIX = "pco_";

/** The URL with `params` added to its query (existing query kept, as RFC 6749 §3.1.2 requires). */
export function withQuery(url: string, params: Record<string, string | undefined>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.toString();
}

/** 303 See Other (a POST answered with a GET navigation). */
export function redirect(location: string, cookie?: string): HttpResponse {
  return {
    statusCode: 303,
    headers: {
      location,
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
      ...(cookie ? { "set-cookie": cookie } : {}),
    },
  };
}

/** The origin of a URL, for CSP `form-action`. */
export const originOf = (url: string): string => new URL(url).origin;

/** Helpers bound to one configuration. */
export class SignInContext {
  readonly d: SignInDeps;
  readonly cookies: CookieJar;

  constructor(d: SignInDeps) {
    this.d = d;
    this.cookies = cookieJar(d.issuer);
  }

  url(path: string): string {
    return `${this.d.issuer}${path}`;
  }

  event(e: Omit<LoginEvent, "time">): void {
    const full: LoginEvent = { ...e, time: new Date(this.d.clock.now()).toISOString() };
    if (this.d.onEvent) this.d.onEvent(full);
    else this.d.log.info("audit", { event: full });
  }

  requestInfo(req: HttpRequest) {
    return {
      ip: req.sourceIp,
      ...(req.headers["user-agent"] ? { user_agent: req.headers["user-agent"].slice(0, 256) } : {}),
      request_id: req.requestId,
    };
  }

  /** The session of the request's cookie, if active. */
  session(req: HttpRequest): Promise<Session | undefined> {
    return this.d.sessions.resolve(this.cookies.get(req, this.cookies.session));
  }

  /**
   * Issues an authorization code for a validated request and returns the redirect back to the
   * client (`code`, `state`, `iss` per RFC 9207).
   */
  async codeRedirect(
    client: OAuthClient,
    params: Readonly<Record<string, string>>,
    s: Session,
  ): Promise<string> {
    const code = newSecret(CODE_PREFIX);
    const now = this.d.clock.now();
    await this.d.store.createCode({
      codeHash: hashSecret(code),
      // The session's tenant: the client's own, or the organization a multi-tenant client chose.
      tenantId: s.tenantId,
      clientId: client.clientId,
      redirectUri: params.redirect_uri!,
      codeChallenge: params.code_challenge!,
      scope: (params.scope ?? "").split(" ").filter(Boolean),
      ...(params.nonce ? { nonce: params.nonce } : {}),
      sessionId: s.id,
      userId: s.userId,
      authTime: s.authTime,
      amr: s.amr,
      acr: s.acr,
      expiresAt: now + (this.d.codeLifetimeSeconds ?? 60) * 1000,
    });
    return withQuery(params.redirect_uri!, { code, state: params.state, iss: this.d.issuer });
  }

  /** The error redirect of a validated client + redirect URI (RFC 6749 §4.1.2.1). */
  errorRedirect(params: Readonly<Record<string, string>>, error: string, description: string): HttpResponse {
    return redirect(
      withQuery(params.redirect_uri!, {
        error,
        error_description: description,
        state: params.state,
        iss: this.d.issuer,
      }),
    );
  }

  /**
   * Whether the consent page must be shown: always with `prompt=consent`; for third-party clients
   * when the user's remembered consent does not cover the requested scopes.
   */
  async needsConsent(
    client: OAuthClient,
    params: Readonly<Record<string, string>>,
    user: { readonly tenantId: string; readonly userId: string },
  ): Promise<boolean> {
    if ((params.prompt ?? "").split(" ").includes("consent")) return true;
    if (client.thirdParty !== true) return false;
    const scopes = (params.scope ?? "").split(" ").filter(Boolean);
    // The user's tenant (a multi-tenant client's organization), not necessarily the client's.
    const missing = await this.d.consents.missing(user.tenantId, user.userId, client.clientId, scopes);
    return missing.length > 0;
  }

  /**
   * Signs a user in: ends the browser's previous session (no fixation, no pile-up) and creates a
   * new one; emits `session.revoked` (previous, if any) and `session.created`. The cookie value is
   * returned to the caller only, never put in an event.
   */
  async startSession(
    req: HttpRequest,
    tenantId: string,
    userId: string,
    clientId: string,
    auth: { amr: readonly string[]; acr: string },
  ): Promise<{ session: Session; cookie: string }> {
    const previous = await this.session(req);
    if (previous) await this.endSession(req, previous, "replaced", clientId);
    const request = this.requestInfo(req);
    const created = await this.d.sessions.create(tenantId, userId, {
      amr: auth.amr,
      acr: auth.acr,
      ip: req.sourceIp,
      ...(request.user_agent ? { userAgent: request.user_agent } : {}),
    });
    const s = created.session;
    this.event({
      type: "session.created",
      tenant: s.tenantId,
      subject: s.userId,
      resource: `session:${s.id}`,
      action: "create",
      request,
      detail: {
        client_id: clientId,
        amr: [...s.amr],
        acr: s.acr,
        expires_at: new Date(s.absoluteExpiresAt).toISOString(),
      },
    });
    return created;
  }

  /** Ends a session (sign-out, or replaced by a new sign-in) and emits `session.revoked`. */
  async endSession(
    req: HttpRequest,
    s: Session,
    action: "logout" | "replaced",
    clientId?: string,
  ): Promise<void> {
    await this.d.sessions.end(s);
    this.event({
      type: "session.revoked",
      tenant: s.tenantId,
      subject: s.userId,
      resource: `session:${s.id}`,
      action,
      reason: action === "logout" ? "user signed out" : "replaced by a new sign-in",
      request: this.requestInfo(req),
      detail: clientId ? { client_id: clientId } : {},
    });
  }

  loginUrl(tx: string): string {
    return `${PATHS.login}?tx=${encodeURIComponent(tx)}`;
  }
}
