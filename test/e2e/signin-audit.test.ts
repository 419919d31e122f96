/**
 * Sign-in audit events end to end (issue 7) on the local platform, memory store and DynamoDB Local:
 * a scripted sign-in scenario (successful login, wrong password, unknown accounts, throttling,
 * RP-initiated logout, consent granted / remembered / denied / revoked, a new sign-in replacing a
 * session, disabling the user) in which every request of a step carries the step's name as its
 * user agent. Each decision must emit exactly one event of the right type (counted per step), with
 * the right tenant, actor, subject, resource, request id, decision and reason; failures never name
 * the account tried; no event contains a password, session cookie, code or token.
 */
import { randomBytes } from "node:crypto";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalPlatform } from "../../functions/_shared/platform.ts";
import type { AuditEvent } from "../../src/audit/events.ts";
import { findSecrets } from "../../src/audit/redact.ts";
import { deleteTables } from "../../src/shared/dynamodb.ts";
import { tableNames } from "../../src/shared/tables.ts";
import {
  AFTER_LOGOUT,
  basicAuth,
  CB,
  FormBrowser,
  hiddenFields,
  type Json,
  PASSWORD,
  pkceAuthorizeUrl,
  signIn,
  startPlatform,
} from "./signin-helpers.ts";

const ADMIN = "admin-key-for-signin-audit-e2e";
const WRONG = "wrong horse battery staple";
const SCOPE = "openid email offline_access";

