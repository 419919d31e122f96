import { beforeEach, describe, expect, it } from "vitest";
import type { HttpRequest } from "../../../src/http/types.ts";
import { MemoryOAuthStore } from "../../../src/oauth/adapters/memory.ts";
import { ClientAuthenticator } from "../../../src/oauth/client-auth.ts";
import { ClientService } from "../../../src/oauth/clients.ts";
import { parseForm } from "../../../src/oauth/form.ts";
import { type TokenResponse, tokenResponseJson } from "../../../src/oauth/grants.ts";
import { ManualClock } from "../../../src/shared/clock.ts";
import { hashSecret, ulidGenerator } from "../../../src/shared/ids.ts";
import { createLogger } from "../../../src/shared/logger.ts";

const log = createLogger({ level: "silent" });

/** A token request authenticated with client_secret_basic. */
const request = (id: string, secret: string): HttpRequest => ({
  method: "POST",
  path: "/oauth/token",
  headers: {
    authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`,
    "content-type": "application/x-www-form-urlencoded",
  },
  query: {},
  body: "grant_type=client_credentials",
  requestId: "r",
  sourceIp: "127.0.0.1",
});

describe("client authentication: the record cache (authCacheMs)", () => {
  let clock: ManualClock;
  let store: MemoryOAuthStore;
  let active: Set<string>;
  let clients: ClientService;
  let auth: ClientAuthenticator;
  let reads: number;
  const authenticate = async (id: string, secret: string) => {
    const req = request(id, secret);
    try {
      return (await auth.authenticate(req, parseForm(req), "https://as/oauth/token", log)).client.clientId;
    } catch (e) {
      return (e as { code?: string }).code ?? "error";
    }
  };

  beforeEach(() => {
    clock = new ManualClock(Date.UTC(2026, 5, 1));
    store = new MemoryOAuthStore();
    reads = 0;
    const getClient = store.getClient.bind(store);
    store.getClient = (id) => {
      reads++;
      return getClient(id);
    };
    active = new Set(["T1"]);
    clients = new ClientService({
      store,
      tenants: { isActive: async (t) => active.has(t) },
      clock,
      ids: ulidGenerator,
      apiAudience: "https://api",
      authCacheMs: 5000,
    });
    auth = new ClientAuthenticator({ clients, replay: store, clock, issuer: "https://as" });
  });

  it("reads a client once per TTL while its secret fits", async () => {
    const { client, secret } = await clients.register("T1", { client_name: "c" });
    for (let i = 0; i < 5; i++) expect(await authenticate(client.clientId, secret!)).toBe(client.clientId);
    expect(reads).toBe(1);
    clock.advance(5001);
    expect(await authenticate(client.clientId, secret!)).toBe(client.clientId);
    expect(reads).toBe(2);
  });

  it("never remembers a failure, and a wrong secret re-reads the store", async () => {
    const { client, secret } = await clients.register("T1", { client_name: "c" });
    expect(await authenticate(client.clientId, "pcs_wrong")).toBe("invalid_client");
    expect(await authenticate(client.clientId, "pcs_wrong")).toBe("invalid_client");
    expect(reads).toBe(2);
    expect(await authenticate(client.clientId, secret!)).toBe(client.clientId);
    expect(await authenticate(client.clientId, "pcs_wrong")).toBe("invalid_client");
    expect(reads).toBe(4);
  });

  it("rotation and deletion through the service take effect at once", async () => {
    const { client, secret } = await clients.register("T1", { client_name: "c" });
    expect(await authenticate(client.clientId, secret!)).toBe(client.clientId);
    const rotated = await clients.rotateSecret("T1", client.clientId);
    expect(await authenticate(client.clientId, secret!)).toBe("invalid_client");
    expect(await authenticate(client.clientId, rotated.secret)).toBe(client.clientId);
    await clients.delete("T1", client.clientId);
    expect(await authenticate(client.clientId, rotated.secret)).toBe("invalid_client");
  });

  it("a change made elsewhere: the new secret works at once, the old one at most authCacheMs", async () => {
    const { client, secret } = await clients.register("T1", { client_name: "c" });
    expect(await authenticate(client.clientId, secret!)).toBe(client.clientId);
    // Another container rotates the secret: only the store sees it.
    const next = "pcs_next-secret";
    await store.updateClient({ ...client, secretHash: hashSecret(next) });
    expect(await authenticate(client.clientId, next)).toBe(client.clientId);
    // The re-read replaced the kept record: the old secret is refused at once here.
    expect(await authenticate(client.clientId, secret!)).toBe("invalid_client");

    // Deleted elsewhere while kept: refused once the record is older than authCacheMs.
    expect(await authenticate(client.clientId, next)).toBe(client.clientId);
    await store.deleteClient("T1", client.clientId);
    clock.advance(4000);
    expect(await authenticate(client.clientId, next)).toBe(client.clientId);
    clock.advance(1001);
    expect(await authenticate(client.clientId, next)).toBe("invalid_client");
  });

  it("checks the tenant on every request", async () => {
    const { client, secret } = await clients.register("T1", { client_name: "c" });
    expect(await authenticate(client.clientId, secret!)).toBe(client.clientId);
    active.delete("T1");
    expect(await authenticate(client.clientId, secret!)).toBe("invalid_client");
  });

  it("keeps at most authCacheEntries records", async () => {
    const small = new ClientService({
      store,
      tenants: { isActive: async () => true },
      clock,
      ids: ulidGenerator,
      apiAudience: "https://api",
      authCacheEntries: 2,
    });
    const fits = () => true;
    const made = [];
    for (let i = 0; i < 3; i++) made.push((await small.register("T1", { client_name: `c${i}` })).client);
    for (const c of made) await small.findActiveFor(c.clientId, fits, undefined);
    reads = 0;
    await small.findActiveFor(made[0]!.clientId, fits, undefined);
    await small.findActiveFor(made[2]!.clientId, fits, undefined);
    expect(reads).toBe(1);
  });

  it("authCacheMs 0 reads the store every time", async () => {
    const uncached = new ClientService({
      store,
      tenants: { isActive: async () => true },
      clock,
      ids: ulidGenerator,
      apiAudience: "https://api",
      authCacheMs: 0,
    });
    const { client } = await uncached.register("T1", { client_name: "c" });
    for (let i = 0; i < 3; i++) await uncached.findActiveFor(client.clientId, () => true, undefined);
    expect(reads).toBe(3);
  });
});

describe("tokenResponseJson", () => {
  const token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl-_";
  it.each<TokenResponse>([
    { access_token: token, token_type: "Bearer", expires_in: 600 },
    { access_token: token, token_type: "Bearer", expires_in: 600, scope: "authz:check tenant:admin" },
    {
      access_token: token,
      token_type: "Bearer",
      expires_in: 60,
      scope: 'a"b\\c',
      issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
    },
    { access_token: 'not"a.jws', token_type: "Bearer", expires_in: 600 },
    { access_token: token, token_type: "Bearer", expires_in: 1.5 },
  ])("is JSON.stringify's text (%#)", (r) => {
    expect(tokenResponseJson(r)).toBe(JSON.stringify(r));
  });
});

describe("PORTCULLIS_CLIENT_AUTH_CACHE_SECONDS", () => {
  it("is 0–60 s, default 5", async () => {
    const { configFromEnv } = await import("../../../functions/_shared/config.ts");
    const env = { PORTCULLIS_ADMIN_KEY: "admin-key-for-client-cache-test" };
    const of = (v?: string) =>
      configFromEnv(v === undefined ? env : { ...env, PORTCULLIS_CLIENT_AUTH_CACHE_SECONDS: v }, {
        issuer: "http://as",
      }).clientAuthCacheSeconds;
    expect(of()).toBe(5);
    expect(of("0")).toBe(0);
    expect(() => of("-1")).toThrow(/PORTCULLIS_CLIENT_AUTH_CACHE_SECONDS/);
    expect(() => of("61")).toThrow(/PORTCULLIS_CLIENT_AUTH_CACHE_SECONDS/);
  });

  it("0 reads the client on every request: a client deleted elsewhere is refused at once", async () => {
    const store = new MemoryOAuthStore();
    const clients = new ClientService({
      store,
      tenants: { isActive: async () => true },
      clock: new ManualClock(Date.UTC(2026, 5, 1)),
      ids: ulidGenerator,
      apiAudience: "https://api",
      authCacheMs: 0,
    });
    const auth = new ClientAuthenticator({
      clients,
      replay: store,
      clock: new ManualClock(0),
      issuer: "https://as",
    });
    const { client, secret } = await clients.register("T1", { client_name: "c" });
    const req = request(client.clientId, secret!);
    const who = () =>
      auth
        .authenticate(req, parseForm(req), "https://as/oauth/token", log)
        .then((r) => r.client.clientId)
        .catch((e: { code?: string }) => e.code ?? "error");
    expect(await who()).toBe(client.clientId);
    await store.deleteClient("T1", client.clientId);
    expect(await who()).toBe("invalid_client");
  });
});
