/**
 * End-user sign-in end to end, with openid-client as the relying party against the local platform
 * over HTTP (memory store and DynamoDB Local): authorization code + PKCE with the login form
 * submitted over HTTP, ID token validation, userinfo, refresh with rotation, reuse detection,
 * RP-initiated logout, remembered consent for third-party clients (and its admin API), and every
 * refusal of issue 6.
 */
import { createHash } from "node:crypto";
import { decodeJwt } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalPlatform } from "../../functions/_shared/platform.ts";
import {
  type AdminCall,
  AFTER_LOGOUT,
  adminOf,
  auditEvents,
  authRequest,
  basicAuth,
  CB,
  createUser,
  emailPage,
  FormBrowser,
  hiddenFields,
  type Json,
  PASSWORD,
  postClient,
  redeemCallback,
  relyingParty,
  SCOPE,
  signIn,
  signInAndRedeem,
  startPlatform,
  userinfoStatus,
} from "./signin-helpers.ts";

const ADMIN = "admin-key-for-signin-e2e";
const LOGIN_FAILED = "The email address or password is incorrect.";

describe.each(["memory", "dynamodb"] as const)("sign-in end to end (store %s)", (store) => {
  let p: LocalPlatform;
  let admin: AdminCall;
  let tenantId: string;
  let skew = 0;

  const newUser = (email: string) => createUser(admin, tenantId, email, "Ada Lovelace");
  const newClient = async (extra: Json = {}) => {
    const r = await postClient(admin, tenantId, {
      client_name: "Console",
      post_logout_redirect_uris: [AFTER_LOGOUT],
      scope: SCOPE,
      ...extra,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body;
  };
  const rp = (c: Json) => relyingParty(p.url, c);
  /** Signs in through the pages and redeems the code. */
  const fullLogin = async (c: Json, email: string, b = new FormBrowser(p.url)) => {
    const config = await rp(c);
    return { config, browser: b, ...(await signInAndRedeem(b, config, email)) };
  };
  const tokenRequest = async (form: Record<string, string>, c?: Json) => {
    const res = await fetch(`${p.url}/oauth/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...(c?.client_secret ? { authorization: basicAuth(c) } : {}),
      },
      body: new URLSearchParams({
        ...(c && !c.client_secret ? { client_id: c.client_id } : {}),
        ...form,
      }).toString(),
    });
    return { status: res.status, body: (await res.json()) as Json };
  };

  beforeAll(async () => {
    p = await startPlatform(store, {
      adminKey: ADMIN,
      tablePrefix: "e2e-signin",
      env: { PORTCULLIS_SESSION_IDLE_TIMEOUT: "600", PORTCULLIS_SESSION_MAX_LIFETIME: "3600" },
      // The real time plus a skew the expiry tests move forward.
      clock: { now: () => Date.now() + skew },
    });
    admin = adminOf(p, ADMIN);
    tenantId = (await admin("POST", "/admin/v1/tenants", { name: "acme" })).body.id;
  });
  afterAll(async () => {
    await p?.close();
  });

  it("discovery advertises the interactive flow", async () => {
    const m = (await rp(await newClient())).serverMetadata();
    expect(m.authorization_endpoint).toBe(`${p.url}/oauth/authorize`);
    expect(m.userinfo_endpoint).toBe(`${p.url}/oauth/userinfo`);
    expect(m.end_session_endpoint).toBe(`${p.url}/oauth/logout`);
    expect(m.code_challenge_methods_supported).toEqual(["S256"]);
    expect(m.response_types_supported).toEqual(["code"]);
    expect(m.grant_types_supported).toEqual(expect.arrayContaining(["authorization_code", "refresh_token"]));
    expect(m.scopes_supported).toEqual(expect.arrayContaining(["openid", "offline_access"]));
  });

  it("users admin API: create, conflicts, list with filters and pages, update, disable, delete, isolation", async () => {
    const base = `/admin/v1/tenants/${tenantId}/users`;
    const a = await newUser("list-a@acme.test");
    expect(a).toMatchObject({
      email: "list-a@acme.test",
      email_verified: false,
      disabled: false,
      has_password: true,
    });
    expect(JSON.stringify(a)).not.toMatch(/scrypt|password_hash/);
    expect((await admin("POST", base, { email: "LIST-A@acme.test", name: "Dup" })).status).toBe(409);
    expect((await admin("POST", base, { email: "x@acme.test", name: "X", password: "short" })).status).toBe(
      400,
    );
    expect((await admin("POST", base, { email: "not-an-email", name: "X" })).status).toBe(400);
    expect((await admin("POST", base, { email: "y@acme.test", name: "Y", role: "admin" })).status).toBe(400);
    const b = await newUser("list-b@acme.test");
    expect((await admin("GET", `${base}?email=LIST-B@ACME.TEST`)).body.users.map((u: Json) => u.id)).toEqual([
      b.id,
    ]);
    const ids: string[] = [];
    let token: string | null = null;
    do {
      const q: string = token ? `&continuation_token=${encodeURIComponent(token)}` : "";
      const page = await admin("GET", `${base}?page_size=1${q}`);
      ids.push(...page.body.users.map((u: Json) => u.id));
      token = page.body.continuation_token;
    } while (token);
    expect(ids).toEqual(expect.arrayContaining([a.id, b.id]));
    const patched = await admin("PATCH", `${base}/${a.id}`, { name: "Renamed", email_verified: true });
    expect(patched.body).toMatchObject({ name: "Renamed", email_verified: true });
    expect((await admin("POST", `${base}/${b.id}/disable`)).body.disabled).toBe(true);
    expect((await admin("GET", `${base}?disabled=true`)).body.users.map((u: Json) => u.id)).toContain(b.id);
    expect((await admin("DELETE", `${base}/${b.id}`)).status).toBe(204);
    expect((await admin("GET", `${base}/${b.id}`)).status).toBe(404);
    // An id that is no user id (too long for a DynamoDB key) is simply not found.
    expect((await admin("DELETE", `${base}/${"x".repeat(2000)}`)).status).toBe(404);
    // Another tenant's key sees nothing of this tenant.
    const other = (await admin("POST", "/admin/v1/tenants", { name: "other" })).body.id;
    const key = (await admin("POST", `/admin/v1/tenants/${other}/api-keys`, {})).body.key;
    const res = await fetch(`${p.url}${base}/${a.id}`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(404);
  });

  it("code + PKCE, ID token, userinfo, refresh rotation, reuse detection, logout", async () => {
    const user = await newUser("ada@acme.test");
    const c = await newClient();
    const { config, tokens, browser, a, callback } = await fullLogin(c, "ADA@acme.test");
    expect(new URL(callback).searchParams.get("iss")).toBe(p.url);
    // The ID token, validated by openid-client (signature, iss, aud, nonce, exp), and its claims.
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(user.id);
    expect(claims.aud).toBe(c.client_id);
    expect(claims.nonce).toBe(a.nonce);
    expect(claims.amr).toEqual(["pwd"]);
    expect(claims.acr).toBe("urn:portcullis:acr:pwd");
    expect(typeof claims.auth_time).toBe("number");
    expect(typeof claims.sid).toBe("string");
    const digest = createHash("sha256").update(tokens.access_token).digest();
    expect(claims.at_hash).toBe(digest.subarray(0, 16).toString("base64url"));
    expect(tokens.refresh_token).toMatch(/^pcr_/);
    expect(tokens.scope).toBe(SCOPE);
    // Userinfo.
    const info = await oidc.fetchUserInfo(config, tokens.access_token, user.id);
    expect(info).toEqual({
      sub: user.id,
      name: "Ada Lovelace",
      email: "ada@acme.test",
      email_verified: false,
    });
    // Refresh rotates; the old token is then reuse, which revokes the family.
    const r1 = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(r1.refresh_token).toMatch(/^pcr_/);
    expect(r1.refresh_token).not.toBe(tokens.refresh_token);
    expect(r1.claims()?.sub).toBe(user.id);
    const reuse = await oidc.refreshTokenGrant(config, tokens.refresh_token!).catch((e: unknown) => e);
    expect((reuse as { error?: string }).error).toBe("invalid_grant");
    const afterReuse = await oidc.refreshTokenGrant(config, r1.refresh_token!).catch((e: unknown) => e);
    expect((afterReuse as { error?: string }).error).toBe("invalid_grant");
    // The session still signs in silently (prompt=none) ...
    const silent = await browser.get((await authRequest(config, { prompt: "none" })).url);
    expect(silent.status).toBe(303);
    expect(new URL(silent.location!).searchParams.get("code")).toBeTruthy();
    // ... until RP-initiated logout: confirmation page, POST, redirect with state.
    const end = oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: AFTER_LOGOUT,
      state: "bye",
    });
    const confirm = await browser.get(end.toString());
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain("Sign out?");
    const out = await browser.post("/oauth/logout", hiddenFields(confirm.body));
    expect(out.status).toBe(303);
    expect(out.location).toBe(`${AFTER_LOGOUT}?state=bye`);
    expect(out.setCookies.some((s) => /pcl_session=;.*Max-Age=0/.test(s))).toBe(true);
    const after = await browser.get((await authRequest(config, { prompt: "none" })).url);
    expect(new URL(after.location!).searchParams.get("error")).toBe("login_required");
  });

  it("a public client gets tokens with PKCE alone; revoking or replacing the session kills its tokens at once", async () => {
    await newUser("grace@acme.test");
    const c = await newClient({ token_endpoint_auth_method: "none" });
    expect(c.client_secret).toBeUndefined();
    const { config, tokens } = await fullLogin(c, "grace@acme.test");
    const sid = tokens.claims()!.sid as string;
    const user = tokens.claims()!.sub;
    const list = await admin("GET", `/admin/v1/tenants/${tenantId}/users/${user}/sessions`);
    expect(list.body.sessions.map((s: Json) => s.id)).toContain(sid);
    expect(await userinfoStatus(p.url, tokens.access_token)).toBe(200);
    // The same user signed in elsewhere too (another browser, another session).
    const elsewhere = await fullLogin(c, "grace@acme.test", new FormBrowser(p.url));
    expect(
      (await admin("DELETE", `/admin/v1/tenants/${tenantId}/users/${user}/sessions/${sid}`)).status,
    ).toBe(204);
    // The access token of the session's refresh family dies with it (not at its expiry) ...
    expect(await userinfoStatus(p.url, tokens.access_token)).toBe(401);
    // ... the other session's tokens live on ...
    expect(await userinfoStatus(p.url, elsewhere.tokens.access_token)).toBe(200);
    await oidc.refreshTokenGrant(elsewhere.config, elsewhere.tokens.refresh_token!);
    // ... and so does the refresh token.
    const r = await oidc.refreshTokenGrant(config, tokens.refresh_token!).catch((e: unknown) => e);
    expect((r as { error?: string }).error).toBe("invalid_grant");
    expect(
      (await admin("GET", `/admin/v1/tenants/${tenantId}/users/${user}/sessions`)).body.sessions.map(
        (s: Json) => s.id,
      ),
    ).toEqual([elsewhere.tokens.claims()!.sid]);
    // Revoking all of the user's sessions ends that one's tokens too.
    expect((await admin("DELETE", `/admin/v1/tenants/${tenantId}/users/${user}/sessions`)).status).toBe(200);
    expect(await userinfoStatus(p.url, elsewhere.tokens.access_token)).toBe(401);
    // Signing in again with prompt=login in the same browser replaces the session.
    const b = new FormBrowser(p.url);
    const first = await fullLogin(c, "grace@acme.test", b);
    expect(await userinfoStatus(p.url, first.tokens.access_token)).toBe(200);
    const second = await signIn(
      b,
      (await authRequest(config, { prompt: "login" })).url,
      "grace@acme.test",
      PASSWORD,
    );
    expect(second.status).toBe(303);
    // The replaced session's tokens end with it.
    expect(await userinfoStatus(p.url, first.tokens.access_token)).toBe(401);
    const live = (await admin("GET", `/admin/v1/tenants/${tenantId}/users/${user}/sessions`)).body
      .sessions as Json[];
    expect(live.length).toBe(1);
    expect(live[0]!.id).not.toBe(first.tokens.claims()!.sid);
  });

  it("refresh tokens only with offline_access", async () => {
    await newUser("ollie@acme.test");
    const c = await newClient();
    const config = await rp(c);
    const a = await authRequest(config, { scope: "openid email" });
    const done = await signIn(new FormBrowser(p.url), a.url, "ollie@acme.test", PASSWORD);
    const t = await redeemCallback(config, done.location, a);
    expect(t.refresh_token).toBeUndefined();
    expect(t.id_token).toBeTruthy();
  });

  it("a third-party client shows a consent page listing the scopes; deny returns access_denied", async () => {
    await newUser("tp@acme.test");
    const c = await newClient({ third_party: true, client_name: "Partner App" });
    const config = await rp(c);
    const b = new FormBrowser(p.url);
    const a = await authRequest(config);
    const afterLogin = await signIn(b, a.url, "tp@acme.test", PASSWORD);
    expect(afterLogin.location).toMatch(/^\/oauth\/consent\?tx=/);
    const consent = await b.get(afterLogin.location!);
    expect(consent.body).toContain("Partner App");
    for (const s of SCOPE.split(" ")) expect(consent.body).toContain(`<code>${s}</code>`);
    const deny = await b.post("/oauth/consent", { ...hiddenFields(consent.body), decision: "deny" });
    const u = new URL(deny.location!);
    expect(u.searchParams.get("error")).toBe("access_denied");
    expect(u.searchParams.get("state")).toBe(a.state);
    // Nothing was remembered: prompt=none cannot show consent.
    const none = await b.get((await authRequest(config, { prompt: "none" })).url);
    expect(new URL(none.location!).searchParams.get("error")).toBe("consent_required");
  });

  it("remembered consent: asked once, again only for new scopes or prompt=consent; admin list and revoke", async () => {
    const user = await newUser("remember@acme.test");
    const c = await newClient({ third_party: true, client_name: "Partner App" });
    const config = await rp(c);
    const b = new FormBrowser(p.url);
    const base = `/admin/v1/tenants/${tenantId}/users/${user.id}/consents`;
    const redeem = async (
      hop: { location?: string | undefined },
      a: { verifier: string; state: string; nonce: string },
    ) => redeemCallback(config, hop.location, a);
    // 1. First request (three scopes): the page lists them all; allow.
    const narrow = "openid email offline_access";
    const a1 = await authRequest(config, { scope: narrow });
    const login = await signIn(b, a1.url, "remember@acme.test", PASSWORD);
    const page1 = await b.get(login.location!);
    for (const s of narrow.split(" ")) expect(page1.body).toContain(`<code>${s}</code>`);
    expect(page1.body).not.toContain("You already allowed");
    const allow1 = await b.post("/oauth/consent", { ...hiddenFields(page1.body), decision: "allow" });
    const t1 = await redeem(allow1, a1);
    expect(t1.refresh_token).toMatch(/^pcr_/);
    // 2. The same scopes (or fewer) again: no page, a code at once; prompt=none works too.
    const repeats: Record<string, string>[] = [
      { scope: narrow },
      { scope: "openid email" },
      { scope: narrow, prompt: "none" },
    ];
    for (const extra of repeats) {
      const again = await b.get((await authRequest(config, extra)).url);
      expect(again.status).toBe(303);
      expect(new URL(again.location!).searchParams.get("code"), JSON.stringify(extra)).toBeTruthy();
    }
    // 3. A new scope: prompt=none cannot ask; otherwise the page asks for the new scope only.
    const noneNew = await b.get((await authRequest(config, { prompt: "none" })).url);
    expect(new URL(noneNew.location!).searchParams.get("error")).toBe("consent_required");
    const a3 = await authRequest(config);
    const ask3 = await b.get(a3.url);
    expect(ask3.location).toMatch(/^\/oauth\/consent\?tx=/);
    const page3 = await b.get(ask3.location!);
    const asked = /<ul>(.*?)<\/ul>/s.exec(page3.body)![1]!;
    expect(asked).toContain("<code>profile</code>");
    expect(asked).not.toContain("<code>email</code>");
    expect(page3.body).toMatch(/You already allowed: .*<code>email<\/code>/);
    await redeem(await b.post("/oauth/consent", { ...hiddenFields(page3.body), decision: "allow" }), a3);
    // 4. prompt=consent always asks (everything requested), even when all is granted.
    const ask4 = await b.get((await authRequest(config, { prompt: "consent" })).url);
    expect(ask4.location).toMatch(/^\/oauth\/consent\?tx=/);
    const page4 = await b.get(ask4.location!);
    for (const s of SCOPE.split(" ")) expect(page4.body).toContain(`<code>${s}</code>`);
    // 5. Admin API: the consent is listed with every scope granted so far.
    const listed = await admin("GET", base);
    expect(listed.status).toBe(200);
    expect(listed.body.consents).toEqual([
      {
        client_id: c.client_id,
        scopes: ["email", "offline_access", "openid", "profile"],
        created_at: expect.any(String),
        updated_at: expect.any(String),
      },
    ]);
    const userinfo = (token: string) => userinfoStatus(p.url, token);
    expect(await userinfo(t1.access_token)).toBe(200);
    // Revoking it ends the client's refresh tokens for the user, and the page is back.
    expect((await admin("DELETE", `${base}/${c.client_id}`)).status).toBe(204);
    // ... and the access tokens issued from those refresh families (`fid`).
    expect(await userinfo(t1.access_token)).toBe(401);
    const dead = await tokenRequest({ grant_type: "refresh_token", refresh_token: t1.refresh_token! }, c);
    expect(dead.body.error).toBe("invalid_grant");
    expect((await admin("GET", base)).body.consents).toEqual([]);
    expect((await admin("DELETE", `${base}/${c.client_id}`)).status).toBe(404);
    const ask6 = await b.get((await authRequest(config, { scope: narrow })).url);
    expect(ask6.location).toMatch(/^\/oauth\/consent\?tx=/);
    // Another tenant's credential sees none of it.
    const other = (await admin("POST", "/admin/v1/tenants", { name: "other-consents" })).body.id;
    const key = (await admin("POST", `/admin/v1/tenants/${other}/api-keys`, {})).body.key;
    const res = await fetch(`${p.url}${base}`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(404);
  });

  it("deleting a user removes their consents", async () => {
    const user = await newUser("leaver@acme.test");
    const c = await newClient({ third_party: true });
    const config = await rp(c);
    const b = new FormBrowser(p.url);
    const login = await signIn(b, (await authRequest(config)).url, "leaver@acme.test", PASSWORD);
    const page = await b.get(login.location!);
    await b.post("/oauth/consent", { ...hiddenFields(page.body), decision: "allow" });
    expect((await p.container.consents.list(tenantId, user.id)).length).toBe(1);
    expect((await admin("DELETE", `/admin/v1/tenants/${tenantId}/users/${user.id}`)).status).toBe(204);
    expect(await p.container.consents.list(tenantId, user.id)).toEqual([]);
  });

  it("deleting a client removes its consents and ends its refresh tokens", async () => {
    const user = await newUser("consenter@acme.test");
    const c = await newClient({ third_party: true });
    const config = await rp(c);
    const b = new FormBrowser(p.url);
    const a = await authRequest(config);
    const login = await signIn(b, a.url, "consenter@acme.test", PASSWORD);
    const page = await b.get(login.location!);
    const back = await b.post("/oauth/consent", { ...hiddenFields(page.body), decision: "allow" });
    const tokens = await redeemCallback(config, back.location, a);
    expect(tokens.refresh_token).toMatch(/^pcr_/);
    expect((await p.container.consents.list(tenantId, user.id)).map((x) => x.clientId)).toEqual([
      c.client_id,
    ]);
    expect(await userinfoStatus(p.url, tokens.access_token)).toBe(200);
    expect((await admin("DELETE", `/admin/v1/tenants/${tenantId}/clients/${c.client_id}`)).status).toBe(204);
    expect(await p.container.consents.list(tenantId, user.id)).toEqual([]);
    // The families of the client's users are revoked: their access tokens die now.
    expect(await userinfoStatus(p.url, tokens.access_token)).toBe(401);
  });

  describe("refusals", () => {
    let c: Json;
    let config: oidc.Configuration;
    beforeAll(async () => {
      await newUser("neg@acme.test");
      c = await newClient();
      config = await rp(c);
    });

    it("the pages are locked down: CSP, no framing, HttpOnly SameSite cookies", async () => {
      const b = new FormBrowser(p.url);
      const start = await b.get((await authRequest(config)).url);
      expect(start.setCookies[0]).toMatch(/^pcl_tx=[\w-]+; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax$/);
      const page = await b.get(start.location!);
      const csp = page.headers.get("content-security-policy")!;
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toMatch(/form-action 'self' http:\/\/127\.0\.0\.1:1(;|$)/);
      expect(page.headers.get("x-frame-options")).toBe("DENY");
      expect(page.headers.get("cache-control")).toBe("no-store");
      expect(page.body).toContain('<label for="email">');
    });

    it("wrong or unregistered redirect URIs get an error page, never a redirect", async () => {
      const b = new FormBrowser(p.url);
      for (const redirect_uri of [
        "https://evil.example/cb",
        `${CB}/x`,
        `${CB}?next=https://evil.example`,
        "http://127.0.0.1:1/Callback",
      ]) {
        const r = await b.get((await authRequest(config, { redirect_uri })).url);
        expect(r.status).toBe(400);
        expect(r.location).toBeUndefined();
        expect(r.body).not.toContain("evil.example");
      }
      const unknown = await b.get(
        `/oauth/authorize?client_id=pcc_01JAAAAAAAAAAAAAAAAAAAAAAA&redirect_uri=${encodeURIComponent("https://evil.example/")}&response_type=code`,
      );
      expect(unknown.status).toBe(400);
      expect(unknown.location).toBeUndefined();
    });

    it("PKCE is required and must be S256", async () => {
      const b = new FormBrowser(p.url);
      const base = {
        client_id: c.client_id,
        redirect_uri: CB,
        response_type: "code",
        scope: "openid",
        state: "s1",
      };
      const missing = await b.get(`/oauth/authorize?${new URLSearchParams(base)}`);
      const plain = await b.get(
        `/oauth/authorize?${new URLSearchParams({ ...base, code_challenge: "x".repeat(43), code_challenge_method: "plain" })}`,
      );
      const noMethod = await b.get(
        `/oauth/authorize?${new URLSearchParams({ ...base, code_challenge: "x".repeat(43) })}`,
      );
      for (const r of [missing, plain, noMethod]) {
        expect(r.status).toBe(303);
        const u = new URL(r.location!);
        expect(u.origin + u.pathname).toBe(CB);
        expect(u.searchParams.get("error")).toBe("invalid_request");
        expect(u.searchParams.get("state")).toBe("s1");
      }
      const token = await b.get(
        `/oauth/authorize?${new URLSearchParams({ ...base, response_type: "token", code_challenge: "x".repeat(43), code_challenge_method: "S256" })}`,
      );
      expect(new URL(token.location!).searchParams.get("error")).toBe("unsupported_response_type");
      const scope = await b.get(
        `/oauth/authorize?${new URLSearchParams({ ...base, scope: "openid tenant:admin", code_challenge: "x".repeat(43), code_challenge_method: "S256" })}`,
      );
      expect(new URL(scope.location!).searchParams.get("error")).toBe("invalid_scope");
    });

    it("a wrong code_verifier, another redirect_uri or another client get invalid_grant", async () => {
      const b = new FormBrowser(p.url);
      const a = await authRequest(config);
      const done = await signIn(b, a.url, "neg@acme.test", PASSWORD);
      const code = new URL(done.location!).searchParams.get("code")!;
      const wrong = await tokenRequest(
        {
          grant_type: "authorization_code",
          code,
          redirect_uri: CB,
          code_verifier: oidc.randomPKCECodeVerifier(),
        },
        c,
      );
      expect(wrong.status).toBe(400);
      expect(wrong.body.error).toBe("invalid_grant");
      // The code was spent by that attempt (single use), so even the right verifier fails now.
      const right = await tokenRequest(
        { grant_type: "authorization_code", code, redirect_uri: CB, code_verifier: a.verifier },
        c,
      );
      expect(right.body.error).toBe("invalid_grant");
      const noVerifier = await tokenRequest({ grant_type: "authorization_code", code, redirect_uri: CB }, c);
      expect(noVerifier.body.error).toBe("invalid_request");
    });

    it("a replayed code gets invalid_grant and revokes what the first redemption issued", async () => {
      const b = new FormBrowser(p.url);
      const a = await authRequest(config);
      const done = await signIn(b, a.url, "neg@acme.test", PASSWORD);
      const code = new URL(done.location!).searchParams.get("code")!;
      const form = { grant_type: "authorization_code", code, redirect_uri: CB, code_verifier: a.verifier };
      const first = await tokenRequest(form, c);
      expect(first.status).toBe(200);
      expect(await userinfoStatus(p.url, first.body.access_token)).toBe(200);
      const replay = await tokenRequest(form, c);
      expect(replay.status).toBe(400);
      expect(replay.body.error).toBe("invalid_grant");
      expect(await userinfoStatus(p.url, first.body.access_token)).toBe(401);
      const refresh = await tokenRequest(
        { grant_type: "refresh_token", refresh_token: first.body.refresh_token },
        c,
      );
      expect(refresh.body.error).toBe("invalid_grant");
    });

    it("CSRF: a POST without the token or without the transaction cookie is refused", async () => {
      const b = new FormBrowser(p.url);
      const fields = hiddenFields((await emailPage(b, (await authRequest(config)).url)).body);
      const { csrf: _, ...noCsrf } = fields;
      const r1 = await b.post("/oauth/login", {
        ...noCsrf,
        step: "password",
        email: "neg@acme.test",
        password: PASSWORD,
      });
      expect(r1.status).toBe(403);
      expect(r1.setCookies).toEqual([]);
      const r2 = await b.post("/oauth/login", {
        ...fields,
        csrf: "x".repeat(32),
        step: "password",
        email: "neg@acme.test",
        password: PASSWORD,
      });
      expect(r2.status).toBe(403);
      const other = new FormBrowser(p.url); // an attacker's page: right fields, no cookie
      const r3 = await other.post("/oauth/login", {
        ...fields,
        step: "password",
        email: "neg@acme.test",
        password: PASSWORD,
      });
      expect(r3.status).toBe(403);
      expect(r3.setCookies).toEqual([]);
      // Logout without its CSRF token does not end anything.
      const r4 = await b.post("/oauth/logout", {});
      expect(r4.status).toBe(403);
    });

    it("failed logins look the same whether or not the account exists, and are throttled with backoff", async () => {
      const b = new FormBrowser(p.url);
      const attempt = async (email: string, password: string) => {
        const page = await emailPage(b, (await authRequest(config)).url);
        const pw = await b.post("/oauth/login", { ...hiddenFields(page.body), email });
        return b.post("/oauth/login", { ...hiddenFields(pw.body), password });
      };
      const known = await attempt("neg@acme.test", "wrong password!");
      const unknown = await attempt("nobody@acme.test", "wrong password!");
      expect(known.status).toBe(401);
      expect(unknown.status).toBe(401);
      const message = (h: string) =>
        /<p class="error" role="alert" id="form-error">([^<]*)<\/p>/.exec(h)?.[1];
      expect(message(known.body)).toBe(LOGIN_FAILED);
      expect(message(unknown.body)).toBe(LOGIN_FAILED);
      // Per account: five free failures, then a lock that grows; the same for a non-existent account.
      for (const email of ["victim@acme.test", "ghost@acme.test"]) {
        if (email === "victim@acme.test") await newUser(email);
        for (let i = 0; i < 5; i++) expect((await attempt(email, `nope-${i}-password`)).status).toBe(401);
        const locked = await attempt(email, PASSWORD);
        expect(locked.status).toBe(429);
        expect(Number(locked.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      }
      // The failures and locks are audit events of the tenant; none names the email tried.
      const events = (type: string) => auditEvents(admin, tenantId, type);
      await expect.poll(async () => (await events("login.throttled")).length).toBeGreaterThanOrEqual(2);
      const failed = await events("login.failed");
      expect(failed.length).toBeGreaterThanOrEqual(12);
      expect(failed[0]).toMatchObject({
        actor: "anonymous",
        action: "login",
        decision: "deny",
        reason: "invalid_credentials",
      });
      expect(JSON.stringify(failed)).not.toMatch(/acme\.test/);
    });

    it("a disabled user cannot sign in, refresh, or call userinfo; the message stays generic", async () => {
      const user = await newUser("dis@acme.test");
      const { config: cfg, tokens, browser } = await fullLogin(c, "dis@acme.test");
      expect(
        (await admin("POST", `/admin/v1/tenants/${tenantId}/users/${user.id}/disable`)).body.disabled,
      ).toBe(true);
      const r = await oidc.refreshTokenGrant(cfg, tokens.refresh_token!).catch((e: unknown) => e);
      expect((r as { error?: string }).error).toBe("invalid_grant");
      expect(await userinfoStatus(p.url, tokens.access_token)).toBe(401);
      const silent = await browser.get((await authRequest(cfg, { prompt: "none" })).url);
      expect(new URL(silent.location!).searchParams.get("error")).toBe("login_required");
      const again = await signIn(
        new FormBrowser(p.url),
        (await authRequest(cfg)).url,
        "dis@acme.test",
        PASSWORD,
      );
      expect(again.status).toBe(401);
      expect(again.body).toContain(LOGIN_FAILED);
    });

    it("logout refuses unregistered post_logout_redirect_uris and forged hints", async () => {
      const { tokens, browser } = await fullLogin(c, "neg@acme.test");
      const evil = await browser.get(
        `/oauth/logout?${new URLSearchParams({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: "https://evil.example/" })}`,
      );
      expect(evil.status).toBe(400);
      expect(evil.location).toBeUndefined();
      const [h, , s] = tokens.id_token!.split(".");
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(tokens.id_token!), aud: "pcc_x" })).toString("base64url")}.${s}`;
      const bad = await browser.get(
        `/oauth/logout?${new URLSearchParams({ id_token_hint: forged, post_logout_redirect_uri: AFTER_LOGOUT })}`,
      );
      expect(bad.status).toBe(400);
      const noClient = await browser.get(
        `/oauth/logout?${new URLSearchParams({ post_logout_redirect_uri: AFTER_LOGOUT })}`,
      );
      expect(noClient.status).toBe(400);
    });

    it("expired sessions: idle timeout forces a new login; the absolute timeout also ends refresh", async () => {
      const { config: cfg, tokens, browser } = await fullLogin(c, "neg@acme.test");
      skew = 601_000; // past the 600 s idle timeout, within the 3600 s absolute one
      try {
        const silent = await browser.get((await authRequest(cfg, { prompt: "none" })).url);
        expect(new URL(silent.location!).searchParams.get("error")).toBe("login_required");
        const ok = await tokenRequest(
          { grant_type: "refresh_token", refresh_token: tokens.refresh_token! },
          c,
        );
        expect(ok.status).toBe(200);
        skew = 3_601_000;
        const dead = await tokenRequest(
          { grant_type: "refresh_token", refresh_token: ok.body.refresh_token },
          c,
        );
        expect(dead.body.error).toBe("invalid_grant");
      } finally {
        skew = 0;
      }
    });
  });
});
