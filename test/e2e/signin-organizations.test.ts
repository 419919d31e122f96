/**
 * Organizations end to end (memory store and DynamoDB Local), openid-client as the relying party of
 * a multi-tenant application: tenants claim email domains (platform admin API), and a multi-tenant
 * client's sign-in goes to the tenant named by `organization`, by the `login_hint`'s domain or by the
 * entered email's domain; unknown domains get one generic message; single-tenant clients never move;
 * sessions stay in their tenant; tokens carry the chosen tenant; the email step is rate limited.
 */
import { decodeJwt } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalPlatform } from "../../functions/_shared/platform.ts";
import {
  type AdminCall,
  adminOf,
  auditEvents,
  authRequest,
  CB,
  createUser,
  emailPage,
  FormBrowser,
  type Hop,
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
} from "./signin-helpers.ts";

const ADMIN = "admin-key-for-organizations-e2e";
const ORG_NOT_FOUND =
  "We couldn&#39;t find your organization. Check the email address, or ask your administrator for your organization&#39;s sign-in link.";
const LOGIN_FAILED = "The email address or password is incorrect.";

/** The multi-tenant client of the email step rate limit tests. */
const WORKSPACE = { client_name: "Workspace", scope: SCOPE, organization_usage: "require" };

const alertOf = (h: string) => /<p class="error" role="alert" id="form-error">([^<]*)<\/p>/.exec(h)?.[1];

const platform = (store: "memory" | "dynamodb", env: NodeJS.ProcessEnv = {}) =>
  startPlatform(store, { adminKey: ADMIN, tablePrefix: "e2e-orgs", env });

/**
 * Registers a client (`client`: its registration) in a tenant of the platform `q` and opens, in a
 * fresh browser, the email page of an authorization request of it (`extra`: request parameters).
 */
async function emailFormOf(
  q: LocalPlatform,
  tenantId: string,
  client: Json,
  extra: Record<string, string> = {},
) {
  const c = (await postClient(adminOf(q, ADMIN), tenantId, client)).body;
  const config = await relyingParty(q.url, c);
  const b = new FormBrowser(q.url);
  const fields = hiddenFields((await emailPage(b, (await authRequest(config, extra)).url)).body);
  return { c, config, b, fields };
}

