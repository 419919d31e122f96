/**
 * List-objects at OpenFGA's limits: the deadline and the result cap truncate the list (as upstream,
 * not an error); Portcullis says so in a header and in extra body fields, and its continuation
 * token picks up where the list stopped. Time is a manual clock that the store advances on every
 * reverse-index read, so "slow" is deterministic.
 */
import { describe, expect, it } from "vitest";
import { MemoryAuthzStore } from "../../../src/authz/adapters/memory.ts";
import {
  createAuthzHttp,
  DEFAULT_AUTHZ_HTTP_SETTINGS,
  engineOptions,
} from "../../../src/authz/http/index.ts";
import { type AuthzStore, createAuthzService } from "../../../src/authz/index.ts";
import { createRouter } from "../../../src/http/router.ts";
import { ManualClock } from "../../../src/shared/clock.ts";
import { createLogger } from "../../../src/shared/logger.ts";

const TENANT = "01HZZZZZZZZZZZZZZZZZZZZZZZ";
const log = createLogger({ level: "silent" });
const DSL = `model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
type doc
  relations
    define viewer: [user, group#member]
`;

async function setup(settings: Partial<typeof DEFAULT_AUTHZ_HTTP_SETTINGS>, slowMs = 0) {
  const clock = new ManualClock(Date.now());
  const raw = new MemoryAuthzStore();
  // Every reverse lookup (sync or batched) costs `slowMs` of the clock.
  const store = new Proxy(raw, {
    get(t, prop) {
      const v = Reflect.get(t, prop, t) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (prop === "readByUsers" || prop === "readByUsersSync") clock.advance(slowMs);
        return (v as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  }) as AuthzStore;
  const s = { ...DEFAULT_AUTHZ_HTTP_SETTINGS, ...settings };
  const service = createAuthzService({ store, clock, options: engineOptions(s) });
  const api = createAuthzHttp({
    service,
    store,
    region: "local",
    tenantIsActive: async () => true,
    authenticator: {
      authenticate: async () => ({
        kind: "tenant",
        tenantId: TENANT,
        credentialId: "c",
        scopes: ["authz:check"],
      }),
    },
    settings: s,
    clock,
    log,
  });
  const dispatch = createRouter({
    routes: api.routes,
    authenticator: api.authenticator,
    renderError: api.renderError,
  });
  const storeId = (await service.createStore({ tenantId: TENANT, name: "lists" })).id;
  await service.writeAuthorizationModelDsl(storeId, DSL);
  const call = async (path: string, body: unknown) => {
    const res = await dispatch(
      {
        method: "POST",
        path: `/stores/${storeId}${path}`,
        headers: { authorization: "Bearer x" },
        query: {},
        body: JSON.stringify(body),
        requestId: "r",
        sourceIp: "",
      },
      log,
    );
    return { status: res.statusCode, headers: res.headers ?? {}, text: res.body ?? "" };
  };
  return { service, storeId, call };
}

describe("list-objects limits", () => {
  it("reports the deadline and returns what it found", async () => {
    const { service, storeId, call } = await setup({ listDeadlineMs: 3000 }, 2000);
    await service.write({
      storeId,
      writes: {
        tupleKeys: [
          { user: "user:anne", relation: "viewer", object: "doc:d0" },
          { user: "user:anne", relation: "member", object: "group:a" },
          { user: "group:a#member", relation: "member", object: "group:b" },
          { user: "group:a#member", relation: "viewer", object: "doc:d1" },
          { user: "group:b#member", relation: "viewer", object: "doc:d2" },
        ],
      },
    });
    const r = await call("/list-objects", { type: "doc", relation: "viewer", user: "user:anne" });
    expect(r.status).toBe(200);
    const body = JSON.parse(r.text) as {
      objects: string[];
      truncated_by?: string;
      continuation_token?: string;
    };
    expect(r.headers["x-portcullis-truncated"]).toBe("deadline");
    expect(body.truncated_by).toBe("deadline");
    expect(body.objects.length).toBeGreaterThan(0);
    expect(body.objects).not.toContain("doc:d2");
    // No continuation for a deadline cut: the same search would stop at the same place again.
    expect(body.continuation_token).toBeUndefined();
    // Streamed list-objects says so in its last line, which the SDK skips.
    const streamed = await call("/streamed-list-objects", {
      type: "doc",
      relation: "viewer",
      user: "user:anne",
    });
    const lines = streamed.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.at(-1)).toEqual({ portcullis_truncated: { truncated_by: "deadline" } });
    expect(
      lines.slice(0, -1).every((l) => typeof (l.result as { object?: string })?.object === "string"),
    ).toBe(true);
    expect(streamed.headers["x-portcullis-truncated"]).toBe("deadline");
  });

  it("pages a list over the result cap to its end, with OpenFGA's response otherwise unchanged", async () => {
    const { service, storeId, call } = await setup({ listMaxResults: 4 });
    const objects = Array.from({ length: 10 }, (_, i) => `doc:${String(i).padStart(2, "0")}`);
    await service.write({
      storeId,
      writes: { tupleKeys: objects.map((object) => ({ user: "user:anne", relation: "viewer", object })) },
    });
    const got: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await call("/list-objects", {
        type: "doc",
        relation: "viewer",
        user: "user:anne",
        ...(token ? { continuation_token: token } : {}),
      });
      const body = JSON.parse(r.text) as {
        objects: string[];
        continuation_token?: string;
        truncated_by?: string;
      };
      got.push(...body.objects);
      token = body.continuation_token;
      pages++;
      if (!token) expect(Object.keys(body)).toEqual(["objects"]);
    } while (token);
    expect(pages).toBe(3);
    expect(got.sort()).toEqual(objects);
    // list-users has the same cap and continuation.
    const users = await call("/list-users", {
      object: { type: "doc", id: "00" },
      relation: "viewer",
      user_filters: [{ type: "user" }],
    });
    expect(JSON.parse(users.text)).toEqual({ users: [{ object: { type: "user", id: "anne" } }] });
  });
});
