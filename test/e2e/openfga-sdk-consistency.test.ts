/**
 * Consistency tokens across containers and regions, through the OpenFGA SDK, on DynamoDB Local:
 * several local platforms share one set of tables, the way Lambda containers (and, with a region
 * each, the replicas of a global table) share them. Caches are on everywhere.
 */
import { ConsistencyPreference, CredentialsMethod, OpenFgaClient } from "@openfga/sdk";
import { transformer } from "@openfga/syntax-transformer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalPlatform, startLocalPlatform } from "../../functions/_shared/platform.ts";
import { deleteTables } from "../../src/shared/dynamodb.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { tableNames } from "../../src/shared/tables.ts";
import { dynamoDbEndpoint } from "../support/dynamodb.ts";

const ADMIN = "admin-key-openfga-consistency";
const TOKEN_HEADER = "x-portcullis-consistency-token";
const MODEL = transformer.transformDSLToJSONObject(`model
  schema 1.1

type user

type document
  relations
    define viewer: [user]
`) as unknown as Parameters<OpenFgaClient["writeAuthorizationModel"]>[0];

describe("consistency tokens across containers and regions (DynamoDB Local, caches on)", () => {
  const prefix = `fgac-${Date.now().toString(36)}`;
  const platforms: LocalPlatform[] = [];
  let writer: LocalPlatform; // eu-west-1, container 1
  let sibling: LocalPlatform; // eu-west-1, container 2
  let peered: LocalPlatform; // us-east-1, eu-west-1 configured as peer
  let isolated: LocalPlatform; // us-east-1, no peer, strict
  let settled: LocalPlatform; // us-east-1, no peer, trusts its replica after 200 ms
  let apiKey: string;
  let storeId: string;
  let modelId: string;

  const start = async (env: NodeJS.ProcessEnv) => {
    const p = await startLocalPlatform({
      env: {
        PORTCULLIS_ADMIN_KEY: ADMIN,
        PORTCULLIS_STORE: "dynamodb",
        PORTCULLIS_DYNAMODB_ENDPOINT: dynamoDbEndpoint(),
        PORTCULLIS_TABLE_PREFIX: prefix,
        // Long enough that a MINIMIZE_LATENCY answer is visibly cached across the test.
        PORTCULLIS_AUTHZ_REVISION_TTL_MS: "60000",
        PORTCULLIS_AUTHZ_MAX_STALE_MS: "60000",
        PORTCULLIS_AUTHZ_REPLICA_WAIT_MS: "300",
        // Short, so the test can wait it out: results are cached once the head is this old.
        PORTCULLIS_AUTHZ_COMMIT_WINDOW_MS: "300",
        ...env,
      },
      port: 0,
      seed: false,
      log: createLogger({ level: "silent" }),
    });
    platforms.push(p);
    return p;
  };
  const sdk = (p: LocalPlatform) =>
    new OpenFgaClient({
      apiUrl: p.url,
      storeId,
      authorizationModelId: modelId,
      credentials: { method: CredentialsMethod.ApiToken, config: { token: apiKey } },
      retryParams: { maxRetry: 0 },
    });
  const rawCheck = async (p: LocalPlatform, tk: object, headers: Record<string, string> = {}) => {
    const res = await fetch(`${p.url}/stores/${storeId}/check`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", ...headers },
      body: JSON.stringify({ tuple_key: tk }),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    writer = await start({ PORTCULLIS_REGION: "eu-west-1" });
    sibling = await start({ PORTCULLIS_REGION: "eu-west-1" });
    peered = await start({ PORTCULLIS_REGION: "us-east-1", PORTCULLIS_AUTHZ_PEER_REGIONS: "eu-west-1" });
    isolated = await start({ PORTCULLIS_REGION: "us-east-1" });
    settled = await start({ PORTCULLIS_REGION: "us-east-1", PORTCULLIS_AUTHZ_REPLICA_SETTLE_MS: "200" });
    const adminCall = async (path: string, body: unknown) =>
      (await (
        await fetch(`${writer.url}${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        })
      ).json()) as Record<string, string>;
    const tenant = await adminCall("/admin/v1/tenants", { name: "acme" });
    apiKey = (await adminCall(`/admin/v1/tenants/${tenant.id}/api-keys`, {})).key!;
    const c = new OpenFgaClient({
      apiUrl: writer.url,
      credentials: { method: CredentialsMethod.ApiToken, config: { token: apiKey } },
    });
    storeId = (await c.createStore({ name: "consistency" })).id;
    modelId = (await c.writeAuthorizationModel(MODEL, { storeId })).authorization_model_id;
  });
  afterAll(async () => {
    const client = writer?.container.dynamodb;
    if (client) await deleteTables(client, tableNames(prefix));
    for (const p of platforms) await p.close();
  });

  it("another container of the same region: MINIMIZE_LATENCY may be stale, the token never is", async () => {
    const tk = { user: "user:anne", relation: "viewer", object: "document:1" };
    expect((await sdk(sibling).check(tk)).allowed).toBe(false);
    expect((await rawCheck(sibling, tk)).headers.get("x-portcullis-check-cache")).toBe("hit");

    const w = await fetch(`${writer.url}/stores/${storeId}/write`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ writes: { tuple_keys: [tk] } }),
    });
    const token = w.headers.get(TOKEN_HEADER)!;
    expect(token).toMatch(new RegExp(`^pct1\\.${storeId}\\.eu-west-1\\.[0-9A-Z]{26}\\.${modelId}$`));

    // The sibling's cached answer is within its revision TTL: MINIMIZE_LATENCY allows it.
    expect((await sdk(sibling).check(tk)).allowed).toBe(false);
    // With the token it reads the store's head once, sees it is behind, and answers from the write on.
    expect((await sdk(sibling).check(tk, { headers: { [TOKEN_HEADER]: token } })).allowed).toBe(true);
    // Inside the commit window the result is computed, not cached; after it, cached.
    expect(
      (await rawCheck(sibling, tk, { [TOKEN_HEADER]: token })).headers.get("x-portcullis-check-cache"),
    ).toBe("bypass");
    await new Promise((r) => setTimeout(r, 350));
    expect(
      (await rawCheck(sibling, tk, { [TOKEN_HEADER]: token })).headers.get("x-portcullis-check-cache"),
    ).toBe("miss");
    const cached = await rawCheck(sibling, tk, { [TOKEN_HEADER]: token });
    expect(cached.body.allowed).toBe(true);
    expect(cached.headers.get("x-portcullis-check-cache")).toBe("hit");
    // Having seen the newer revision, its MINIMIZE_LATENCY answers moved on too.
    expect((await sdk(sibling).check(tk)).allowed).toBe(true);
    expect(
      (await sdk(sibling).check(tk, { consistency: ConsistencyPreference.HigherConsistency })).allowed,
    ).toBe(true);
    // The writer's own container invalidated its cache at once.
    expect((await sdk(writer).check(tk)).allowed).toBe(true);
  });

  it("another region: falls back to the writing region, or refuses (503), never answers stale", async () => {
    const tk = { user: "user:beth", relation: "viewer", object: "document:2" };
    for (const p of [peered, isolated, settled]) expect((await sdk(p).check(tk)).allowed).toBe(false);

    const w = await fetch(`${writer.url}/stores/${storeId}/write`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ writes: { tuple_keys: [tk] } }),
    });
    const token = w.headers.get(TOKEN_HEADER)!;
    const withToken = { [TOKEN_HEADER]: token };

    // A configured peer: the query runs on the writing region's replica.
    expect((await sdk(peered).check(tk, { headers: withToken })).allowed).toBe(true);
    expect(
      peered.container.authzApi.metrics.snapshot().replica_fallback_writer_region,
    ).toBeGreaterThanOrEqual(1);

    // No peer and no settle window: it cannot prove its replica has the write, so it refuses.
    const refused = await rawCheck(isolated, tk, withToken);
    expect(refused.status).toBe(503);
    expect(refused.body).toEqual({ code: "unavailable", message: expect.stringContaining("eu-west-1") });
    expect(refused.headers.get("retry-after")).toBe("1");

    // A settle window: once the token's change is in this region's changelog and old enough.
    const settledAnswer = await rawCheck(settled, tk, withToken);
    expect(settledAnswer.status).toBe(200);
    expect(settledAnswer.body.allowed).toBe(true);
    const m = settled.container.authzApi.metrics.snapshot();
    expect((m.replica_local_after_wait ?? 0) + (m.replica_local_after_settle ?? 0)).toBe(1);
  });

  it("a token naming a revision this region never saw waits, then refuses", async () => {
    const tk = { user: "user:carl", relation: "viewer", object: "document:3" };
    const future = `pct1.${storeId}.eu-west-1.7ZZZZZZZZZZZZZZZZZZZZZZZZZ.`;
    const r = await rawCheck(sibling, tk, { [TOKEN_HEADER]: future });
    expect(r.status).toBe(503);
    expect(r.body.code).toBe("unavailable");
  });
});
