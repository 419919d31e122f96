/**
 * The check hot path, on the memory store and on DynamoDB Local: with MINIMIZE_LATENCY and a warm
 * cache a check makes NO store call at all (not even the head revision or the latest model);
 * writes in the container invalidate at once (DynamoDB: results are cached again once the commit
 * window has passed); HIGHER_CONSISTENCY and consistency tokens read what they must. Every call the engine and the HTTP layer make on the store is counted by a proxy.
 */
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { beforeEach, describe, expect, it } from "vitest";
import { type LambdaHttpHandler, lambdaHttpHandler } from "../../functions/_shared/lambda.ts";
import { DynamoDbAuthzStore } from "../../src/authz/adapters/dynamodb.ts";
import { MemoryAuthzStore } from "../../src/authz/adapters/memory.ts";
import {
  type AuthzHttp,
  createAuthzHttp,
  DEFAULT_AUTHZ_HTTP_SETTINGS,
  engineOptions,
} from "../../src/authz/http/index.ts";
import { type AuthzStore, createAuthzService } from "../../src/authz/index.ts";
import { createRouter } from "../../src/http/router.ts";
import { ManualClock } from "../../src/shared/clock.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { useDynamoDbTables } from "../support/dynamodb.ts";
import { apiEvent, lambdaContext } from "../support/events.ts";

const TENANT = "01HZZZZZZZZZZZZZZZZZZZZZZZ";

