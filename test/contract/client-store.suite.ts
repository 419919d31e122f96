/**
 * The OAuth store contract (clients, assertion replay cache, revocation list): every adapter runs
 * this suite, and any difference between them is a bug.
 */
import { describe, expect, it } from "vitest";
import type { OAuthClient } from "../../src/oauth/model.ts";
import type { ClientStore, ReplayCache, RevocationList } from "../../src/oauth/ports.ts";
import { DomainError } from "../../src/shared/errors.ts";
import { ulidGenerator } from "../../src/shared/ids.ts";

export type OAuthStore = ClientStore & ReplayCache & RevocationList;
/** Makes an EMPTY store for one test. */
export type MakeOAuthStore = () => OAuthStore | Promise<OAuthStore>;

// In the future: DynamoDB Local deletes items whose TTL attribute (`expires_at`) has passed, within
// seconds, which would race the assertions.
const T0 = Date.UTC(2099, 0, 1);
const tenantId = () => ulidGenerator.ulid();

function client(tenant: string, extra: Partial<OAuthClient> = {}): OAuthClient {
  return {
    clientId: `pcc_${ulidGenerator.ulid()}`,
    tenantId: tenant,
    clientName: "billing",
    grantTypes: ["client_credentials"],
    redirectUris: [],
    tokenEndpointAuthMethod: "client_secret_basic",
    scope: ["authz:check", "authz:read"],
    resources: ["https://api.example.com"],
    secretHash: "c2VjcmV0LWhhc2g",
    accessTokenLifetime: 600,
    createdAt: T0,
    ...extra,
  };
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DomainError);
  return (e as DomainError).code;
}

export function describeOAuthStore(name: string, make: MakeOAuthStore): void {
  describe(`ClientStore contract (${name})`, () => {
    it("creates and gets clients with every field, including private_key_jwt JWKS", async () => {
      const s = await make();
      const a = client(tenantId());
      const b = client(a.tenantId, {
        tokenEndpointAuthMethod: "private_key_jwt",
        jwks: [{ kty: "EC", crv: "P-256", x: "eA", y: "eQ", kid: "k1" }],
        grantTypes: ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
        redirectUris: ["https://app.example.com/cb"],
        updatedAt: T0 + 5,
      });
      const { secretHash: _omit, ...noSecret } = b;
      await s.createClient(a);
      await s.createClient(noSecret);
      expect(await s.getClient(a.clientId)).toEqual(a);
      expect(await s.getClient(b.clientId)).toEqual(noSecret);
      expect(await s.getClient("pcc_01JNOSUCHCLIENT0000000000")).toBeUndefined();
    });

    it("refuses a second client with the same id", async () => {
      const s = await make();
      const a = client(tenantId());
      await s.createClient(a);
      expect(await code(s.createClient({ ...a, clientName: "other" }))).toBe("conflict");
      expect((await s.getClient(a.clientId))?.clientName).toBe("billing");
    });

    it("lists a tenant's clients oldest first across pages, and no other tenant's", async () => {
      const s = await make();
      const t = tenantId();
      const mine: OAuthClient[] = [];
      for (let i = 0; i < 5; i++) {
        const c = client(t, { clientName: `c${i}` });
        mine.push(c);
        await s.createClient(c);
      }
      await s.createClient(client(tenantId()));
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await s.listClients(t, { limit: 2, ...(cursor ? { cursor } : {}) });
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((c) => c.clientName));
        cursor = page.cursor;
      } while (cursor);
      expect(seen).toEqual(["c0", "c1", "c2", "c3", "c4"]);
      expect((await s.listClients(tenantId(), { limit: 10 })).items).toEqual([]);
    });

    it("updates and deletes only within the client's tenant", async () => {
      const s = await make();
      const a = client(tenantId());
      await s.createClient(a);
      const other = tenantId();
      expect(await code(s.updateClient({ ...a, tenantId: other, clientName: "x" }))).toBe("not_found");
      expect(await code(s.deleteClient(other, a.clientId))).toBe("not_found");
      await s.updateClient({ ...a, secretHash: "bmV3", updatedAt: T0 + 1 });
      expect((await s.getClient(a.clientId))?.secretHash).toBe("bmV3");
      await s.deleteClient(a.tenantId, a.clientId);
      expect(await s.getClient(a.clientId)).toBeUndefined();
      expect(await code(s.deleteClient(a.tenantId, a.clientId))).toBe("not_found");
      expect(await code(s.updateClient(a))).toBe("not_found");
    });
  });

  describe(`ReplayCache contract (${name})`, () => {
    it("accepts a key once until it expires, then again", async () => {
      const s = await make();
      const key = `pcc_x:${ulidGenerator.ulid()}`;
      expect(await s.useOnce(key, T0 + 60_000, T0)).toBe(true);
      expect(await s.useOnce(key, T0 + 60_000, T0 + 1)).toBe(false);
      expect(await s.useOnce(key, T0 + 90_000, T0 + 59_999)).toBe(false);
      expect(await s.useOnce(key, T0 + 120_000, T0 + 60_000)).toBe(true);
      expect(await s.useOnce(`${key}-other`, T0 + 60_000, T0)).toBe(true);
    });

    it("lets exactly one of concurrent uses of a key through", async () => {
      const s = await make();
      const key = `pcc_y:${ulidGenerator.ulid()}`;
      const results = await Promise.all(Array.from({ length: 8 }, () => s.useOnce(key, T0 + 60_000, T0)));
      expect(results.filter(Boolean).length).toBe(1);
    });
  });

  describe(`RevocationList contract (${name})`, () => {
    it("reports revoked tokens until their expiry, idempotently", async () => {
      const s = await make();
      const jti = ulidGenerator.ulid();
      expect(await s.isRevoked(jti, T0)).toBe(false);
      await s.revoke(jti, T0 + 600_000);
      await s.revoke(jti, T0 + 600_000);
      expect(await s.isRevoked(jti, T0)).toBe(true);
      expect(await s.isRevoked(jti, T0 + 599_999)).toBe(true);
      expect(await s.isRevoked(jti, T0 + 600_000)).toBe(false);
      expect(await s.isRevoked(ulidGenerator.ulid(), T0)).toBe(false);
    });
  });
}