describe.each(["memory", "dynamodb"] as const)("organizations end to end (store %s)", (store) => {
  let p: LocalPlatform;
  let admin: AdminCall;
  let home: string; // the SaaS vendor's tenant: holds the multi-tenant client
  let acme: string;
  let globex: string;
  let multi: Json; // the multi-tenant client
  let acmeApp: Json; // a single-tenant client of acme
  let globexApp: Json; // a single-tenant client of globex
  const users: Record<string, string> = {};

  const newTenant = async (name: string) =>
    (await admin("POST", "/admin/v1/tenants", { name })).body.id as string;
  const newUser = async (tenantId: string, email: string) =>
    (await createUser(admin, tenantId, email, email.split("@")[0]!)).id as string;
  const newClient = async (tenantId: string, extra: Json = {}, bearer = ADMIN) =>
    postClient(admin, tenantId, { client_name: "Workspace", scope: SCOPE, ...extra }, bearer);
  const rp = (c: Json) => relyingParty(p.url, c);
  /** Signs in through the pages and redeems the code with openid-client. */
  const login = async (
    c: Json,
    email: string,
    extra: Record<string, string> = {},
    b = new FormBrowser(p.url),
  ) => {
    const config = await rp(c);
    const { tokens } = await signInAndRedeem(b, config, email, extra);
    return { config, tokens, browser: b };
  };
  /** Starts a request and submits the email step; returns the answer to the email. */
  const emailStep = async (
    c: Json,
    email: string,
    extra: Record<string, string> = {},
    b = new FormBrowser(p.url),
  ) => {
    const start = await b.get((await authRequest(await rp(c), extra)).url);
    expect(start.status, start.body).toBe(303);
    const page = await b.get(start.location!);
    expect(page.status).toBe(200);
    return { page, answer: await b.post("/oauth/login", { ...hiddenFields(page.body), email }), browser: b };
  };
  const events = (tenantId: string, type: string) => auditEvents(admin, tenantId, type);

  beforeAll(async () => {
    p = await platform(store);
    admin = adminOf(p, ADMIN);
    home = await newTenant("saas vendor");
    acme = await newTenant("acme");
    globex = await newTenant("globex");
    expect((await admin("PUT", `/admin/v1/tenants/${acme}/domains`, { domains: ["acme.test"] })).status).toBe(
      200,
    );
    expect(
      (await admin("PUT", `/admin/v1/tenants/${globex}/domains`, { domains: ["globex.test"] })).status,
    ).toBe(200);
    users.ada = await newUser(acme, "ada@acme.test");
    users.hank = await newUser(globex, "hank@globex.test");
    // A contractor with an unclaimed domain in both tenants (reached with `organization` only).
    users.samAcme = await newUser(acme, "sam@freelance.test");
    users.samGlobex = await newUser(globex, "sam@freelance.test");
    const m = await newClient(home, { organization_usage: "require", client_name: "Workspace SaaS" });
    expect(m.status, JSON.stringify(m.body)).toBe(201);
    expect(m.body.organization_usage).toBe("require");
    multi = m.body;
    acmeApp = (await newClient(acme, { client_name: "Acme intranet" })).body;
    globexApp = (await newClient(globex, { client_name: "Globex intranet" })).body;
  });
  afterAll(async () => {
    await p?.close();
  });

  describe("domains admin API", () => {
    it("sets and lists a tenant's domains: normalised (IDNA), de-duplicated, sorted", async () => {
      const t = await newTenant("initech");
      const put = await admin("PUT", `/admin/v1/tenants/${t}/domains`, {
        domains: ["Initech.test", "bücher-initech.test", "initech.test."],
      });
      expect(put.status).toBe(200);
      expect(put.body).toEqual({ tenant_id: t, domains: ["initech.test", "xn--bcher-initech-wob.test"] });
      expect((await admin("GET", `/admin/v1/tenants/${t}/domains`)).body).toEqual(put.body);
      // Replacing releases: another tenant may then claim a released domain.
      expect(
        (await admin("PUT", `/admin/v1/tenants/${t}/domains`, { domains: ["initech.test"] })).status,
      ).toBe(200);
      const other = await newTenant("bücher");
      const claim = await admin("PUT", `/admin/v1/tenants/${other}/domains`, {
        domains: ["BÜCHER-initech.test"],
      });
      expect(claim.body.domains).toEqual(["xn--bcher-initech-wob.test"]);
    });

    it("refuses a domain another tenant holds (409 problem+json) and changes nothing", async () => {
      const r = await admin("PUT", `/admin/v1/tenants/${globex}/domains`, {
        domains: ["globex.test", "ACME.test"],
      });
      expect(r.status).toBe(409);
      expect(r.type).toMatch(/^application\/problem\+json/);
      expect(r.body.type).toBe("urn:portcullis:problem:conflict");
      expect(r.body.detail).toContain("acme.test");
      expect((await admin("GET", `/admin/v1/tenants/${globex}/domains`)).body.domains).toEqual([
        "globex.test",
      ]);
      expect((await admin("GET", `/admin/v1/tenants/${acme}/domains`)).body.domains).toEqual(["acme.test"]);
    });

    it("bad input is 400 problem+json naming each bad entry, and changes nothing", async () => {
      for (const body of [
        { domains: ["ok.test", "not a domain", "*.wild.test"] },
        { domains: ["1.2.3.4"] },
        { domains: ["localhost"] },
        { domains: ["user@acme2.test"] },
        { domains: "acme2.test" },
        { domains: ["acme2.test"], extra: true },
        { domains: Array.from({ length: 26 }, (_, i) => `d${i}.test`) },
        {},
      ]) {
        const r = await admin("PUT", `/admin/v1/tenants/${globex}/domains`, body);
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body.type).toBe("urn:portcullis:problem:validation");
      }
      const r = await admin("PUT", `/admin/v1/tenants/${globex}/domains`, {
        domains: ["ok.test", "not a domain", "*.wild.test"],
      });
      expect(r.body.errors.map((e: Json) => e.path)).toEqual(["/domains/1", "/domains/2"]);
      expect((await admin("GET", `/admin/v1/tenants/${globex}/domains`)).body.domains).toEqual([
        "globex.test",
      ]);
      expect(
        (await admin("PUT", "/admin/v1/tenants/01JNOSUCHTENANT00000000000/domains", { domains: [] })).status,
      ).toBe(404);
    });

    it("is the platform admin's alone: tenant credentials get 403 and change nothing", async () => {
      const key = (await admin("POST", `/admin/v1/tenants/${acme}/api-keys`, {})).body.key as string;
      const put = await admin("PUT", `/admin/v1/tenants/${acme}/domains`, { domains: ["evil.test"] }, key);
      expect(put.status).toBe(403);
      expect(put.body.type).toBe("urn:portcullis:problem:forbidden");
      expect((await admin("GET", `/admin/v1/tenants/${acme}/domains`, undefined, key)).status).toBe(403);
      expect((await admin("PUT", `/admin/v1/tenants/${globex}/domains`, { domains: [] }, key)).status).toBe(
        403,
      );
      expect((await admin("GET", `/admin/v1/tenants/${acme}/domains`)).body.domains).toEqual(["acme.test"]);
      expect((await admin("GET", `/admin/v1/tenants/${globex}/domains`)).body.domains).toEqual([
        "globex.test",
      ]);
      expect((await admin("GET", `/admin/v1/tenants/${acme}/domains`, undefined, "wrong-key")).status).toBe(
        401,
      );
    });

    it("multi-tenant clients: platform admin only, no platform scopes, not changed by tenant credentials", async () => {
      const key = (await admin("POST", `/admin/v1/tenants/${home}/api-keys`, {})).body.key as string;
      const byTenant = await newClient(home, { organization_usage: "require" }, key);
      expect(byTenant.status).toBe(403);
      expect(byTenant.body.type).toBe("urn:portcullis:problem:forbidden");
      const platformScope = await newClient(home, {
        organization_usage: "require",
        scope: "openid tenant:admin",
      });
      expect(platformScope.status).toBe(400);
      expect(platformScope.body.errors.map((e: Json) => e.path)).toEqual(["/scope"]);
      const machine = await newClient(home, {
        organization_usage: "require",
        grant_types: ["client_credentials"],
        redirect_uris: [],
        scope: "reports:read",
      });
      expect(machine.status).toBe(400);
      expect((await newClient(home, { organization_usage: "sometimes" })).status).toBe(400);
      const list = (await admin("GET", `/admin/v1/tenants/${home}/clients`)).body.clients as Json[];
      expect(list.filter((c) => c.organization_usage === "require").map((c) => c.client_id)).toEqual([
        multi.client_id,
      ]);
      // A tenant credential of the client's tenant may neither rotate its secret nor delete it.
      const base = `/admin/v1/tenants/${home}/clients/${multi.client_id}`;
      expect((await admin("POST", `${base}/secret`, undefined, key)).status).toBe(403);
      expect((await admin("DELETE", base, undefined, key)).status).toBe(403);
      expect((await admin("GET", base)).body.client_id).toBe(multi.client_id);
      // ... while its secret still works.
      const ok = await login(multi, "ada@acme.test");
      expect(ok.tokens.access_token).toBeTruthy();
    });
  });

  describe("sign-in of a multi-tenant client", () => {
    it("routes by the entered email's domain; tokens, ID token, userinfo, refresh and introspection carry that tenant", async () => {
      const { config, tokens } = await login(multi, "ADA@acme.test");
      const at = decodeJwt(tokens.access_token);
      expect(at).toMatchObject({ sub: users.ada, tenant_id: acme, client_id: multi.client_id });
      const id = tokens.claims()!;
      expect(id).toMatchObject({ sub: users.ada, tenant_id: acme, org_id: acme, aud: multi.client_id });
      const info = await oidc.fetchUserInfo(config, tokens.access_token, users.ada!);
      expect(info.email).toBe("ada@acme.test");
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      expect(decodeJwt(refreshed.access_token).tenant_id).toBe(acme);
      expect(refreshed.claims()).toMatchObject({ sub: users.ada, tenant_id: acme, org_id: acme });
      const intro = await oidc.tokenIntrospection(config, refreshed.access_token);
      expect(intro).toMatchObject({ active: true, sub: users.ada, tenant_id: acme });
      // Sign-in events are the user's tenant's.
      await expect
        .poll(async () =>
          (await events(acme, "login.succeeded")).some((e) => e.actor === `user:${users.ada}`),
        )
        .toBe(true);
    });

    it("routes by the login_hint's domain (pre-filled), and the hint's tenant decides which session counts", async () => {
      const { tokens, browser } = await login(multi, "hank@globex.test", { login_hint: "hank@globex.test" });
      expect(decodeJwt(tokens.access_token)).toMatchObject({ sub: users.hank, tenant_id: globex });
      expect(tokens.claims()!.org_id).toBe(globex);
      const config = await rp(multi);
      // The hint pre-fills the email page.
      const fresh = new FormBrowser(p.url);
      const start = await fresh.get((await authRequest(config, { login_hint: "hank@globex.test" })).url);
      expect((await fresh.get(start.location!)).body).toContain('value="hank@globex.test"');
      // Silent sign-in with a hint of the session's tenant works ...
      const silent = await browser.get(
        (await authRequest(config, { prompt: "none", login_hint: "x@globex.test" })).url,
      );
      expect(new URL(silent.location!).searchParams.get("code")).toBeTruthy();
      // ... a hint of another tenant, or of no tenant, does not use the globex session.
      // A hint without "@" names no organization either (it is unmatched, not "open").
      for (const hint of ["ada@acme.test", "who@unclaimed.test", "hank"]) {
        const other = await browser.get(
          (await authRequest(config, { prompt: "none", login_hint: hint })).url,
        );
        expect(new URL(other.location!).searchParams.get("error"), hint).toBe("login_required");
      }
    });

    it("routes by the organization parameter, which beats the email's domain", async () => {
      const inGlobex = await login(multi, "sam@freelance.test", { organization: globex });
      expect(decodeJwt(inGlobex.tokens.access_token)).toMatchObject({
        sub: users.samGlobex,
        tenant_id: globex,
      });
      const inAcme = await login(multi, "sam@freelance.test", {
        organization: acme,
        login_hint: "sam@globex.test",
      });
      expect(decodeJwt(inAcme.tokens.access_token)).toMatchObject({ sub: users.samAcme, tenant_id: acme });
      // organization=acme: a globex user is looked up in acme, and gets the generic failure.
      const b = new FormBrowser(p.url);
      const wrong = await signIn(
        b,
        (await authRequest(await rp(multi), { organization: acme })).url,
        "hank@globex.test",
        PASSWORD,
      );
      expect(wrong.status).toBe(401);
      expect(alertOf(wrong.body)).toBe(LOGIN_FAILED);
      // Unknown, malformed and deleted organizations are one invalid_request, back to the client.
      const gone = await newTenant("gone");
      await admin("DELETE", `/admin/v1/tenants/${gone}`);
      for (const organization of ["01JNOSUCHTENANT00000000000", "acme", gone]) {
        const a = await authRequest(await rp(multi), { organization });
        const r = await new FormBrowser(p.url).get(a.url);
        expect(r.status).toBe(303);
        const u = new URL(r.location!);
        expect(u.origin + u.pathname).toBe(CB);
        expect(u.searchParams.get("error")).toBe("invalid_request");
        expect(u.searchParams.get("state")).toBe(a.state);
      }
    });

    it("an unclaimed domain gets one generic message, whether or not the user exists somewhere", async () => {
      const answers: Hop[] = [];
      for (const email of [
        "sam@freelance.test",
        "nobody@freelance.test",
        "x@unclaimed.test",
        "ada@sub.acme.test",
      ]) {
        const { answer } = await emailStep(multi, email);
        expect(answer.status, email).toBe(400);
        expect(alertOf(answer.body), email).toBe(ORG_NOT_FOUND);
        expect(answer.body).not.toContain('name="password"');
        answers.push(answer);
      }
      // The pages differ only by the echoed email (and the per-transaction tokens).
      const normal = (h: Hop) => h.body.replace(/value="[^"]*"/g, 'value=""');
      expect(new Set(answers.map(normal)).size).toBe(1);
      // Posting the password step without a discovered tenant does not sign in anywhere.
      const { page, browser } = await emailStep(multi, "x@unclaimed.test");
      const direct = await browser.post("/oauth/login", {
        ...hiddenFields(page.body),
        step: "password",
        email: "ada@acme.test",
        password: PASSWORD,
      });
      expect(direct.status).toBe(400);
      expect(direct.location).toBeUndefined();
      expect((await events(home, "login.failed")).some((e) => e.reason === "unknown_organization")).toBe(
        true,
      );
    });

    it("sessions are tenant-bound: an acme session never answers a request routed to globex", async () => {
      const { browser } = await login(multi, "ada@acme.test");
      const config = await rp(multi);
      const none = await browser.get(
        (await authRequest(config, { prompt: "none", organization: globex })).url,
      );
      expect(new URL(none.location!).searchParams.get("error")).toBe("login_required");
      const interactive = await browser.get((await authRequest(config, { organization: globex })).url);
      expect(interactive.location).toMatch(/^\/oauth\/login\?tx=/);
      // Without a hint the browser's session (acme) answers, and its tokens are acme's.
      const a = await authRequest(config, { prompt: "none" });
      const silent = await browser.get(a.url);
      const t = await redeemCallback(config, silent.location, a);
      expect(decodeJwt(t.access_token)).toMatchObject({ sub: users.ada, tenant_id: acme });
      // Single-tenant clients of another tenant do not see it either.
      const globexSilent = await browser.get(
        (await authRequest(await rp(globexApp), { prompt: "none" })).url,
      );
      expect(new URL(globexSilent.location!).searchParams.get("error")).toBe("login_required");
      // After signing in to globex (organization), the browser's session is globex's: acme must sign in again.
      const b2 = (await login(multi, "hank@globex.test", { organization: globex }, browser)).browser;
      const back = await b2.get((await authRequest(config, { prompt: "none", organization: acme })).url);
      expect(new URL(back.location!).searchParams.get("error")).toBe("login_required");
    });
  });

  it("a fixed organization stays pinned in a transaction that started from a session (consent)", async () => {
    // A globex session; a request for globex that needs the consent page starts a transaction from
    // the session. Its email step must not run discovery: an acme email stays in globex.
    const { browser } = await login(multi, "hank@globex.test", { organization: globex });
    const start = await browser.get(
      (await authRequest(await rp(multi), { organization: globex, prompt: "consent" })).url,
    );
    expect(start.location).toMatch(/^\/oauth\/consent\?tx=/);
    const tx = new URL(start.location!, p.url).searchParams.get("tx")!;
    const page = await browser.get(`/oauth/login?tx=${encodeURIComponent(tx)}`);
    expect(page.status).toBe(200);
    const pw = await browser.post("/oauth/login", { ...hiddenFields(page.body), email: "ada@acme.test" });
    expect(pw.status).toBe(200);
    const done = await browser.post("/oauth/login", { ...hiddenFields(pw.body), password: PASSWORD });
    // ada is not a globex user: the generic failure, no session or code of acme.
    expect(done.status, done.location).toBe(401);
    expect(alertOf(done.body)).toBe(LOGIN_FAILED);
  });

  describe("admin routes with oversized path parameters", () => {
    it("are 404, never a storage error", async () => {
      const long = "x".repeat(1100);
      const veryLong = "y".repeat(2100);
      const base = `/admin/v1/tenants/${acme}/users`;
      for (const [method, path] of [
        ["DELETE", `${base}/${users.ada}/consents/${long}`],
        ["DELETE", `${base}/${users.ada}/consents/pcc_${long}`],
        ["GET", `${base}/${long}/consents`],
        ["DELETE", `${base}/${long}/consents/${multi.client_id}`],
        ["GET", `${base}/${long}/sessions`],
        ["DELETE", `${base}/${users.ada}/sessions/${long}`],
        ["GET", `${base}/${long}`],
        ["GET", `/admin/v1/tenants/${veryLong}/domains`],
        ["PUT", `/admin/v1/tenants/${veryLong}/domains`],
      ] as const) {
        const r = await admin(method, path, method === "PUT" ? { domains: [] } : undefined);
        expect(r.status, `${method} ${path.slice(0, 80)}`).toBe(404);
      }
    });
  });

  describe("single-tenant clients", () => {
    it("stay in their tenant whatever the hint; organization of another tenant is refused", async () => {
      // A hint of globex's domain does not move acme's client: ada (acme) signs in, tokens are acme's.
      const { tokens } = await login(acmeApp, "ada@acme.test", { login_hint: "hank@globex.test" });
      const at = decodeJwt(tokens.access_token);
      expect(at).toMatchObject({ sub: users.ada, tenant_id: acme });
      expect(tokens.claims()!.org_id).toBeUndefined();
      // ... and hank (globex), hinted or typed, is not found in acme: the generic failure.
      const b = new FormBrowser(p.url);
      const config = await rp(acmeApp);
      const hank = await signIn(
        b,
        (await authRequest(config, { login_hint: "hank@globex.test" })).url,
        "hank@globex.test",
        PASSWORD,
      );
      expect(hank.status).toBe(401);
      expect(alertOf(hank.body)).toBe(LOGIN_FAILED);
      const org = await new FormBrowser(p.url).get((await authRequest(config, { organization: globex })).url);
      expect(new URL(org.location!).searchParams.get("error")).toBe("invalid_request");
      const own = await new FormBrowser(p.url).get((await authRequest(config, { organization: acme })).url);
      expect(own.location).toMatch(/^\/oauth\/login\?tx=/);
    });
  });

  describe("email step rate limit", () => {
    let q: LocalPlatform;
    beforeAll(async () => {
      q = await platform(store, {
        PORTCULLIS_EMAIL_STEP_IP_LIMIT: "4",
        PORTCULLIS_EMAIL_STEP_TENANT_IP_LIMIT: "3",
        PORTCULLIS_EMAIL_STEP_WINDOW: "300",
      });
    });
    afterAll(async () => {
      await q?.close();
    });

    it("counts every submission per IP: 429 with Retry-After and a login.throttled event, known domain or not", async () => {
      const qa = adminOf(q, ADMIN);
      const vendor = (await qa("POST", "/admin/v1/tenants", { name: "vendor" })).body.id as string;
      const initech = (await qa("POST", "/admin/v1/tenants", { name: "initech" })).body.id as string;
      await qa("PUT", `/admin/v1/tenants/${initech}/domains`, { domains: ["initech.test"] });
      const { c, config, b, fields } = await emailFormOf(q, vendor, WORKSPACE);
      const post = (email: string) => b.post("/oauth/login", { ...fields, email });
      // Four submissions pass (successes count too: a found organization is one of them) ...
      expect((await post("a@unclaimed-1.test")).status).toBe(400);
      expect((await post("b@unclaimed-2.test")).status).toBe(400);
      expect((await post("c@initech.test")).status).toBe(200);
      expect((await post("not-an-email")).status).toBe(400);
      // ... the fifth is refused, for a claimed and an unclaimed domain alike.
      for (const email of ["d@initech.test", "e@unclaimed-3.test"]) {
        const r = await post(email);
        expect(r.status, email).toBe(429);
        const wait = Number(r.headers.get("retry-after"));
        expect(wait).toBeGreaterThan(0);
        expect(wait).toBeLessThanOrEqual(300);
        expect(alertOf(r.body)).toBe("Too many attempts. Wait a moment and try again.");
        expect(r.body).not.toContain('name="password"');
      }
      // Reported to the client's tenant (no organization is known yet), without the email.
      const throttled = () => auditEvents(qa, vendor, "login.throttled");
      await expect.poll(async () => (await throttled()).length).toBeGreaterThanOrEqual(2);
      const e = (await throttled())[0]!;
      expect(e).toMatchObject({
        actor: "anonymous",
        reason: "email_step_rate",
        resource: `client:${c.client_id}`,
      });
      expect(JSON.stringify(await throttled())).not.toMatch(/unclaimed|initech\.test/);
      // A login_hint lookup is also refused while the IP is over the limit: the sign-in stays unrouted.
      const hinted = await b.get(
        (await authRequest(config, { login_hint: "c@initech.test", prompt: "none" })).url,
      );
      expect(new URL(hinted.location!).searchParams.get("error")).toBe("login_required");
    });

    it("does not count the email steps of single-tenant clients or of a fixed organization", async () => {
      const qa = adminOf(q, ADMIN);
      const t = (await qa("POST", "/admin/v1/tenants", { name: "umbrella" })).body.id as string;
      const umbrella = { grant_types: ["authorization_code"], scope: "openid" };
      const { b, fields } = await emailFormOf(
        q,
        t,
        { ...umbrella, client_name: "Umbrella intranet" },
        { scope: "openid" },
      );
      // More than both limits (4 per IP, 3 per IP + tenant), from an IP that may be over them already.
      for (let i = 0; i < 6; i++)
        expect((await b.post("/oauth/login", { ...fields, email: `u${i}@umbrella.test` })).status).toBe(200);
      // A multi-tenant client's request with `organization` does no discovery: not counted either.
      const saas = { ...umbrella, client_name: "Umbrella SaaS", organization_usage: "require" };
      const {
        config: mConfig,
        b: b2,
        fields: fields2,
      } = await emailFormOf(q, t, saas, { scope: "openid", organization: t });
      for (let i = 0; i < 6; i++)
        expect((await b2.post("/oauth/login", { ...fields2, email: `v${i}@elsewhere.test` })).status).toBe(
          200,
        );
      // ... while discovery from this IP is over the limit.
      const b3 = new FormBrowser(q.url);
      const fields3 = hiddenFields(
        (await emailPage(b3, (await authRequest(mConfig, { scope: "openid" })).url)).body,
      );
      for (let i = 0; i < 5; i++)
        await b3.post("/oauth/login", { ...fields3, email: `w${i}@elsewhere.test` });
      expect((await b3.post("/oauth/login", { ...fields3, email: "z@elsewhere.test" })).status).toBe(429);
    });
  });

  describe("email step rate limit under a burst", () => {
    let r: LocalPlatform;
    beforeAll(async () => {
      r = await platform(store); // the default limits: 60 per IP, 30 per IP + tenant, 5 minutes
    });
    afterAll(async () => {
      await r?.close();
    });

    it("60 parallel submissions from one IP are counted exactly, none fails; the 61st is 429", async () => {
      const ra = adminOf(r, ADMIN);
      const vendor = (await ra("POST", "/admin/v1/tenants", { name: "vendor" })).body.id as string;
      const { b, fields } = await emailFormOf(r, vendor, WORKSPACE);
      const statuses = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          b.post("/oauth/login", { ...fields, email: `x${i}@unclaimed-burst.test` }).then((h) => h.status),
        ),
      );
      expect(statuses.filter((s) => s !== 400)).toEqual([]);
      expect((await b.post("/oauth/login", { ...fields, email: "y@unclaimed-burst.test" })).status).toBe(429);
    });
  });
});
