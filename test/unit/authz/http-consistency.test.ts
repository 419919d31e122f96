/**
 * Consistency tokens across regions, with two memory stores standing in for two replicas of a
 * global table: region eu-west-1 takes the write, us-east-1's replica has not received it yet.
 * A region whose replica lags a token must never answer from it: it asks the writing region (a
 * configured peer), or waits and then refuses with a retryable 503.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { MemoryAuthzStore } from "../../../src/authz/adapters/memory.ts";
import {
  createAuthzHttp,
  DEFAULT_AUTHZ_HTTP_SETTINGS,
  engineOptions,
} from "../../../src/authz/http/index.ts";
import { type AuthzService, type AuthzStore, createAuthzService } from "../../../src/authz/index.ts";
import { createRouter, type Dispatch } from "../../../src/http/router.ts";
import type { HttpRequest } from "../../../src/http/types.ts";
import { ManualClock } from "../../../src/shared/clock.ts";
import { createLogger } from "../../../src/shared/logger.ts";

const TENANT = "01HZZZZZZZZZZZZZZZZZZZZZZZ";
const log = createLogger({ level: "silent" });
const TK = { user: "user:anne", relation: "viewer", object: "doc:1" };

interface Region {
  readonly store: MemoryAuthzStore;
  readonly service: AuthzService;
}

describe("consistency tokens across regions", () => {
  let clock: ManualClock;
  let eu: Region;
  let us: Region;
  let storeId: string;
  let sleeps: number;

  const region = (): Region => {
    const store = new MemoryAuthzStore();
    return {
      store,
      service: createAuthzService({ store, clock, options: engineOptions(DEFAULT_AUTHZ_HTTP_SETTINGS) }),
    };
  };
  const api = (
    name: string,
    r: Region,
    settings: Partial<typeof DEFAULT_AUTHZ_HTTP_SETTINGS> = {},
  ): Dispatch => {
    const a = createAuthzHttp({
      service: r.service,
      store: r.store,
      region: name,
      peer: (p) => (p === "eu-west-1" ? eu.service : undefined),
      tenantIsActive: async () => true,
      authenticator: {
        authenticate: async () => ({
          kind: "tenant",
          tenantId: TENANT,
          credentialId: "c",
          scopes: ["authz:read", "authz:write", "authz:check"],
        }),
      },
      settings: { ...DEFAULT_AUTHZ_HTTP_SETTINGS, ...settings },
      clock,
      log,
      sleep: async (ms) => {
        sleeps++;
        clock.advance(ms);
      },
    });
    return createRouter({ routes: a.routes, authenticator: a.authenticator, renderError: a.renderError });
  };
  const request = (path: string, body: unknown, headers: Record<string, string> = {}): HttpRequest => ({
    method: "POST",
    path: `/stores/${storeId}${path}`,
    headers: { authorization: "Bearer x", ...headers },
    query: {},
    body: JSON.stringify(body),
    requestId: "r",
    sourceIp: "127.0.0.1",
  });
  const call = async (d: Dispatch, path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await d(request(path, body, headers), log);
    return {
      status: res.statusCode,
      headers: res.headers ?? {},
      body: JSON.parse(res.body ?? "{}") as Record<string, unknown>,
    };
  };

  beforeEach(async () => {
    // Revisions are ULIDs of the real time; the settle window compares them with this clock.
    clock = new ManualClock(Date.now());
    sleeps = 0;
    eu = region();
    us = region();
    // The store and its model exist in both replicas (replicated long ago).
    const s = await eu.service.createStore({ tenantId: TENANT, name: "global" });
    storeId = s.id;
    await us.store.createStore(s);
    const { authorizationModelId } = await eu.service.writeAuthorizationModelDsl(
      storeId,
      "model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define viewer: [user]\n",
    );
    const usPort: AuthzStore = us.store;
    await usPort.writeModel(
      storeId,
      await eu.service.readAuthorizationModel(storeId, authorizationModelId),
      clock.now(),
    );
  });

  /** Writes the tuple in eu-west-1 and returns its token. */
  const writeInEu = async () => {
    const w = await call(api("eu-west-1", eu), "/write", { writes: { tuple_keys: [TK] } });
    expect(w.status).toBe(200);
    return w.headers["x-portcullis-consistency-token"]!;
  };
  /** Delivers the eu write to the us replica (same revision). */
  const replicate = async (token: string) => {
    const revision = token.split(".")[3]!;
    await us.store.write(
      storeId,
      { writes: [TK], deletes: [], onDuplicate: "error", onMissing: "error" },
      clock.now(),
      () => revision,
    );
  };

  it("the token names the store, the writing region and the revision", async () => {
    const token = await writeInEu();
    expect(token).toMatch(
      new RegExp(`^pct1\\.${storeId}\\.eu-west-1\\.[0-9A-HJKMNP-TV-Z]{26}\\.[0-9A-HJKMNP-TV-Z]{26}$`),
    );
    expect(token.split(".")[3]).toBe(await eu.store.headRevision(storeId));
  });

  it("without a token, a lagging replica answers from what it has (MINIMIZE_LATENCY)", async () => {
    await writeInEu();
    expect((await call(api("us-east-1", us), "/check", { tuple_key: TK })).body.allowed).toBe(false);
  });

  it("with a configured peer, a lagging region asks the writing region", async () => {
    const token = await writeInEu();
    const r = await call(
      api("us-east-1", us, { peerRegions: ["eu-west-1"] }),
      "/check",
      { tuple_key: TK },
      { "x-portcullis-consistency-token": token },
    );
    expect(r.body).toEqual({ allowed: true, resolution: "" });
    expect(r.headers["x-portcullis-check-cache"]).toBe("bypass");
  });

  it("without a peer or settle window it refuses with 503 at once, never stale", async () => {
    const token = await writeInEu();
    const r = await call(
      api("us-east-1", us),
      "/check",
      { tuple_key: TK },
      { "x-portcullis-consistency-token": token },
    );
    expect(r.status).toBe(503);
    expect(r.body.code).toBe("unavailable");
    expect(r.headers["retry-after"]).toBe("1");
    // Even after the replica caught up: nothing local proves a global table replica is complete.
    await replicate(token);
    expect(
      (
        await call(
          api("us-east-1", us),
          "/check",
          { tuple_key: TK },
          { "x-portcullis-consistency-token": token },
        )
      ).status,
    ).toBe(503);
  });

  it("with a settle window, it waits for the token's change to arrive, then answers locally", async () => {
    const token = await writeInEu();
    const us1 = api("us-east-1", us, { replicaSettleMs: 100, replicaWaitMs: 500 });
    // The change never arrives within the wait: refused after waiting.
    const refused = await call(us1, "/check", { tuple_key: TK }, { "x-portcullis-consistency-token": token });
    expect(refused.status).toBe(503);
    expect(sleeps).toBeGreaterThan(1);
    // Once replicated (and older than the settle window) the replica answers, and sees the write.
    await replicate(token);
    const ok = await call(us1, "/check", { tuple_key: TK }, { "x-portcullis-consistency-token": token });
    expect(ok.body.allowed).toBe(true);
  });

  it("a token of the same region is served locally; a token from the future waits, then refuses", async () => {
    const token = await writeInEu();
    expect(
      (
        await call(
          api("eu-west-1", eu),
          "/check",
          { tuple_key: TK },
          { "x-portcullis-consistency-token": token },
        )
      ).body.allowed,
    ).toBe(true);
    const future = `pct1.${storeId}.eu-west-1.7ZZZZZZZZZZZZZZZZZZZZZZZZZ.`;
    const r = await call(
      api("eu-west-1", eu),
      "/check",
      { tuple_key: TK },
      { "x-portcullis-consistency-token": future },
    );
    expect(r.status).toBe(503);
    expect(sleeps).toBeGreaterThan(0);
  });

  it("tokens are bound to their store and must be well formed", async () => {
    const token = await writeInEu();
    const other = token.replace(storeId, "01ARZ3NDEKTSV4RRFFQ69G5FAV");
    for (const t of [other, "pct1.x", `pct2.${token.slice(5)}`, `${token}.extra`]) {
      const r = await call(
        api("eu-west-1", eu),
        "/check",
        { tuple_key: TK },
        { "x-portcullis-consistency-token": t },
      );
      expect({ status: r.status, code: r.body.code }).toEqual({ status: 400, code: "validation_error" });
    }
  });

  it("read, read-changes, expand and list-objects honour tokens too", async () => {
    const token = await writeInEu();
    const h = { "x-portcullis-consistency-token": token };
    const peered = api("us-east-1", us, { peerRegions: ["eu-west-1"] });
    expect(((await call(peered, "/read", {}, h)).body.tuples as unknown[]).length).toBe(1);
    expect(
      (await call(peered, "/list-objects", { type: "doc", relation: "viewer", user: "user:anne" }, h)).body
        .objects,
    ).toEqual(["doc:1"]);
    expect((await call(api("us-east-1", us), "/read", {}, h)).status).toBe(503);
  });
});
