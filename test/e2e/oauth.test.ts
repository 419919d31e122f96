/**
 * The OAuth authorization server end to end, with openid-client (oauth4webapi underneath) as the
 * real client and jose's remote JWKS as the real verifier, against the local platform over HTTP —
 * once per signer (local keys, KMS `Sign`, KMS envelope; KMS is the protocol-level stand-in).
 */
import { CreateAliasCommand, CreateKeyCommand } from "@aws-sdk/client-kms";
import {
  createRemoteJWKSet,
  customFetch,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
} from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalPlatform, startLocalPlatform } from "../../functions/_shared/platform.ts";
import { createKmsClient } from "../../src/keys/adapters/kms.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { dynamoDbEndpoint } from "../support/dynamodb.ts";
import { type KmsStandin, startKmsStandin } from "../support/kms-standin.ts";

const ADMIN = "admin-key-for-oauth-e2e";
const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const MODES = [
  { signer: "local", store: "memory" },
  { signer: "local", store: "dynamodb" },
  { signer: "kms", store: "memory" },
  { signer: "kms-envelope", store: "dynamodb" },
] as const;

// biome-ignore lint/suspicious/noExplicitAny: JSON response bodies, inspected by the assertions
type Json = Record<string, any>;

describe.each(MODES)("OAuth end to end (signer $signer, store $store)", ({ signer, store }) => {
  let p: LocalPlatform;
  let kms: KmsStandin | undefined;
  let tenantId: string;
  let issuer: URL;
  const insecure = { execute: [oidc.allowInsecureRequests] };

  const admin = async (method: string, path: string, body?: unknown, key = ADMIN) => {
    const res = await fetch(`${p.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Json };
  };
  const register = async (metadata: Json, tenant = tenantId) => {
    const r = await admin("POST", `/admin/v1/tenants/${tenant}/clients`, metadata);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body;
  };
  const basicClient = async (c: Json) =>
    oidc.discovery(issuer, c.client_id, undefined, oidc.ClientSecretBasic(c.client_secret), insecure);

  beforeAll(async () => {
    const env: NodeJS.ProcessEnv = {
      PORTCULLIS_ADMIN_KEY: ADMIN,
      PORTCULLIS_STORE: store,
      PORTCULLIS_SIGNER: signer,
      PORTCULLIS_KEY_PUBLISH_SECONDS: "0",
      PORTCULLIS_LOG_LEVEL: "silent",
    };
    if (store === "dynamodb") {
      env.PORTCULLIS_DYNAMODB_ENDPOINT = dynamoDbEndpoint();
      env.PORTCULLIS_TABLE_PREFIX = `e2e-oauth-${Math.random().toString(36).slice(2, 10)}`;
    }
    if (signer !== "local") {
      kms = await startKmsStandin();
      env.PORTCULLIS_KMS_ENDPOINT = kms.url;
      const c = createKmsClient({ endpoint: kms.url });
      if (signer === "kms") {
        // As deployed: the CDK stack's multi-region key, by alias; rotation creates further keys.
        const k = await c.send(
          new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", MultiRegion: true }),
        );
        await c.send(
          new CreateAliasCommand({
            AliasName: "alias/portcullis-signing",
            TargetKeyId: k.KeyMetadata!.KeyId!,
          }),
        );
        env.PORTCULLIS_KMS_KEY_ID = "alias/portcullis-signing";
      } else {
        const k = await c.send(new CreateKeyCommand({ MultiRegion: true, Description: "wrapping key" }));
        env.PORTCULLIS_KMS_WRAPPING_KEY_ID = k.KeyMetadata!.KeyId!;
      }
      c.destroy();
    }
    p = await startLocalPlatform({ env, port: 0, seed: false, log: createLogger({ level: "silent" }) });
    issuer = new URL(p.url);
    tenantId = (await admin("POST", "/admin/v1/tenants", { name: "acme" })).body.id;
  });
  afterAll(async () => {
    await p?.close();
    p?.container.kms?.destroy();
    await kms?.close();
  });

  it("serves RFC 8414 / OIDC discovery metadata that openid-client accepts", async () => {
    const c = await register({ client_name: "disco" });
    for (const algorithm of ["oidc", "oauth2"] as const) {
      const config = await oidc.discovery(issuer, c.client_id, c.client_secret, undefined, {
        ...insecure,
        algorithm,
      });
      const m = config.serverMetadata();
      expect(m.issuer).toBe(p.url);
      expect(m.token_endpoint).toBe(`${p.url}/oauth/token`);
      expect(m.jwks_uri).toBe(`${p.url}/.well-known/jwks.json`);
      expect(m.grant_types_supported).toEqual([
        "client_credentials",
        EXCHANGE,
        "authorization_code",
        "refresh_token",
      ]);
      expect(m.token_endpoint_auth_methods_supported).toContain("private_key_jwt");
    }
    const jwks = await fetch(`${p.url}/.well-known/jwks.json`);
    expect(jwks.headers.get("cache-control")).toMatch(/max-age=\d+/);
    expect(jwks.headers.get("content-type")).toBe("application/jwk-set+json");
    const etag = jwks.headers.get("etag")!;
    expect(
      (await fetch(`${p.url}/.well-known/jwks.json`, { headers: { "if-none-match": etag } })).status,
    ).toBe(304);
  });

  it("issues RFC 9068 access tokens for client_credentials with client_secret_basic, verified via the JWKS", async () => {
    const c = await register({
      client_name: "billing",
      scope: "authz:check authz:read",
      resources: [p.url, "https://ingest.example.com"],
    });
    expect(c.client_secret).toMatch(/^pcs_/);
    const config = await basicClient(c);
    const t = await oidc.clientCredentialsGrant(config, {
      scope: "authz:check",
      resource: "https://ingest.example.com",
    });
    expect(t.token_type).toBe("bearer");
    expect(t.expires_in).toBe(600);
    expect(t.scope).toBe("authz:check");
    const header = decodeProtectedHeader(t.access_token);
    expect(header).toMatchObject({ typ: "at+jwt", alg: "ES256" });
    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const { payload } = await jwtVerify(t.access_token, jwks, {
      issuer: p.url,
      audience: "https://ingest.example.com",
      typ: "at+jwt",
      algorithms: ["ES256"],
    });
    expect(payload).toMatchObject({
      sub: c.client_id,
      client_id: c.client_id,
      scope: "authz:check",
      tenant_id: tenantId,
    });
    expect(payload.exp! - payload.iat!).toBe(600);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    // Without scope or resource: every registered scope, the default (first) audience.
    const all = await oidc.clientCredentialsGrant(config);
    expect(all.scope).toBe("authz:check authz:read");
    await expect(jwtVerify(all.access_token, jwks, { issuer: p.url, audience: p.url })).resolves.toBeTruthy();
  });

  it("authenticates private_key_jwt clients (RFC 7523) and lets their token call the platform API", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    const c = await register({
      client_name: "tenant automation",
      token_endpoint_auth_method: "private_key_jwt",
      jwks: { keys: [jwk] },
      scope: "tenant:admin authz:read",
    });
    expect(c.client_secret).toBeUndefined();
    const config = await oidc.discovery(
      issuer,
      c.client_id,
      undefined,
      oidc.PrivateKeyJwt({ key: privateKey, kid: "k1" }),
      insecure,
    );
    const t = await oidc.clientCredentialsGrant(config, { scope: "tenant:admin" });
    const own = await admin("GET", `/admin/v1/tenants/${tenantId}`, undefined, t.access_token);
    expect(own.status).toBe(200);
    const made = await admin(
      "POST",
      `/admin/v1/tenants/${tenantId}/clients`,
      { client_name: "made by token" },
      t.access_token,
    );
    expect(made.status).toBe(201);
  });

  it("exchanges a token for a delegated one with an act claim (RFC 8693)", async () => {
    const svcA = await register({
      client_name: "service A",
      grant_types: [EXCHANGE],
      scope: "authz:check authz:read",
      resources: ["https://b.example.com"],
    });
    const front = await register({
      client_name: "front",
      scope: "authz:check authz:write",
      resources: [svcA.client_id],
    });
    const subject = await oidc.clientCredentialsGrant(await basicClient(front), { audience: svcA.client_id });
    const aConfig = await basicClient(svcA);
    const ex = await oidc.genericGrantRequest(aConfig, EXCHANGE, {
      subject_token: subject.access_token,
      subject_token_type: AT_TYPE,
      resource: "https://b.example.com",
    });
    expect(ex.issued_token_type).toBe(AT_TYPE);
    expect(ex.scope).toBe("authz:check");
    const jwks = createRemoteJWKSet(new URL(`${p.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(ex.access_token, jwks, {
      issuer: p.url,
      audience: "https://b.example.com",
      typ: "at+jwt",
    });
    expect(payload).toMatchObject({
      sub: front.client_id,
      client_id: svcA.client_id,
      act: { sub: svcA.client_id },
      tenant_id: tenantId,
    });
    expect(payload.exp).toBeLessThanOrEqual(
      JSON.parse(Buffer.from(subject.access_token.split(".")[1]!, "base64url").toString()).exp,
    );
  });

  it("introspects (RFC 7662) and revokes (RFC 7009): a revoked token is inactive and refused by the API", async () => {
    const c = await register({ client_name: "ops", scope: "authz:read tenant:admin" });
    const config = await basicClient(c);
    const t = await oidc.clientCredentialsGrant(config);
    const active = await oidc.tokenIntrospection(config, t.access_token);
    expect(active).toMatchObject({
      active: true,
      client_id: c.client_id,
      sub: c.client_id,
      scope: "authz:read tenant:admin",
      token_type: "Bearer",
      iss: p.url,
      tenant_id: tenantId,
    });
    expect((await admin("GET", `/admin/v1/tenants/${tenantId}`, undefined, t.access_token)).status).toBe(200);
    await oidc.tokenRevocation(config, t.access_token);
    expect(await oidc.tokenIntrospection(config, t.access_token)).toEqual({ active: false });
    expect((await admin("GET", `/admin/v1/tenants/${tenantId}`, undefined, t.access_token)).status).toBe(401);
    await oidc.tokenRevocation(config, "not-a-token"); // RFC 7009 §2.2: still 200
  });

  it("a deleted client's or tenant's tokens are refused by the API at once, as its API keys are", async () => {
    const ops = await register({ client_name: "ops", scope: "tenant:admin" });
    const t = await oidc.clientCredentialsGrant(await basicClient(ops));
    const users = `/admin/v1/tenants/${tenantId}/users`;
    expect((await admin("GET", users, undefined, t.access_token)).status).toBe(200);
    expect((await admin("DELETE", `/admin/v1/tenants/${tenantId}/clients/${ops.client_id}`)).status).toBe(
      204,
    );
    expect((await admin("GET", users, undefined, t.access_token)).status).toBe(401);
    // A tenant deleted: its clients' tokens stop working (and a fresh secret cannot be had).
    const other = (await admin("POST", "/admin/v1/tenants", { name: "leaving" })).body.id as string;
    const c = await register({ client_name: "ops", scope: "tenant:admin" }, other);
    const t2 = await oidc.clientCredentialsGrant(await basicClient(c));
    const rotate = `/admin/v1/tenants/${other}/clients/${c.client_id}/secret`;
    expect((await admin("GET", `/admin/v1/tenants/${other}`, undefined, t2.access_token)).status).toBe(200);
    expect((await admin("DELETE", `/admin/v1/tenants/${other}`)).status).toBe(200);
    expect((await admin("GET", `/admin/v1/tenants/${other}`, undefined, t2.access_token)).status).toBe(401);
    expect((await admin("POST", rotate, {}, t2.access_token)).status).toBe(401);
  });

  it("a tenant credential registers clients with no platform scope beyond its own", async () => {
    const ops = await register({ client_name: "ops", scope: "tenant:admin authz:read" });
    const t = await oidc.clientCredentialsGrant(await basicClient(ops));
    const clients = `/admin/v1/tenants/${tenantId}/clients`;
    const registerWith = (scope: string) =>
      admin("POST", clients, { client_name: "x", scope }, t.access_token);
    const escalate = await registerWith("audit:read tenant:admin");
    expect(escalate.status).toBe(403);
    expect(JSON.stringify(escalate.body)).toContain("audit:read");
    // Its own platform scopes, and the tenant's own (non-platform) scopes, are fine.
    const within = await registerWith("authz:read orders:read");
    expect(within.status).toBe(201);
    expect(within.body.scope).toBe("authz:read orders:read");
    // The platform admin (like API keys, which carry every tenant permission) may grant any.
    expect((await admin("POST", clients, { client_name: "z", scope: "audit:read" })).status).toBe(201);
  });

  it("rotates keys: old tokens still verify, new tokens carry the new kid, a verifier with a cached JWKS recovers", async () => {
    const c = await register({ client_name: "rotation", scope: "authz:read" });
    const config = await basicClient(c);
    const jwksUrl = new URL(`${p.url}/.well-known/jwks.json`);
    let fetches = 0;
    const counting = (...args: Parameters<typeof fetch>) => {
      fetches += 1;
      return fetch(...args);
    };
    const opts = { issuer: p.url, audience: p.url, typ: "at+jwt" };
    const before = await oidc.clientCredentialsGrant(config);
    const oldKid = decodeProtectedHeader(before.access_token).kid!;
    // A verifier that cached the JWKS as it was before any rotation.
    const stale = createRemoteJWKSet(jwksUrl, { cooldownDuration: 50, [customFetch]: counting });
    await jwtVerify(before.access_token, stale, opts);

    let rotated = await admin("POST", "/admin/v1/keys/rotate", {});
    if (rotated.body.action === "published") {
      // The ring started with a current key only (KMS bootstrap): the first step published a next
      // key. A verifier that fetches now already has the key that will sign next.
      const warm = createRemoteJWKSet(jwksUrl, { [customFetch]: counting });
      await jwtVerify(before.access_token, warm, opts);
      const n = fetches;
      rotated = await admin("POST", "/admin/v1/keys/rotate", {});
      const t = await oidc.clientCredentialsGrant(config);
      await jwtVerify(t.access_token, warm, opts);
      expect(fetches).toBe(n); // publish before use: no refetch needed
    }
    expect(rotated.status).toBe(200);
    expect(rotated.body.action).toBe("promoted");
    // Key admin responses show public keys and metadata only, never private material.
    expect(JSON.stringify(rotated.body)).not.toMatch(/privateKey|ciphertext|"d":|"material"/);
    const states = Object.fromEntries((rotated.body.keys as Json[]).map((k) => [k.kid, k.state]));
    expect(states[oldKid]).toBe("previous");

    const after = await oidc.clientCredentialsGrant(config);
    const newKid = decodeProtectedHeader(after.access_token).kid!;
    expect(newKid).not.toBe(oldKid);
    expect(states[newKid]).toBe("current");
    await new Promise((r) => setTimeout(r, 60));
    await expect(jwtVerify(after.access_token, stale, opts)).resolves.toBeTruthy(); // refetched on unknown kid
    await expect(jwtVerify(before.access_token, stale, opts)).resolves.toBeTruthy();
    const fresh = createRemoteJWKSet(jwksUrl);
    await expect(jwtVerify(before.access_token, fresh, opts)).resolves.toBeTruthy();
    expect((await oidc.tokenIntrospection(config, before.access_token)).active).toBe(true);
    expect((await admin("GET", `/admin/v1/tenants/${tenantId}`, undefined, before.access_token)).status).toBe(
      200,
    );
  });

  // Mode-specific checks are only defined for the modes they concern.
  if (signer !== "local") {
    it("counts KMS work: kms signs every token in KMS; kms-envelope decrypts once", async () => {
      const c = await register({ client_name: "counter" });
      const config = await basicClient(c);
      const before = { sign: kms!.calls.Sign ?? 0, decrypt: kms!.calls.Decrypt ?? 0 };
      for (let i = 0; i < 5; i++) await oidc.clientCredentialsGrant(config);
      if (signer === "kms") expect((kms!.calls.Sign ?? 0) - before.sign).toBe(5);
      else
        expect([(kms!.calls.Sign ?? 0) - before.sign, (kms!.calls.Decrypt ?? 0) - before.decrypt]).toEqual([
          0, 0,
        ]);
    });
  }

  if (signer === "kms") {
    it("answers 503 temporarily_unavailable when KMS throttles, with nothing internal", async () => {
      const c = await register({ client_name: "throttled" });
      kms!.failNext("Sign", "ThrottlingException", 10);
      const res = await fetch(`${p.url}/oauth/token`, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: "grant_type=client_credentials",
      });
      kms!.failNext("Sign", "ThrottlingException", 0);
      expect(res.status).toBe(503);
      const body = (await res.json()) as Json;
      expect(body.error).toBe("temporarily_unavailable");
      expect(JSON.stringify(body)).not.toMatch(/Throttling|Injected|kms|arn:/i);
    });
  }
});
