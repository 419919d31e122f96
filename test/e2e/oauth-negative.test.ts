/**
 * What the authorization server and the bearer authenticator refuse, over HTTP against the local
 * platform (per signer): bad client credentials, replayed/forged assertions, forged, expired or
 * misdirected tokens, scopes and audiences a client lacks, other tenants' tokens. Every refusal
 * has the right status and error, and says nothing internal.
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { CreateKeyCommand } from "@aws-sdk/client-kms";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalPlatform, startLocalPlatform } from "../../functions/_shared/platform.ts";
import { createKmsClient } from "../../src/keys/adapters/kms.ts";
import { ManualClock } from "../../src/shared/clock.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { type KmsStandin, startKmsStandin } from "../support/kms-standin.ts";

const ADMIN = "admin-key-for-oauth-negative";
const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// biome-ignore lint/suspicious/noExplicitAny: JSON response bodies, inspected by the assertions
type Json = Record<string, any>;
interface Res {
  status: number;
  headers: Headers;
  body: Json;
}

const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

describe.each(["local", "kms", "kms-envelope"] as const)("OAuth refusals (signer %s)", (signer) => {
  let p: LocalPlatform;
  let kms: KmsStandin | undefined;
  const clock = new ManualClock(Date.now());
  let tenantA: string;
  let tenantB: string;
  let apiClient: Json; // tenant A, platform audience, authz:read + tenant:admin

  const call = async (
    method: string,
    path: string,
    init: { key?: string; json?: unknown } = {},
  ): Promise<Res> => {
    const res = await fetch(`${p.url}${path}`, {
      method,
      headers: {
        ...(init.key ? { authorization: `Bearer ${init.key}` } : {}),
        ...(init.json !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : {} };
  };
  const form = async (
    path: string,
    params: Record<string, string | string[]>,
    opts: { basic?: [string, string]; contentType?: string; method?: string } = {},
  ): Promise<Res> => {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const x of [v].flat()) body.append(k, x);
    const res = await fetch(`${p.url}${path}`, {
      method: opts.method ?? "POST",
      headers: {
        "content-type": opts.contentType ?? "application/x-www-form-urlencoded",
        ...(opts.basic
          ? { authorization: `Basic ${Buffer.from(opts.basic.join(":")).toString("base64")}` }
          : {}),
      },
      ...(opts.method === "GET" ? {} : { body: body.toString() }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : {} };
  };
  const register = async (tenant: string, metadata: Json) => {
    const r = await call("POST", `/admin/v1/tenants/${tenant}/clients`, { key: ADMIN, json: metadata });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body;
  };
  const token = async (c: Json, params: Record<string, string | string[]> = {}) => {
    const r = await form(
      "/oauth/token",
      { grant_type: "client_credentials", ...params },
      { basic: [c.client_id, c.client_secret] },
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.access_token as string;
  };
  /** An OAuth error response: status, RFC 6749 body with nothing else, no-store. */
  const expectOAuthError = (r: Res, status: number, error: string) => {
    expect(r.status, JSON.stringify(r.body)).toBe(status);
    expect(Object.keys(r.body).sort()).toEqual(["error", "error_description"]);
    expect(r.body.error).toBe(error);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(JSON.stringify(r.body)).not.toMatch(/stack|Error:|at \/|node_modules|dynamodb|arn:aws/i);
  };
  const expect401 = async (tok: string) => {
    const r = await call("GET", `/admin/v1/tenants/${tenantA}`, { key: tok });
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toMatch(/^Bearer/);
  };

  beforeAll(async () => {
    const env: NodeJS.ProcessEnv = {
      PORTCULLIS_ADMIN_KEY: ADMIN,
      PORTCULLIS_SIGNER: signer,
      PORTCULLIS_LOG_LEVEL: "silent",
    };
    if (signer !== "local") {
      kms = await startKmsStandin();
      env.PORTCULLIS_KMS_ENDPOINT = kms.url;
      if (signer === "kms-envelope") {
        const c = createKmsClient({ endpoint: kms.url });
        env.PORTCULLIS_KMS_WRAPPING_KEY_ID = (await c.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
        c.destroy();
      }
    }
    p = await startLocalPlatform({
      env,
      port: 0,
      seed: false,
      clock,
      log: createLogger({ level: "silent" }),
    });
    tenantA = (await call("POST", "/admin/v1/tenants", { key: ADMIN, json: { name: "A" } })).body.id;
    tenantB = (await call("POST", "/admin/v1/tenants", { key: ADMIN, json: { name: "B" } })).body.id;
    apiClient = await register(tenantA, { client_name: "api", scope: "authz:read tenant:admin" });
  });
  afterAll(async () => {
    await p?.close();
    p?.container.kms?.destroy();
    await kms?.close();
  });

  describe("client authentication", () => {
    it("refuses a wrong secret and an unknown client alike: 401 invalid_client with a Basic challenge", async () => {
      const wrong = await form(
        "/oauth/token",
        { grant_type: "client_credentials" },
        { basic: [apiClient.client_id, "pcs_wrong"] },
      );
      const unknown = await form(
        "/oauth/token",
        { grant_type: "client_credentials" },
        { basic: ["pcc_01JAAAAAAAAAAAAAAAAAAAAAAA", "pcs_x"] },
      );
      for (const r of [wrong, unknown]) {
        expectOAuthError(r, 401, "invalid_client");
        expect(r.headers.get("www-authenticate")).toMatch(/^Basic realm="portcullis"/);
      }
      expect(wrong.body.error_description).toBe(unknown.body.error_description);
      const none = await form("/oauth/token", { grant_type: "client_credentials" });
      expectOAuthError(none, 401, "invalid_client");
    });

    it("refuses a registered method other than the client's, and two methods at once", async () => {
      const post = await form("/oauth/token", {
        grant_type: "client_credentials",
        client_id: apiClient.client_id,
        client_secret: apiClient.client_secret,
      });
      expectOAuthError(post, 401, "invalid_client");
      const both = await form(
        "/oauth/token",
        { grant_type: "client_credentials", client_secret: apiClient.client_secret },
        { basic: [apiClient.client_id, apiClient.client_secret] },
      );
      expectOAuthError(both, 400, "invalid_request");
    });

    it("refuses replayed, misdirected, long-lived, unsigned-by-registered-key and HMAC client assertions", async () => {
      const { publicKey, privateKey } = await generateKeyPair("ES256");
      const c = await register(tenantA, {
        client_name: "jwt",
        token_endpoint_auth_method: "private_key_jwt",
        jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: "k1" }] },
      });
      const now = Math.floor(clock.now() / 1000);
      const assertion = (
        claims: Json = {},
        key: Parameters<SignJWT["sign"]>[0] = privateKey,
        alg = "ES256",
      ) =>
        new SignJWT({ jti: randomUUID(), ...claims })
          .setProtectedHeader({ alg, kid: "k1" })
          .setIssuer(c.client_id)
          .setSubject(c.client_id)
          .setAudience(claims.aud ?? p.url)
          .setIssuedAt(now)
          .setExpirationTime(claims.exp ?? now + 60)
          .sign(key);
      const use = (jwt: string) =>
        form("/oauth/token", {
          grant_type: "client_credentials",
          client_assertion_type: JWT_BEARER,
          client_assertion: jwt,
        });
      const good = await assertion();
      expect((await use(good)).status).toBe(200);
      expectOAuthError(await use(good), 401, "invalid_client"); // replay
      expectOAuthError(
        await use(await assertion({ aud: "https://elsewhere.example" })),
        401,
        "invalid_client",
      );
      expectOAuthError(await use(await assertion({ exp: now + 24 * 3600 })), 401, "invalid_client");
      expectOAuthError(await use(await assertion({ exp: now - 120 })), 401, "invalid_client");
      const other = await generateKeyPair("ES256");
      expectOAuthError(await use(await assertion({}, other.privateKey)), 401, "invalid_client");
      expectOAuthError(
        await use(await assertion({}, new TextEncoder().encode("x".repeat(32)), "HS256")),
        401,
        "invalid_client",
      );
      const noJti = await new SignJWT({})
        .setProtectedHeader({ alg: "ES256" })
        .setIssuer(c.client_id)
        .setSubject(c.client_id)
        .setAudience(p.url)
        .setExpirationTime(now + 60)
        .sign(privateKey);
      expectOAuthError(await use(noJti), 401, "invalid_client");
      const wrongType = await form("/oauth/token", {
        grant_type: "client_credentials",
        client_assertion_type: "urn:x",
        client_assertion: good,
      });
      expectOAuthError(wrongType, 400, "invalid_request");
    });

    it("refuses clients of a deleted tenant and deleted clients", async () => {
      const t = (await call("POST", "/admin/v1/tenants", { key: ADMIN, json: { name: "doomed" } })).body.id;
      const c = await register(t, { client_name: "doomed" });
      const gone = await register(tenantA, { client_name: "gone" });
      await token(c);
      expect(
        (await call("DELETE", `/admin/v1/tenants/${tenantA}/clients/${gone.client_id}`, { key: ADMIN }))
          .status,
      ).toBe(204);
      await call("DELETE", `/admin/v1/tenants/${t}`, { key: ADMIN });
      for (const x of [c, gone])
        expectOAuthError(
          await form(
            "/oauth/token",
            { grant_type: "client_credentials" },
            { basic: [x.client_id, x.client_secret] },
          ),
          401,
          "invalid_client",
        );
    });
  });

  describe("token requests", () => {
    const basic = () => ({ basic: [apiClient.client_id, apiClient.client_secret] as [string, string] });

    it("refuses a scope the client lacks (invalid_scope) and malformed scopes", async () => {
      expectOAuthError(
        await form("/oauth/token", { grant_type: "client_credentials", scope: "authz:write" }, basic()),
        400,
        "invalid_scope",
      );
      expectOAuthError(
        await form("/oauth/token", { grant_type: "client_credentials", scope: 'a"b' }, basic()),
        400,
        "invalid_scope",
      );
    });

    it("refuses audiences the client is not registered for, and malformed resources (invalid_target)", async () => {
      expectOAuthError(
        await form(
          "/oauth/token",
          { grant_type: "client_credentials", resource: "https://other.example" },
          basic(),
        ),
        400,
        "invalid_target",
      );
      expectOAuthError(
        await form("/oauth/token", { grant_type: "client_credentials", resource: `${p.url}#frag` }, basic()),
        400,
        "invalid_target",
      );
      expectOAuthError(
        await form("/oauth/token", { grant_type: "client_credentials", resource: "relative/path" }, basic()),
        400,
        "invalid_target",
      );
      expectOAuthError(
        await form("/oauth/token", { grant_type: "client_credentials", audience: "someone-else" }, basic()),
        400,
        "invalid_target",
      );
    });

    it("refuses unsupported, missing and repeated grant types, other media types and methods", async () => {
      expectOAuthError(
        await form("/oauth/token", { grant_type: "password", username: "u", password: "p" }, basic()),
        400,
        "unsupported_grant_type",
      );
      expectOAuthError(await form("/oauth/token", {}, basic()), 400, "invalid_request");
      expectOAuthError(
        await form("/oauth/token", { grant_type: ["client_credentials", "client_credentials"] }, basic()),
        400,
        "invalid_request",
      );
      expectOAuthError(
        await form(
          "/oauth/token",
          { grant_type: "client_credentials" },
          { ...basic(), contentType: "application/json" },
        ),
        400,
        "invalid_request",
      );
      expectOAuthError(await form("/oauth/token", {}, { method: "GET" }), 405, "invalid_request");
      expectOAuthError(
        await form("/oauth/nowhere", { grant_type: "client_credentials" }),
        404,
        "invalid_request",
      );
    });

    it("refuses a grant the client is not registered for (unauthorized_client)", async () => {
      const r = await form(
        "/oauth/token",
        { grant_type: EXCHANGE, subject_token: "x.y.z", subject_token_type: AT_TYPE },
        basic(),
      );
      expectOAuthError(r, 400, "unauthorized_client");
    });

    it("refuses token exchanges of tokens not meant for the caller, of other tenants, revoked, or escalating scope", async () => {
      const svc = await register(tenantA, {
        client_name: "svc",
        grant_types: [EXCHANGE],
        scope: "authz:read authz:write",
        resources: [p.url],
      });
      const svcB = await register(tenantB, {
        client_name: "svc B",
        grant_types: [EXCHANGE],
        resources: ["https://b.example"],
      });
      const front = await register(tenantA, {
        client_name: "front",
        scope: "authz:read",
        resources: [p.url, svc.client_id],
      });
      const exchange = (caller: Json, subject: string, extra: Record<string, string> = {}) =>
        form(
          "/oauth/token",
          { grant_type: EXCHANGE, subject_token: subject, subject_token_type: AT_TYPE, ...extra },
          { basic: [caller.client_id, caller.client_secret] },
        );
      const notForSvc = await token(front); // audience: the platform API, not svc
      expectOAuthError(await exchange(svc, notForSvc), 400, "invalid_request");
      const forSvc = await token(front, { audience: svc.client_id });
      expectOAuthError(await exchange(svcB, forSvc), 400, "invalid_request");
      expectOAuthError(await exchange(svc, forSvc, { scope: "authz:write" }), 400, "invalid_scope");
      expectOAuthError(
        await exchange(svc, forSvc, { actor_token: forSvc, actor_token_type: AT_TYPE }),
        400,
        "invalid_request",
      );
      expectOAuthError(
        await exchange(svc, forSvc, { subject_token_type: "urn:ietf:params:oauth:token-type:saml2" }),
        400,
        "invalid_request",
      );
      expectOAuthError(await exchange(svc, "garbage"), 400, "invalid_request");
      expect((await exchange(svc, forSvc)).status).toBe(200);
      await form("/oauth/revoke", { token: forSvc }, { basic: [front.client_id, front.client_secret] });
      expectOAuthError(await exchange(svc, forSvc), 400, "invalid_request");
    });
  });

  describe("bearer tokens on the platform API", () => {
    it("refuses expired tokens (and introspection says inactive)", async () => {
      const t = await token(apiClient);
      expect((await call("GET", `/admin/v1/tenants/${tenantA}`, { key: t })).status).toBe(200);
      clock.advance(606_000);
      try {
        await expect401(t);
        const r = await form(
          "/oauth/introspect",
          { token: t },
          { basic: [apiClient.client_id, apiClient.client_secret] },
        );
        expect(r.body).toEqual({ active: false });
      } finally {
        clock.advance(-606_000);
      }
    });

    it("refuses alg:none, unknown-kid, foreign-key, HMAC-confused and re-signed-with-bad-claims tokens", async () => {
      const real = await token(apiClient);
      const [h, pl] = real.split(".") as [string, string];
      const header = JSON.parse(Buffer.from(h, "base64url").toString());
      await expect401(`${b64({ ...header, alg: "none" })}.${pl}.`);
      await expect401(`${b64({ ...header, alg: "none" })}.${pl}.AAAA`);
      const foreign = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
      const { sign } = await import("node:crypto");
      const forge = (hdr: Json, payload: string) => {
        const input = `${b64(hdr)}.${payload}`;
        return `${input}.${sign("sha256", Buffer.from(input), { key: foreign, dsaEncoding: "ieee-p1363" }).toString("base64url")}`;
      };
      await expect401(forge({ ...header, kid: "no-such-kid" }, pl));
      await expect401(forge(header, pl)); // the real kid, signed by another key
      const jwks = (await call("GET", "/.well-known/jwks.json")).body;
      const hmac = await new SignJWT(JSON.parse(Buffer.from(pl, "base64url").toString()))
        .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: header.kid })
        .sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0])));
      await expect401(hmac);
      // Signed with the platform's own key, but not an acceptable access token.
      const s = await p.container.keyRing.signer();
      const claims = JSON.parse(Buffer.from(pl, "base64url").toString());
      const own = async (hdr: Json, c: Json) => {
        const input = `${b64(hdr)}.${b64(c)}`;
        return `${input}.${Buffer.from(await s.sign(Buffer.from(input))).toString("base64url")}`;
      };
      const good = { alg: s.alg, typ: "at+jwt", kid: s.kid };
      expect(
        (await call("GET", `/admin/v1/tenants/${tenantA}`, { key: await own(good, claims) })).status,
      ).toBe(200);
      await expect401(await own({ ...good, typ: "JWT" }, claims));
      await expect401(await own(good, { ...claims, iss: "https://evil.example" }));
      await expect401(await own(good, { ...claims, tenant_id: undefined }));
      await expect401(await own(good, { ...claims, nbf: claims.iat + 3600 }));
    });

    it("refuses tokens for another audience", async () => {
      const c = await register(tenantA, {
        client_name: "ingest",
        scope: "authz:read",
        resources: ["https://ingest.example.com"],
      });
      await expect401(await token(c));
    });

    it("hides a tenant from another tenant's token (404) and enforces scopes (403)", async () => {
      const b = await register(tenantB, { client_name: "b", scope: "tenant:admin authz:read" });
      const tb = await token(b);
      expect((await call("GET", `/admin/v1/tenants/${tenantB}`, { key: tb })).status).toBe(200);
      expect((await call("GET", `/admin/v1/tenants/${tenantA}`, { key: tb })).status).toBe(404);
      expect(
        (await call("POST", `/admin/v1/tenants/${tenantA}/clients`, { key: tb, json: { client_name: "x" } }))
          .status,
      ).toBe(404);
      expect(
        (await call("GET", `/admin/v1/tenants/${tenantA}/clients/${apiClient.client_id}`, { key: tb }))
          .status,
      ).toBe(404);
      expect(
        (await call("GET", `/admin/v1/tenants/${tenantB}/clients/${apiClient.client_id}`, { key: tb }))
          .status,
      ).toBe(404);
      const readOnly = await register(tenantA, { client_name: "reader", scope: "authz:read" });
      const tr = await token(readOnly);
      const denied = await call("POST", `/admin/v1/tenants/${tenantA}/clients`, {
        key: tr,
        json: { client_name: "x" },
      });
      expect(denied.status).toBe(403);
      expect(denied.headers.get("content-type")).toBe("application/problem+json");
      expect((await call("GET", "/admin/v1/tenants", { key: tr })).status).toBe(403);
      expect((await call("POST", "/admin/v1/keys/rotate", { key: tr, json: {} })).status).toBe(403);
    });

    it("refuses revoking another client's token and introspecting another tenant's token", async () => {
      const other = await register(tenantA, { client_name: "other" });
      const b = await register(tenantB, { client_name: "b2" });
      const t = await token(apiClient);
      expectOAuthError(
        await form("/oauth/revoke", { token: t }, { basic: [other.client_id, other.client_secret] }),
        400,
        "unauthorized_client",
      );
      const seenByB = await form(
        "/oauth/introspect",
        { token: t },
        { basic: [b.client_id, b.client_secret] },
      );
      expect(seenByB.body).toEqual({ active: false });
      expect(
        (await form("/oauth/introspect", { token: t }, { basic: [other.client_id, other.client_secret] }))
          .body.active,
      ).toBe(true);
      expectOAuthError(
        await form("/oauth/introspect", {}, { basic: [other.client_id, other.client_secret] }),
        400,
        "invalid_request",
      );
      expectOAuthError(await form("/oauth/introspect", { token: t }), 401, "invalid_client");
    });
  });

  describe("client registration (admin API)", () => {
    it("validates metadata and never returns or stores a plaintext secret afterwards", async () => {
      const bad = [
        { client_name: "x", token_endpoint_auth_method: "private_key_jwt" },
        { client_name: "x", jwks: { keys: [{ kty: "EC", crv: "P-256", x: "AA", y: "AA" }] } },
        {
          client_name: "x",
          token_endpoint_auth_method: "private_key_jwt",
          jwks: { keys: [{ kty: "EC", crv: "P-256", x: "AA", y: "AA", d: "AA" }] },
        },
        { client_name: "x", grant_types: ["password"] },
        { client_name: "x", token_endpoint_auth_method: "none" },
        { client_name: "x", redirect_uris: ["http://evil.example/cb"] },
        { client_name: "x", resources: ["not a uri"] },
        { client_name: "x", access_token_lifetime: 999_999 },
        { client_name: "x", jwks_uri: "https://example.com/jwks" },
        { client_name: "x", scope: 'bad"scope' },
        // Extra JWK members are kept and echoed: bounded (a 900 KB member would break listing).
        {
          client_name: "x",
          token_endpoint_auth_method: "private_key_jwt",
          jwks: {
            keys: [
              { ...(await exportJWK((await generateKeyPair("ES256")).publicKey)), junk: "j".repeat(9000) },
            ],
          },
        },
      ];
      for (const body of bad) {
        const r = await call("POST", `/admin/v1/tenants/${tenantA}/clients`, { key: ADMIN, json: body });
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.headers.get("content-type")).toBe("application/problem+json");
      }
      const got = await call("GET", `/admin/v1/tenants/${tenantA}/clients/${apiClient.client_id}`, {
        key: ADMIN,
      });
      expect(got.body.client_secret).toBeUndefined();
      expect(JSON.stringify(got.body)).not.toContain(apiClient.client_secret);
      const stored = await p.container.oauth.clients.get(tenantA, apiClient.client_id);
      expect(JSON.stringify(stored)).not.toContain(apiClient.client_secret);
    });

    it("rotates a client secret: the old one stops working at once", async () => {
      const c = await register(tenantA, { client_name: "rotating" });
      const r = await call("POST", `/admin/v1/tenants/${tenantA}/clients/${c.client_id}/secret`, {
        key: ADMIN,
      });
      expect(r.status).toBe(200);
      expect(r.body.client_secret).not.toBe(c.client_secret);
      expectOAuthError(
        await form(
          "/oauth/token",
          { grant_type: "client_credentials" },
          { basic: [c.client_id, c.client_secret] },
        ),
        401,
        "invalid_client",
      );
      await token({ ...c, client_secret: r.body.client_secret });
    });
  });
});