/** Counts every method call made on the store (sync and async). */
function counting(target: AuthzStore): { store: AuthzStore; calls: string[] } {
  const calls: string[] = [];
  const store = new Proxy(target, {
    get(t, prop) {
      const v = Reflect.get(t, prop, t) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return (v as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
  return { store, calls };
}

const tables = useDynamoDbTables();

describe.each(["memory", "dynamodb"] as const)("check hot path and caches (%s store)", (kind) => {
  let clock: ManualClock;
  let calls: string[];
  let api: AuthzHttp;
  let handler: LambdaHttpHandler;
  let storeId: string;
  /**
   * What a cache hit may touch: nothing on DynamoDB; on the memory store, the synchronous,
   * in-process head revision lookup that keeps its cache exact (no I/O, no promise).
   */
  const NO_IO: string[] = kind === "memory" ? ["headRevisionSync"] : [];

  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const r = (await handler(
      apiEvent({
        method: "POST",
        path: `/stores/${storeId}${path}`,
        body,
        headers: { authorization: "Bearer t", ...headers },
      }),
      lambdaContext,
    )) as APIGatewayProxyStructuredResultV2;
    return {
      status: r.statusCode,
      headers: (r.headers ?? {}) as Record<string, string>,
      body: JSON.parse(String(r.body)) as Record<string, unknown>,
    };
  };
  const check = (user: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) =>
    post("/check", { tuple_key: { user, relation: "viewer", object: "doc:1" }, ...extra }, headers);
  /** Moves the clock past the commit window of every write so far (revisions carry real time). */
  const pastCommitWindow = () => clock.set(Date.now() + DEFAULT_AUTHZ_HTTP_SETTINGS.commitWindowMs);
  /** The store calls made by `fn`, background refreshes included. */
  const callsOf = async (fn: () => Promise<unknown>) => {
    calls.length = 0;
    await fn();
    await new Promise((r) => setImmediate(r));
    return [...calls];
  };

  beforeEach(async () => {
    clock = new ManualClock(Date.now());
    const raw =
      kind === "memory"
        ? new MemoryAuthzStore()
        : new DynamoDbAuthzStore(tables.client, (await tables.fresh()).authz);
    const counted = counting(raw);
    calls = counted.calls;
    const settings = DEFAULT_AUTHZ_HTTP_SETTINGS;
    const service = createAuthzService({ store: counted.store, clock, options: engineOptions(settings) });
    const log = createLogger({ level: "silent" });
    api = createAuthzHttp({
      service,
      store: counted.store,
      region: "local",
      tenantIsActive: async () => true,
      authenticator: {
        authenticate: async () => ({
          kind: "tenant",
          tenantId: TENANT,
          credentialId: "c",
          scopes: ["authz:read", "authz:write", "authz:check"],
        }),
      },
      settings,
      clock,
      log,
    });
    handler = lambdaHttpHandler({
      dispatch: createRouter({
        routes: api.routes,
        authenticator: api.authenticator,
        renderError: api.renderError,
      }),
      renderError: api.renderError,
      log,
      bodyLimit: 1024 * 1024,
    });
    storeId = (await service.createStore({ tenantId: TENANT, name: "hot" })).id;
    await service.writeAuthorizationModelDsl(
      storeId,
      "model\n  schema 1.1\ntype user\ntype group\n  relations\n    define member: [user]\ntype doc\n  relations\n    define viewer: [user, group#member]\n",
    );
    expect(
      (
        await post("/write", {
          writes: {
            tuple_keys: [
              { user: "group:g#member", relation: "viewer", object: "doc:1" },
              { user: "user:anne", relation: "member", object: "group:g" },
            ],
          },
        })
      ).status,
    ).toBe(200);
    // Past the commit window no older revision can still land: results may be cached.
    pastCommitWindow();
  });

  it("a warm MINIMIZE_LATENCY check makes no store call at all", async () => {
    const first = await callsOf(() => check("user:anne"));
    expect(first.length).toBeGreaterThan(0);
    for (const headers of [{}, {}]) {
      let r: Awaited<ReturnType<typeof check>> | undefined;
      const warm = await callsOf(async () => {
        r = await check("user:anne", headers);
      });
      expect(warm).toEqual(NO_IO);
      expect(r?.body).toEqual({ allowed: true, resolution: "" });
      expect(r?.headers["x-portcullis-check-cache"]).toBe("hit");
    }
    expect(await callsOf(() => check("user:anne", {}, { consistency: "MINIMIZE_LATENCY" }))).toEqual(NO_IO);
    // Batch-check answers from the same cache.
    expect(
      await callsOf(() =>
        post("/batch-check", {
          checks: [
            { tuple_key: { user: "user:anne", relation: "viewer", object: "doc:1" }, correlation_id: "x" },
          ],
        }),
      ),
    ).toEqual(NO_IO);
    const m = api.metrics.snapshot();
    expect(m.check_cache_hits).toBeGreaterThanOrEqual(4);
    expect(m.check_cache_misses).toBeGreaterThanOrEqual(1);
  });

  it("a write in the container invalidates; its token is served from the cache once warm", async () => {
    expect((await check("user:bob")).body.allowed).toBe(false);
    expect((await check("user:bob")).headers["x-portcullis-check-cache"]).toBe("hit");
    const w = await post("/write", {
      writes: { tuple_keys: [{ user: "user:bob", relation: "member", object: "group:g" }] },
    });
    const token = { "x-portcullis-consistency-token": w.headers["x-portcullis-consistency-token"]! };
    const fresh = await check("user:bob");
    expect(fresh.body.allowed).toBe(true);
    // Right after a write the DynamoDB store's head is inside the commit window: computed, not cached.
    expect(fresh.headers["x-portcullis-check-cache"]).toBe(kind === "memory" ? "miss" : "bypass");
    pastCommitWindow();
    const after = await check("user:bob");
    expect(after.body.allowed).toBe(true);
    expect(after.headers["x-portcullis-check-cache"]).toBe(kind === "memory" ? "hit" : "miss");
    // The container knows a revision at least as new as the token: no head read, cache hit.
    let r: Awaited<ReturnType<typeof check>> | undefined;
    const withToken = await callsOf(async () => {
      r = await check("user:bob", token);
    });
    expect(withToken).toEqual(NO_IO);
    expect(r?.body.allowed).toBe(true);
  });

  it("HIGHER_CONSISTENCY bypasses the check cache and reads the latest model", async () => {
    await check("user:anne");
    const strong = await callsOf(() => check("user:anne", {}, { consistency: "HIGHER_CONSISTENCY" }));
    expect(strong).toContain("listModels");
    expect(strong.some((c) => c !== "listModels")).toBe(true);
  });

  it("contextual tuples bypass the cache", async () => {
    const ctx = {
      contextual_tuples: { tuple_keys: [{ user: "user:carl", relation: "member", object: "group:g" }] },
    };
    expect((await check("user:carl", {}, ctx)).headers["x-portcullis-check-cache"]).toBe("bypass");
    expect((await check("user:carl", {}, ctx)).body.allowed).toBe(true);
    expect((await check("user:carl")).body.allowed).toBe(false);
  });

  // Only a store without a synchronous head keeps a revision that can go stale.
  if (kind === "dynamodb") {
    it("refreshes the store revision in the background once it is older than its TTL", async () => {
      await check("user:anne");
      clock.advance(DEFAULT_AUTHZ_HTTP_SETTINGS.revisionTtlMs + 1);
      let r: Awaited<ReturnType<typeof check>> | undefined;
      const stale = await callsOf(async () => {
        r = await check("user:anne");
      });
      // Served from the cache; one background read of the head revision and the latest model.
      expect(r?.headers["x-portcullis-check-cache"]).toBe("hit");
      expect(stale.sort()).toEqual(["headRevision", "listModels"]);
      await new Promise((r) => setTimeout(r, 300)); // let the background reads finish
      // Past the stale bound the request waits for the reads.
      clock.advance(DEFAULT_AUTHZ_HTTP_SETTINGS.maxStaleMs + 1);
      const cold = await callsOf(() => check("user:anne"));
      expect(cold).toContain("headRevision");
    });
  }
});
