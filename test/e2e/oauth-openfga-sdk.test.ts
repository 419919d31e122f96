/**
 * The OpenFGA SDK's client-credentials login against our token endpoint: it posts to
 * `<apiTokenIssuer>/oauth/token` with `client_secret_post` (or a `private_key_jwt` assertion whose
 * `aud` has a trailing slash) and an `audience` parameter. The tokens it gets work on our API.
 */
import { generateKeyPairSync } from "node:crypto";
import { Credentials, CredentialsMethod, TelemetryConfiguration } from "@openfga/sdk";
import { createRemoteJWKSet, exportJWK, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalPlatform, startLocalPlatform } from "../../functions/_shared/platform.ts";
import { createLogger } from "../../src/shared/logger.ts";

const ADMIN = "admin-key-for-openfga-sdk";

describe("OpenFGA SDK client credentials against /oauth/token", () => {
  let p: LocalPlatform;
  let tenantId: string;
  const admin = async (method: string, path: string, body?: unknown, key = ADMIN) => {
    const res = await fetch(`${p.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  };
  const tokenOf = async (creds: Credentials) => {
    const header = await creds.getAccessTokenHeader();
    expect(header?.name).toBe("Authorization");
    return header!.value.replace(/^Bearer /, "");
  };

  beforeAll(async () => {
    p = await startLocalPlatform({
      env: { PORTCULLIS_ADMIN_KEY: ADMIN, PORTCULLIS_LOG_LEVEL: "silent" },
      port: 0,
      seed: false,
      log: createLogger({ level: "silent" }),
    });
    tenantId = (await admin("POST", "/admin/v1/tenants", { name: "fga" })).body.id!;
  });
  afterAll(async () => {
    await p?.close();
  });

  it("logs in with client_secret_post and an audience; the token authenticates on the platform API", async () => {
    const c = (
      await admin("POST", `/admin/v1/tenants/${tenantId}/clients`, {
        client_name: "fga sdk",
        token_endpoint_auth_method: "client_secret_post",
        scope: "authz:check authz:read",
      })
    ).body;
    const creds = new Credentials(
      {
        method: CredentialsMethod.ClientCredentials,
        config: {
          apiTokenIssuer: p.url,
          apiAudience: p.url,
          clientId: c.client_id!,
          clientSecret: c.client_secret!,
        },
      },
      undefined,
      new TelemetryConfiguration(),
    );
    const token = await tokenOf(creds);
    const { payload } = await jwtVerify(
      token,
      createRemoteJWKSet(new URL(`${p.url}/.well-known/jwks.json`)),
      {
        issuer: p.url,
        audience: p.url,
        typ: "at+jwt",
      },
    );
    expect(payload).toMatchObject({
      client_id: c.client_id,
      tenant_id: tenantId,
      scope: "authz:check authz:read",
    });
    expect((await admin("GET", `/admin/v1/tenants/${tenantId}`, undefined, token)).status).toBe(200);
  });

  it("logs in with a private_key_jwt assertion (RS256, aud with a trailing slash)", async () => {
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const c = (
      await admin("POST", `/admin/v1/tenants/${tenantId}/clients`, {
        client_name: "fga sdk jwt",
        token_endpoint_auth_method: "private_key_jwt",
        jwks: { keys: [await exportJWK(publicKey)] },
        scope: "authz:check",
      })
    ).body;
    const creds = new Credentials(
      {
        method: CredentialsMethod.ClientCredentials,
        config: {
          apiTokenIssuer: p.url,
          apiAudience: p.url,
          clientId: c.client_id!,
          clientAssertionSigningKey: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
        },
      },
      undefined,
      new TelemetryConfiguration(),
    );
    const token = await tokenOf(creds);
    expect((await admin("GET", `/admin/v1/tenants/${tenantId}`, undefined, token)).status).toBe(200);
  });
});
