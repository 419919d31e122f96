import { describe, expect, it } from "vitest";
import { MemoryAuthzStore } from "../../../src/authz/adapters/memory.ts";
import type { AuthzStore } from "../../../src/authz/ports.ts";
import { rejectsWith, setup, t } from "./helpers.ts";
import { createSyncMemoryStore } from "./sync-store.ts";

const MODEL = `model
  schema 1.1
type user
type group
  relations
    define member: [user, user:*, group#member]
type folder
  relations
    define viewer: [user, group#member]
type doc
  relations
    define parent: [folder]
    define blocked: [user]
    define viewer: ([user] or viewer from parent) but not blocked
    define approver: [user]
    define editor: [user]
    define publisher: editor and approver
`;

const TUPLES = [
  "group:eng#member@user:anne",
  "group:all#member@group:eng#member",
  "folder:f1#viewer@group:all#member",
  "folder:f2#viewer@user:bob",
  "doc:1#parent@folder:f1",
  "doc:2#parent@folder:f1",
  "doc:2#blocked@user:anne",
  "doc:3#viewer@user:anne",
  "doc:4#parent@folder:f2",
  "doc:5#editor@user:anne",
  "doc:5#approver@user:anne",
  "doc:6#editor@user:anne",
  "group:public#member@user:*",
].map((s) => t(s));

const sorted = (a: readonly string[]) => [...a].sort();

describe.each([
  ["sync reads", createSyncMemoryStore],
  ["batched reads", () => new MemoryAuthzStore()],
] as [string, () => AuthzStore][])("listObjects (%s)", (_l, makeStore) => {
  it("finds objects over usersets, tuple-to-userset and exclusions", async () => {
    const f = await setup(MODEL, TUPLES, {}, makeStore());
    const r = await f.service.listObjects({
      storeId: f.storeId,
      type: "doc",
      relation: "viewer",
      user: "user:anne",
    });
    expect(sorted(r.objects)).toEqual(["doc:1", "doc:3"]);
    expect(r.truncated).toBe(false);
    const p = await f.service.listObjects({
      storeId: f.storeId,
      type: "doc",
      relation: "publisher",
      user: "user:anne",
    });
    expect(p.objects).toEqual(["doc:5"]);
    const g = await f.service.listObjects({
      storeId: f.storeId,
      type: "group",
      relation: "member",
      user: "user:zed",
    });
    expect(g.objects).toEqual(["group:public"]);
    const us = await f.service.listObjects({
      storeId: f.storeId,
      type: "folder",
      relation: "viewer",
      user: "group:eng#member",
    });
    expect(us.objects).toEqual(["folder:f1"]);
  });

  it("reports truncation at the result cap instead of hiding it", async () => {
    const many = Array.from({ length: 30 }, (_, i) => t(`doc:m${i}#viewer@user:kim`));
    const f = await setup(MODEL, many, { listObjectsMaxResults: 10 }, makeStore());
    const r = await f.service.listObjects({
      storeId: f.storeId,
      type: "doc",
      relation: "viewer",
      user: "user:kim",
    });
    expect(r.objects).toHaveLength(10);
    expect(r).toMatchObject({ truncated: true, truncatedBy: "max_results" });
    const small = await f.service.listObjects({
      storeId: f.storeId,
      type: "doc",
      relation: "viewer",
      user: "user:kim",
      maxResults: 5,
    });
    expect(small.objects).toHaveLength(5);
  });

  it("pages through a truncated result with the continuation token", async () => {
    const many = Array.from({ length: 23 }, (_, i) => t(`doc:m${i}#viewer@user:kim`));
    // Objects reached through an exclusion need a check: mix both kinds.
    const blocked = [t("doc:m3#blocked@user:kim"), t("doc:m17#blocked@user:kim")];
    const f = await setup(MODEL, [...many, ...blocked], {}, makeStore());
    const req = { storeId: f.storeId, type: "doc", relation: "viewer", user: "user:kim", maxResults: 10 };
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await f.service.listObjects({ ...req, ...(token ? { continuationToken: token } : {}) });
      seen.push(...r.objects);
      token = r.continuationToken;
      pages++;
      if (token) expect(r).toMatchObject({ truncated: true, truncatedBy: "max_results" });
    } while (token && pages < 10);
    expect(sorted(seen)).toEqual(
      sorted(many.map((k) => k.object).filter((o) => o !== "doc:m3" && o !== "doc:m17")),
    );
    expect(pages).toBe(3);
    const first = await f.service.listObjects(req);
    await rejectsWith(
      f.service.listObjects({ ...req, user: "user:other", continuationToken: first.continuationToken! }),
      2007,
    );
  });

  it("a larger cap returns a longer prefix of the same order (offset paging)", async () => {
    const many = Array.from({ length: 15 }, (_, i) => t(`doc:m${i}#viewer@user:kim`));
    const f = await setup(MODEL, [...many, t("doc:m4#blocked@user:kim")], {}, makeStore());
    const run = (maxResults: number) =>
      f.service.listObjects({
        storeId: f.storeId,
        type: "doc",
        relation: "viewer",
        user: "user:kim",
        maxResults,
      });
    const full = (await run(1000)).objects;
    expect(full).toHaveLength(14);
    for (const n of [1, 5, 13]) expect((await run(n)).objects).toEqual(full.slice(0, n));
  });

  it("reports truncation at the deadline", async () => {
    const f = await setup(MODEL, TUPLES, { listObjectsDeadlineMs: 0 }, makeStore());
    f.clock.advance(1);
    const real = f.clock.now.bind(f.clock);
    let calls = 0;
    f.clock.now = () => real() + calls++; // time moves on every reading
    const r = await f.service.listObjects({
      storeId: f.storeId,
      type: "doc",
      relation: "viewer",
      user: "user:anne",
    });
    expect(r).toMatchObject({ truncated: true, truncatedBy: "deadline" });
  });

  it("validates: unknown type 2021, unknown relation 2022, bad user 2000", async () => {
    const f = await setup(MODEL, [], {}, makeStore());
    const lo = (type: string, relation: string, user: string) =>
      f.service.listObjects({ storeId: f.storeId, type, relation, user });
    expect((await rejectsWith(lo("report", "viewer", "user:anne"), 2021)).openfgaName).toBe("type_not_found");
    expect((await rejectsWith(lo("doc", "reader", "user:anne"), 2022)).openfgaName).toBe(
      "relation_not_found",
    );
    await rejectsWith(lo("doc", "viewer", "robot:1"), 2000);
    await rejectsWith(lo("doc", "viewer", "a:b:c"), 2000);
  });

  it("fails with 2000 when a condition cannot be evaluated", async () => {
    const f = await setup(
      `model
  schema 1.1
type user
type doc
  relations
    define viewer: [user with small, user]
condition small(x: int) {
  x < 10
}`,
      [t("doc:1#viewer@user:jon", { name: "small" }), t("doc:2#viewer@user:jon")],
      {},
      makeStore(),
    );
    await rejectsWith(
      f.service.listObjects({ storeId: f.storeId, type: "doc", relation: "viewer", user: "user:jon" }),
      2000,
    );
    const ok = await f.service.listObjects({
      storeId: f.storeId,
      type: "doc",
      relation: "viewer",
      user: "user:jon",
      context: { x: 1 },
    });
    expect(sorted(ok.objects)).toEqual(["doc:1", "doc:2"]);
  });
});