describe.each(["memory", "dynamodb"] as const)("sign-in audit events (store %s)", (store) => {
  let p: LocalPlatform;
  let tenantId: string;
  let alice: Json;
  let first: Json;
  let partner: Json;
  /** Every secret of the scenario: none may appear in any event. */
  const secrets: string[] = [ADMIN, PASSWORD, WRONG];
  /** Facts gathered by the scenario for the assertions. */
  const facts = { sid1: "", sid2: "", sid3: "" };

  const call = async (
    ua: string,
    method: string,
    path: string,
    opts: { body?: unknown; form?: Record<string, string>; basic?: Json } = {},
  ) => {
    const headers: Record<string, string> = { "user-agent": ua };
    if (opts.basic) headers.authorization = basicAuth(opts.basic);
    else headers.authorization = `Bearer ${ADMIN}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.body);
    } else if (opts.form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(opts.form).toString();
    }
    const res = await fetch(`${p.url}${path}`, { method, headers, ...(body ? { body } : {}) });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Json };
  };
  const authUrl = (c: Json, extra: Record<string, string> = {}) =>
    pkceAuthorizeUrl(c.client_id, SCOPE, { nonce: randomBytes(8).toString("hex"), ...extra });
  const browser = (ua: string) => {
    const b = new FormBrowser(p.url);
    b.userAgent = ua;
    return b;
  };
  const keepCookies = (b: FormBrowser) => {
    for (const v of b.jar.values()) secrets.push(v, v.split(".")[1] ?? v);
  };
  const codeOf = (location: string | undefined) => {
    const code = new URL(location!).searchParams.get("code");
    expect(code).toBeTruthy();
    secrets.push(code!);
    return code!;
  };
  /** A sign-in attempt with a password, in a fresh browser. */
  const attempt = async (ua: string, email: string, password: string) =>
    signIn(browser(ua), authUrl(first).url, email, password);

  beforeAll(async () => {
    p = await startPlatform(store, { adminKey: ADMIN, tablePrefix: "e2e-signin-audit" });

    // Setup: a tenant, a user, a first-party and a third-party client.
    tenantId = (await call("setup", "POST", "/admin/v1/tenants", { body: { name: "acme" } })).body.id;
    alice = (
      await call("setup", "POST", `/admin/v1/tenants/${tenantId}/users`, {
        body: { email: "alice@acme.test", name: "Alice", password: PASSWORD },
      })
    ).body;
    const client = async (extra: Json) => {
      const r = await call("setup", "POST", `/admin/v1/tenants/${tenantId}/clients`, {
        body: {
          client_name: "App",
          grant_types: ["authorization_code", "refresh_token"],
          redirect_uris: [CB],
          post_logout_redirect_uris: [AFTER_LOGOUT],
          scope: SCOPE,
          ...extra,
        },
      });
      expect(r.status).toBe(201);
      secrets.push(r.body.client_secret);
      return r.body;
    };
    first = await client({});
    partner = await client({ third_party: true, client_name: "Partner" });

    // login-ok: a successful sign-in (session.created + login.succeeded), then the code redeemed.
    const b1 = browser("login-ok");
    const a1 = authUrl(first);
    const ok = await signIn(b1, a1.url, "alice@acme.test", PASSWORD);
    expect(ok.status, ok.body).toBe(303);
    keepCookies(b1);
    const t = await call("redeem", "POST", "/oauth/token", {
      basic: first,
      form: {
        grant_type: "authorization_code",
        code: codeOf(ok.location),
        redirect_uri: CB,
        code_verifier: a1.verifier,
      },
    });
    expect(t.status).toBe(200);
    secrets.push(t.body.access_token, t.body.refresh_token, t.body.id_token);
    facts.sid1 = String(decodeJwt(t.body.id_token).sid);

    // wrong-password: a known account, wrong password.
    expect((await attempt("wrong-password", "alice@acme.test", WRONG)).status).toBe(401);
    // unknown-N: an account that does not exist, five times; then it is throttled.
    for (let i = 1; i <= 5; i++)
      expect((await attempt(`unknown-${i}`, "ghost@acme.test", `${WRONG}-${i}`)).status).toBe(401);
    for (let i = 1; i <= 5; i++) secrets.push(`${WRONG}-${i}`);
    expect((await attempt("throttled", "ghost@acme.test", PASSWORD)).status).toBe(429);

    // logout: RP-initiated logout of b1's session.
    b1.userAgent = "logout";
    const confirm = await b1.get(
      `/oauth/logout?${new URLSearchParams({ id_token_hint: t.body.id_token, post_logout_redirect_uri: AFTER_LOGOUT, state: "s" })}`,
    );
    expect(confirm.status).toBe(200);
    const out = await b1.post("/oauth/logout", hiddenFields(confirm.body));
    expect(out.location).toBe(`${AFTER_LOGOUT}?state=s`);

    // consent-login + consent-allow: the third-party client asks; allowed.
    const b2 = browser("consent-login");
    const a2 = authUrl(partner);
    const toConsent = await signIn(b2, a2.url, "alice@acme.test", PASSWORD);
    expect(toConsent.location).toMatch(/^\/oauth\/consent\?tx=/);
    keepCookies(b2);
    facts.sid2 = b2.jar.get("pcl_session")!.split(".")[0]!;
    b2.userAgent = "consent-allow";
    const page = await b2.get(toConsent.location!);
    codeOf((await b2.post("/oauth/consent", { ...hiddenFields(page.body), decision: "allow" })).location);
    // consent-remembered: same scopes again, no page and no event.
    b2.userAgent = "consent-remembered";
    codeOf((await b2.get(authUrl(partner).url)).location);
    // consent-deny: prompt=consent asks again; denied.
    b2.userAgent = "consent-deny";
    const ask = await b2.get(authUrl(partner, { prompt: "consent" }).url);
    const page2 = await b2.get(ask.location!);
    const denied = await b2.post("/oauth/consent", { ...hiddenFields(page2.body), decision: "deny" });
    expect(new URL(denied.location!).searchParams.get("error")).toBe("access_denied");
    // relogin: prompt=login in the same browser replaces the session.
    b2.userAgent = "relogin";
    const again = await signIn(b2, authUrl(first, { prompt: "login" }).url, "alice@acme.test", PASSWORD);
    expect(again.status).toBe(303);
    keepCookies(b2);
    facts.sid3 = b2.jar.get("pcl_session")!.split(".")[0]!;
    codeOf(again.location);
    // consent-revoke: the admin revokes the partner's consent.
    const base = `/admin/v1/tenants/${tenantId}/users/${alice.id}`;
    expect((await call("consent-revoke", "DELETE", `${base}/consents/${partner.client_id}`)).status).toBe(
      204,
    );
    // disable: the admin disables the user, which ends her sessions.
    expect((await call("disable", "POST", `${base}/disable`)).status).toBe(200);
    // Disabling an already disabled user (either route) revokes nothing: no session.revoked.
    expect((await call("disable-again", "POST", `${base}/disable`)).status).toBe(200);
    expect((await call("patch-disabled", "PATCH", base, { body: { disabled: true } })).status).toBe(200);
    expect(secrets.every((s) => typeof s === "string" && s.length >= 8)).toBe(true);
  }, 120_000);

  afterAll(async () => {
    const client = p?.container.dynamodb;
    if (client) await deleteTables(client, tableNames(p.container.config.tablePrefix)).catch(() => undefined);
    await p?.close();
  });

  const events = async (): Promise<AuditEvent[]> => {
    const r = await call("query", "GET", `/audit/v1/events?tenant=${tenantId}&page_size=1000`);
    expect(r.status).toBe(200);
    expect(r.body.continuation_token).toBeNull();
    return r.body.events as AuditEvent[];
  };
  /** `type/decision` → count, per step (user agent). */
  const byStep = (evs: AuditEvent[]) => {
    const m: Record<string, Record<string, number>> = {};
    for (const e of evs) {
      const step = e.request?.user_agent ?? "?";
      m[step] ??= {};
      const k = `${e.type}/${e.decision}`;
      m[step][k] = (m[step][k] ?? 0) + 1;
    }
    return m;
  };

  it("each decision emits exactly one event of the right type", async () => {
    const expected: Record<string, Record<string, number>> = {
      setup: { "tenant.created/success": 1, "user.created/success": 1, "client.created/success": 2 },
      "login-ok": { "session.created/success": 1, "login.succeeded/allow": 1 },
      redeem: { "token.issued/allow": 1 },
      "wrong-password": { "login.failed/deny": 1 },
      "unknown-1": { "login.failed/deny": 1 },
      "unknown-2": { "login.failed/deny": 1 },
      "unknown-3": { "login.failed/deny": 1 },
      "unknown-4": { "login.failed/deny": 1 },
      "unknown-5": { "login.failed/deny": 1 },
      throttled: { "login.throttled/deny": 1 },
      logout: { "session.revoked/success": 1 },
      "consent-login": { "session.created/success": 1, "login.succeeded/allow": 1 },
      "consent-allow": { "consent.granted/allow": 1 },
      "consent-deny": { "consent.denied/deny": 1 },
      relogin: {
        "session.revoked/success": 1,
        "session.created/success": 1,
        "login.succeeded/allow": 1,
      },
      "consent-revoke": { "consent.revoked/success": 1 },
      disable: { "user.updated/success": 1, "session.revoked/success": 1 },
      "disable-again": { "user.updated/success": 1 },
      "patch-disabled": { "user.updated/success": 1 },
    };
    await expect.poll(async () => byStep(await events()), { timeout: 10_000 }).toEqual(expected);
  });

  it("events carry tenant, actor, subject, resource, request id, decision and reason", async () => {
    const all = await events();
    const one = (step: string, type: string) => {
      const found = all.filter((e) => e.request?.user_agent === step && e.type === type);
      expect(found, `${step} ${type}`).toHaveLength(1);
      return found[0]!;
    };
    for (const e of all) {
      expect(e.tenant).toBe(tenantId);
      expect(e.request?.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(e.request?.ip).toBe("127.0.0.1");
    }
    const user = `user:${alice.id}`;
    const created = one("login-ok", "session.created");
    expect(created).toMatchObject({
      actor: user,
      subject: alice.id,
      resource: `session:${facts.sid1}`,
      action: "create",
      decision: "success",
      detail: { client_id: first.client_id, amr: "pwd", acr: "urn:portcullis:acr:pwd" },
    });
    const succeeded = one("login-ok", "login.succeeded");
    expect(succeeded).toMatchObject({
      actor: user,
      subject: alice.id,
      resource: `client:${first.client_id}`,
      action: "login",
      decision: "allow",
      detail: { client_id: first.client_id, session_id: facts.sid1 },
    });
    // The session and the login are one decision: same request; every other step its own request.
    expect(created.request?.id).toBe(succeeded.request?.id);
    const stepsOf = new Map<string, Set<string>>();
    for (const e of all) {
      const id = e.request?.id ?? "";
      if (!stepsOf.has(id)) stepsOf.set(id, new Set());
      stepsOf.get(id)!.add(e.request?.user_agent ?? "?");
    }
    for (const steps of stepsOf.values()) expect(steps.size).toBe(1);
    expect(one("redeem", "token.issued")).toMatchObject({
      actor: `client:${first.client_id}`,
      subject: alice.id,
      detail: { grant_type: "authorization_code" },
    });
    // Failures: anonymous, no subject, the reason, and never the email tried.
    for (const step of ["wrong-password", "unknown-1", "unknown-5"]) {
      const f = one(step, "login.failed");
      expect(f).toMatchObject({
        actor: "anonymous",
        resource: `client:${first.client_id}`,
        action: "login",
        decision: "deny",
        reason: "invalid_credentials",
      });
      expect(f.subject).toBeUndefined();
    }
    const throttled = one("throttled", "login.throttled");
    expect(throttled).toMatchObject({ actor: "anonymous", decision: "deny", reason: "backoff" });
    expect(throttled.detail?.retry_after_ms).toBeGreaterThan(0);
    for (const e of all.filter((x) => x.type === "login.failed" || x.type === "login.throttled")) {
      const text = JSON.stringify(e);
      expect(text).not.toMatch(/ghost|alice|@/);
    }
    expect(one("logout", "session.revoked")).toMatchObject({
      actor: user,
      subject: alice.id,
      resource: `session:${facts.sid1}`,
      action: "logout",
      decision: "success",
      detail: { client_id: first.client_id },
    });
    expect(one("consent-login", "session.created").resource).toBe(`session:${facts.sid2}`);
    expect(one("consent-allow", "consent.granted")).toMatchObject({
      actor: user,
      subject: alice.id,
      resource: `client:${partner.client_id}`,
      action: "grant",
      decision: "allow",
      detail: { client_id: partner.client_id, scope: SCOPE },
    });
    expect(one("consent-deny", "consent.denied")).toMatchObject({
      actor: user,
      subject: alice.id,
      resource: `client:${partner.client_id}`,
      decision: "deny",
      reason: "access_denied",
    });
    expect(one("relogin", "session.revoked")).toMatchObject({
      resource: `session:${facts.sid2}`,
      action: "replaced",
    });
    expect(one("relogin", "session.created").resource).toBe(`session:${facts.sid3}`);
    expect(one("consent-revoke", "consent.revoked")).toMatchObject({
      actor: "platform:admin-key",
      subject: alice.id,
      resource: `client:${partner.client_id}`,
      action: "revoke",
      decision: "success",
    });
    expect(one("disable", "session.revoked")).toMatchObject({
      actor: "platform:admin-key",
      subject: alice.id,
      resource: `user:${alice.id}`,
      action: "revoke_all",
      reason: "user disabled",
    });
    // The disable really ended the sessions it reports.
    expect(await p.container.sessions.list(tenantId, alice.id)).toEqual([]);
  });

  it("no event contains a password, session cookie, code or token", async () => {
    const all = await events();
    expect(all.length).toBeGreaterThan(20);
    for (const e of all) {
      expect(findSecrets(e), JSON.stringify(e)).toEqual([]);
      const text = JSON.stringify(e);
      for (const s of secrets) expect(text).not.toContain(s);
      expect(text).not.toMatch(/pc[oar]_[\w-]{16,}|eyJ[\w-]+\./);
    }
  });
});
