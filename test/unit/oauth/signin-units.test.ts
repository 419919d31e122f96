import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MemoryOAuthStore } from "../../../src/oauth/adapters/memory.ts";
import { ClientService } from "../../../src/oauth/clients.ts";
import { atHash } from "../../../src/oauth/id-token.ts";
import { serverMetadata } from "../../../src/oauth/metadata.ts";
import { cookieJar } from "../../../src/oauth/pages/cookies.ts";
import { csp, emailStep, esc } from "../../../src/oauth/pages/html.ts";
import { withQuery } from "../../../src/oauth/signin-deps.ts";
import { ManualClock } from "../../../src/shared/clock.ts";
import { ulidGenerator } from "../../../src/shared/ids.ts";

describe("hosted page building blocks", () => {
  it("escapes markup in every interpolated value", () => {
    expect(esc(`"><script>alert('x')</script>`)).not.toMatch(/[<>"']/);
    const html = emailStep({
      action: "/oauth/login",
      tx: "t",
      csrf: "c",
      clientName: "<b>Evil</b>",
      email: `a"onfocus="x`,
    });
    expect(html).not.toContain("<b>Evil</b>");
    expect(html).not.toContain(`"onfocus="`);
    expect(html).toContain('<label for="email">');
  });

  it("CSP: nothing by default, the stylesheet by hash, forms to self and the named origins only", () => {
    const policy = csp(["https://rp.example.com"]);
    expect(policy).toMatch(
      /^default-src 'none'; style-src 'sha256-[\w+/=]+'; img-src 'self'; form-action 'self' https:\/\/rp\.example\.com; frame-ancestors 'none'; base-uri 'none'$/,
    );
  });

  it("cookies are __Host-, Secure, HttpOnly, SameSite=Lax on https", () => {
    const jar = cookieJar("https://auth.example.com");
    expect(jar.session).toBe("__Host-pcl_session");
    expect(jar.set(jar.session, "v", 60)).toBe(
      "__Host-pcl_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure",
    );
    const req = { headers: { cookie: "a=1; __Host-pcl_session=abc.def; b=2" } } as never;
    expect(jar.get(req, jar.session)).toBe("abc.def");
    expect(cookieJar("http://127.0.0.1:4000").session).toBe("pcl_session");
  });

  it("redirects keep the registered URI's own query", () => {
    expect(withQuery("https://rp.example.com/cb?tenant=a", { code: "c", state: undefined })).toBe(
      "https://rp.example.com/cb?tenant=a&code=c",
    );
  });

  it("at_hash is the left half of the token hash (SHA-512 for EdDSA)", () => {
    const t = "eyJ.abc.def";
    expect(atHash(t, "ES256")).toBe(
      createHash("sha256").update(t).digest().subarray(0, 16).toString("base64url"),
    );
    expect(atHash(t, "EdDSA")).toBe(
      createHash("sha512").update(t).digest().subarray(0, 32).toString("base64url"),
    );
  });

  it("metadata only advertises the interactive flow when it is wired", () => {
    expect(serverMetadata("https://i").authorization_endpoint).toBeUndefined();
    expect(serverMetadata("https://i").response_types_supported).toEqual([]);
    const m = serverMetadata("https://i", { interactive: true });
    expect(m.authorization_endpoint).toBe("https://i/oauth/authorize");
    expect(m.code_challenge_methods_supported).toEqual(["S256"]);
    expect(m.introspection_endpoint_auth_methods_supported).not.toContain("none");
  });
});

describe("client registration for the interactive flow", () => {
  const clients = new ClientService({
    store: new MemoryOAuthStore(),
    tenants: { isActive: async () => true },
    clock: new ManualClock(),
    ids: ulidGenerator,
    apiAudience: "https://api.example.com",
  });
  const problems = async (m: Record<string, unknown>) =>
    clients.register("t1", { client_name: "x", ...m }).then(
      () => [],
      (e: { errors?: { path: string }[] }) => (e.errors ?? []).map((p) => p.path),
    );

  it("public clients get no secret and only interactive grants", async () => {
    const r = await clients.register("t1", {
      client_name: "spa",
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      redirect_uris: ["https://app.example.com/cb"],
      post_logout_redirect_uris: ["https://app.example.com/bye"],
      third_party: true,
    });
    expect(r.secret).toBeUndefined();
    expect(r.client.postLogoutRedirectUris).toEqual(["https://app.example.com/bye"]);
    expect(r.client.thirdParty).toBe(true);
    expect(
      await problems({ token_endpoint_auth_method: "none", grant_types: ["client_credentials"] }),
    ).toEqual(["/grant_types"]);
  });

  it("authorization_code needs redirect URIs; refresh_token needs authorization_code; URIs are checked", async () => {
    expect(await problems({ grant_types: ["authorization_code"] })).toEqual(["/redirect_uris"]);
    expect(await problems({ grant_types: ["refresh_token", "client_credentials"] })).toEqual([
      "/grant_types",
    ]);
    expect(
      await problems({
        grant_types: ["authorization_code"],
        redirect_uris: ["http://evil.example/cb"],
        post_logout_redirect_uris: ["https://a/#x"],
      }),
    ).toEqual(["/redirect_uris/0", "/post_logout_redirect_uris/0"]);
  });
});