describe.each([
  ["sync reads", createSyncMemoryStore],
  ["batched reads", () => new MemoryAuthzStore()],
] as [string, () => AuthzStore][])("listUsers (%s)", (_l, makeStore) => {
  const lu = (f: Awaited<ReturnType<typeof setup>>, object: string, relation: string, filter: string) => {
    const [type, id] = object.split(":") as [string, string];
    const [ft, fr] = filter.split("#") as [string, string | undefined];
    return f.service.listUsers({
      storeId: f.storeId,
      object: { type, id },
      relation,
      userFilters: [fr ? { type: ft, relation: fr } : { type: ft }],
    });
  };

  it("returns objects, usersets and wildcards in OpenFGA's User shape", async () => {
    const f = await setup(MODEL, TUPLES, {}, makeStore());
    expect((await lu(f, "doc:1", "viewer", "user")).users).toEqual([
      { object: { type: "user", id: "anne" } },
    ]);
    expect((await lu(f, "doc:2", "viewer", "user")).users).toEqual([]);
    const groups = await lu(f, "folder:f1", "viewer", "group#member");
    expect(groups.users).toEqual(
      expect.arrayContaining([
        { userset: { type: "group", id: "all", relation: "member" } },
        { userset: { type: "group", id: "eng", relation: "member" } },
      ]),
    );
    expect((await lu(f, "group:public", "member", "user")).users).toEqual([{ wildcard: { type: "user" } }]);
    expect((await lu(f, "doc:5", "publisher", "user")).users).toEqual([
      { object: { type: "user", id: "anne" } },
    ]);
    expect((await lu(f, "doc:6", "publisher", "user")).users).toEqual([]);
  });

  it("validates: unknown object type/filter type 2021, unknown relation/filter relation 2022, one filter only", async () => {
    const f = await setup(MODEL, [], {}, makeStore());
    await rejectsWith(lu(f, "report:1", "viewer", "user"), 2021);
    await rejectsWith(lu(f, "doc:1", "viewer", "robot"), 2021);
    await rejectsWith(lu(f, "doc:1", "reader", "user"), 2022);
    await rejectsWith(lu(f, "doc:1", "viewer", "group#owner"), 2022);
    await rejectsWith(
      f.service.listUsers({
        storeId: f.storeId,
        object: { type: "doc", id: "1" },
        relation: "viewer",
        userFilters: [{ type: "user" }, { type: "group" }],
      }),
      2000,
    );
  });

  it("a larger cap returns a longer prefix of the same order (offset paging)", async () => {
    const many = Array.from({ length: 12 }, (_, i) => t(`doc:1#viewer@user:u${i}`));
    const f = await setup(MODEL, [...many, t("doc:1#blocked@user:u3")], {}, makeStore());
    const run = (maxResults: number) =>
      f.service
        .listUsers({
          storeId: f.storeId,
          object: { type: "doc", id: "1" },
          relation: "viewer",
          userFilters: [{ type: "user" }],
          maxResults,
        })
        .then((r) => r.users);
    const full = await run(1000);
    expect(full).toHaveLength(11);
    for (const n of [1, 4, 10]) expect(await run(n)).toEqual(full.slice(0, n));
  });

  it("reports truncation at the cap", async () => {
    const many = Array.from({ length: 12 }, (_, i) => t(`doc:1#viewer@user:u${i}`));
    const f = await setup(MODEL, many, { listUsersMaxResults: 5 }, makeStore());
    const r = await lu(f, "doc:1", "viewer", "user");
    expect(r.users).toHaveLength(5);
    expect(r).toMatchObject({ truncated: true, truncatedBy: "max_results" });
  });
});
