import { describe, expect, it } from "vitest";
import { MemoryAuthzStore } from "../../../src/authz/adapters/memory.ts";
import { PATH_MAX_CHARS } from "../../../src/authz/explain.ts";
import type { AuthzStore, ObjectRelationQuery, ReverseQuery, TupleLookup } from "../../../src/authz/ports.ts";
import { checker, rejectsWith, setup, t } from "./helpers.ts";
import { createSyncMemoryStore } from "./sync-store.ts";

const DOCS = `model
  schema 1.1
type user
type group
  relations
    define member: [user, user:*, group#member]
type folder
  relations
    define parent: [folder]
    define viewer: [user, group#member] or viewer from parent
type doc
  relations
    define parent: [folder]
    define owner: [user]
    define editor: [user, group#member] or owner
    define blocked: [user]
    define viewer: ([user, user:*] or editor or viewer from parent) but not blocked
    define approver: [user]
    define publisher: editor and approver
`;

const TUPLES = [
  "group:eng#member@user:anne",
  "group:all#member@group:eng#member",
  "folder:root#viewer@group:all#member",
  "folder:sub#parent@folder:root",
  "doc:1#parent@folder:sub",
  "doc:2#owner@user:bob",
  "doc:2#approver@user:bob",
  "doc:3#viewer@user:*",
  "doc:3#blocked@user:eve",
].map((s) => t(s));

const stores: [string, () => AuthzStore][] = [
  ["sync reads", createSyncMemoryStore],
  ["batched reads", () => new MemoryAuthzStore()],
];

describe.each(stores)("check semantics (%s)", (_label, makeStore) => {
  it("resolves direct, computed, tuple-to-userset, nested usersets and wildcards", async () => {
    const check = checker(await setup(DOCS, TUPLES, {}, makeStore()));
    expect(await check("doc:1#viewer@user:anne")).toBe(true); // doc → folder:sub → folder:root → group:all → group:eng
    expect(await check("doc:1#viewer@user:bob")).toBe(false);
    expect(await check("doc:2#editor@user:bob")).toBe(true); // owner ⊂ editor
    expect(await check("doc:3#viewer@user:zed")).toBe(true); // public
    expect(await check("doc:3#viewer@user:eve")).toBe(false); // blocked
    expect(await check("doc:3#viewer@user:*")).toBe(true); // wildcard as the user
    expect(await check("doc:2#publisher@user:bob")).toBe(true); // intersection
    expect(await check("doc:1#publisher@user:anne")).toBe(false);
  });

  it("userset users: a group's own userset, and nested membership of usersets", async () => {
    const check = checker(await setup(DOCS, TUPLES, {}, makeStore()));
    expect(await check("group:eng#member@group:eng#member")).toBe(true); // trivially itself
    expect(await check("group:all#member@group:eng#member")).toBe(true);
    expect(await check("doc:1#viewer@group:eng#member")).toBe(true);
    expect(await check("group:eng#member@group:all#member")).toBe(false);
  });

  it("contextual tuples behave like stored tuples", async () => {
    const check = checker(await setup(DOCS, TUPLES, {}, makeStore()));
    expect(await check("doc:9#viewer@user:kim")).toBe(false);
    expect(
      await check("doc:9#viewer@user:kim", {
        contextualTuples: [t("doc:9#parent@folder:root"), t("group:eng#member@user:kim")],
      }),
    ).toBe(true);
  });

  it("cycles terminate and count as not allowed", async () => {
    const check = checker(
      await setup(
        `model
  schema 1.1
type user
type doc
  relations
    define restricted: [user, doc#viewer]
    define viewer: [user, doc#viewer] but not restricted`,
        [
          t("doc:1#viewer@doc:2#viewer"),
          t("doc:2#viewer@doc:1#viewer"),
          t("doc:3#viewer@user:jon"),
          t("doc:3#restricted@doc:3#viewer"),
        ],
        {},
        makeStore(),
      ),
    );
    expect(await check("doc:1#viewer@user:jon")).toBe(false);
    // A cycle in the subtracted branch decides the exclusion (OpenFGA: "true but not cycle" is false).
    expect(await check("doc:3#viewer@user:jon")).toBe(false);
  });

  it("the resolution depth limit is configurable and gives 2002", async () => {
    const chain = Array.from({ length: 6 }, (_, i) => t(`group:g${i}#member@group:g${i + 1}#member`));
    const f = await setup(
      DOCS,
      [...chain, t("group:g6#member@user:deep")],
      { maxResolutionDepth: 4 },
      makeStore(),
    );
    const e = await rejectsWith(
      f.service.check({ storeId: f.storeId, tupleKey: t("group:g0#member@user:deep") }),
      2002,
    );
    expect(e.openfgaName).toBe("authorization_model_resolution_too_complex");
    expect(await checker(f)("group:g4#member@user:deep")).toBe(true);
  });

  it("ignores stored tuples that the current model no longer allows", async () => {
    const f = await setup(DOCS, TUPLES, {}, makeStore());
    await f.service.writeAuthorizationModelDsl(
      f.storeId,
      `model
  schema 1.1
type user
type group
  relations
    define member: [user]
type doc
  relations
    define viewer: [user]`,
    );
    const check = checker(f);
    expect(await check("doc:3#viewer@user:zed")).toBe(false); // wildcard no longer allowed
    expect(await check("doc:1#viewer@user:anne")).toBe(false); // parent relation gone
    expect(await check("group:all#member@user:anne")).toBe(false); // userset no longer allowed
    expect(await check("group:eng#member@user:anne")).toBe(true);
  });

  it("check validation: unknown type/relation/user type and malformed users → 2000", async () => {
    const f = await setup(DOCS, [], {}, makeStore());
    const c = (s: string) => f.service.check({ storeId: f.storeId, tupleKey: t(s) });
    expect((await rejectsWith(c("report:1#viewer@user:anne"), 2000)).detail).toMatch(
      /type 'report' not found/,
    );
    expect((await rejectsWith(c("doc:1#reader@user:anne"), 2000)).detail).toMatch(
      /relation 'doc#reader' not found/,
    );
    expect((await rejectsWith(c("doc:1#viewer@robot:1"), 2000)).detail).toMatch(/type 'robot' not found/);
    expect((await rejectsWith(c("doc:1#viewer@group:eng#owner"), 2000)).detail).toMatch(
      /relation 'group#owner' not found/,
    );
    expect((await rejectsWith(c("doc:1#viewer@a:b:c"), 2000)).detail).toMatch(/invalid 'user'/);
  });
});

const ABAC = `model
  schema 1.1
type user
type doc
  relations
    define a: [user with small]
    define b: [user]
    define either: a or b
    define both: a and b
    define a_not_b: a but not b
condition small(x: int) {
  x < 10
}`;

describe("conditions in check", () => {
  it("an evaluation error is returned only when it decides the result", async () => {
    const f = await setup(ABAC, [t("doc:1#a@user:jon", { name: "small" }), t("doc:1#b@user:jon")]);
    const check = checker(f);
    expect(await check("doc:1#either@user:jon")).toBe(true); // b decides; a's missing x is hidden
    expect(await check("doc:1#a_not_b@user:jon")).toBe(false); // subtract decides
    const e = await rejectsWith(
      f.service.check({ storeId: f.storeId, tupleKey: t("doc:1#both@user:jon") }),
      2000,
    );
    expect(e.detail).toMatch(/small/);
    expect(await check("doc:1#both@user:jon", { context: { x: 3 } })).toBe(true);
    expect(await check("doc:1#both@user:jon", { context: { x: 30 } })).toBe(false);
    expect(await check("doc:1#a@user:nobody")).toBe(false); // no tuple: no error
  });

  it("the tuple's stored context wins over the request context", async () => {
    const f = await setup(ABAC, [t("doc:1#a@user:jon", { name: "small", context: { x: 50 } })]);
    expect(await checker(f)("doc:1#a@user:jon", { context: { x: 1 } })).toBe(false);
  });
});

/** Counts store round trips per port method. */
function countingStore(inner: AuthzStore) {
  const calls: { method: string; size: number }[] = [];
  const wrap =
    <Q>(method: string, fn: (storeId: string, q: readonly Q[]) => Promise<unknown>) =>
    (storeId: string, q: readonly Q[]) => {
      calls.push({ method, size: q.length });
      return fn(storeId, q);
    };
  const store = new Proxy(inner, {
    get(target, prop) {
      // Hide the memory store's synchronous reads: these tests count the batched path's calls.
      if (prop === "readObjectSync" || prop === "headRevisionSync" || prop === "readByUsersSync") return;
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== "function") return v;
      const bound = (v as (...a: unknown[]) => unknown).bind(target);
      if (prop === "getTuples") return wrap<TupleLookup>("getTuples", bound as never);
      if (prop === "readUsersetTuples") return wrap<ObjectRelationQuery>("readUsersetTuples", bound as never);
      if (prop === "readTuples") return wrap<ObjectRelationQuery>("readTuples", bound as never);
      if (prop === "readByUsers") return wrap<ReverseQuery>("readByUsers", bound as never);
      return bound;
    },
  });
  return { store, calls };
}

describe("batched reads", () => {
  it("gathers the reads of one resolution step into one call per port method", async () => {
    const { store, calls } = countingStore(new MemoryAuthzStore());
    const f = await setup(
      `model
  schema 1.1
type user
type doc
  relations
    define a: [user]
    define b: [user]
    define c: [user]
    define any: a or b or c`,
      [],
      {},
      store,
    );
    calls.length = 0;
    expect(await checker(f)("doc:1#any@user:anne")).toBe(false);
    // One step: the three exact lookups of a, b and c travel as ONE getTuples call.
    expect(calls).toEqual([{ method: "getTuples", size: 3 }]);
  });

  it("a batch check shares the batches of all its items", async () => {
    const { store, calls } = countingStore(new MemoryAuthzStore());
    const f = await setup(DOCS, TUPLES, {}, store);
    calls.length = 0;
    const r = await f.service.batchCheck({
      storeId: f.storeId,
      checks: [
        { tupleKey: t("doc:2#owner@user:bob"), correlationId: "a" },
        { tupleKey: t("doc:2#owner@user:anne"), correlationId: "b" },
        { tupleKey: t("doc:1#owner@user:bob"), correlationId: "c" },
      ],
    });
    expect(r.result).toEqual({ a: { allowed: true }, b: { allowed: false }, c: { allowed: false } });
    expect(calls).toEqual([{ method: "getTuples", size: 3 }]);
  });
});

describe("batchCheck", () => {
  it("reports per-item errors with OpenFGA's input_error names", async () => {
    const f = await setup(DOCS, TUPLES);
    const r = await f.service.batchCheck({
      storeId: f.storeId,
      checks: [
        { tupleKey: t("doc:2#owner@user:bob"), correlationId: "ok" },
        { tupleKey: t("doc:2#nope@user:bob"), correlationId: "bad-key" },
        {
          tupleKey: t("doc:2#owner@user:bob"),
          correlationId: "bad-ctx",
          contextualTuples: [t("doc:2#owner@user:*")],
        },
      ],
    });
    expect(r.result.ok).toEqual({ allowed: true });
    expect(r.result["bad-key"]).toMatchObject({ allowed: false, error: { inputError: "validation_error" } });
    expect(r.result["bad-ctx"]).toMatchObject({ allowed: false, error: { inputError: "invalid_tuple" } });
  });

  it("rejects empty, oversized, duplicate-id and bad-id batches with 2000", async () => {
    const f = await setup(DOCS, TUPLES, { maxChecksPerBatchCheck: 2 });
    const item = (id: string) => ({ tupleKey: t("doc:2#owner@user:bob"), correlationId: id });
    await rejectsWith(f.service.batchCheck({ storeId: f.storeId, checks: [] }), 2000);
    await rejectsWith(
      f.service.batchCheck({ storeId: f.storeId, checks: [item("a"), item("b"), item("c")] }),
      2000,
    );
    await rejectsWith(f.service.batchCheck({ storeId: f.storeId, checks: [item("a"), item("a")] }), 2000);
    await rejectsWith(f.service.batchCheck({ storeId: f.storeId, checks: [item("not valid!")] }), 2000);
  });
});

describe("explain", () => {
  it("returns the tuples and rewrites that granted access", async () => {
    const f = await setup(DOCS, TUPLES);
    const r = await f.service.check({
      storeId: f.storeId,
      tupleKey: t("doc:1#viewer@user:anne"),
      explain: true,
    });
    expect(r.allowed).toBe(true);
    expect(r.explanation).toEqual({
      kind: "exclusion",
      object: "doc:1",
      relation: "viewer",
      notIn: "doc:1#blocked",
      base: {
        kind: "tuple_to_userset",
        object: "doc:1",
        relation: "viewer",
        tupleset: "parent",
        tuple: t("doc:1#parent@folder:sub"),
        via: {
          kind: "tuple_to_userset",
          object: "folder:sub",
          relation: "viewer",
          tupleset: "parent",
          tuple: t("folder:sub#parent@folder:root"),
          via: {
            kind: "userset",
            object: "folder:root",
            relation: "viewer",
            tuple: t("folder:root#viewer@group:all#member"),
            via: {
              kind: "userset",
              object: "group:all",
              relation: "member",
              tuple: t("group:all#member@group:eng#member"),
              via: {
                kind: "direct",
                object: "group:eng",
                relation: "member",
                tuple: t("group:eng#member@user:anne"),
              },
            },
          },
        },
      },
    });
  });

  it("explains computed relations, intersections and wildcards; nothing when denied", async () => {
    const f = await setup(DOCS, TUPLES);
    const pub = await f.service.check({
      storeId: f.storeId,
      tupleKey: t("doc:2#publisher@user:bob"),
      explain: true,
    });
    expect(pub.explanation).toEqual({
      kind: "intersection",
      object: "doc:2",
      relation: "publisher",
      all: [
        {
          kind: "computed",
          object: "doc:2",
          relation: "publisher",
          rewrite: "editor",
          via: {
            kind: "computed",
            object: "doc:2",
            relation: "editor",
            rewrite: "owner",
            via: { kind: "direct", object: "doc:2", relation: "owner", tuple: t("doc:2#owner@user:bob") },
          },
        },
        {
          kind: "computed",
          object: "doc:2",
          relation: "publisher",
          rewrite: "approver",
          via: {
            kind: "direct",
            object: "doc:2",
            relation: "approver",
            tuple: t("doc:2#approver@user:bob"),
          },
        },
      ],
    });
    const wild = await f.service.check({
      storeId: f.storeId,
      tupleKey: t("doc:3#viewer@user:zed"),
      explain: true,
    });
    expect(wild.explanation).toMatchObject({
      kind: "exclusion",
      base: { kind: "direct", tuple: t("doc:3#viewer@user:*") },
    });
    const no = await f.service.check({
      storeId: f.storeId,
      tupleKey: t("doc:3#viewer@user:eve"),
      explain: true,
    });
    expect(no).toEqual({ allowed: false });
  });
});

describe("check cache", () => {
  it("never serves a result older than the store's data", async () => {
    const f = await setup(DOCS, [], {}, createSyncMemoryStore());
    const check = checker(f);
    expect(await check("doc:5#owner@user:kim")).toBe(false);
    await f.service.write({ storeId: f.storeId, writes: { tupleKeys: [t("doc:5#owner@user:kim")] } });
    expect(await check("doc:5#owner@user:kim")).toBe(true);
    await f.service.write({ storeId: f.storeId, deletes: { tupleKeys: [t("doc:5#owner@user:kim")] } });
    expect(await check("doc:5#owner@user:kim")).toBe(false);
  });

  it("keys on the request context", async () => {
    const f = await setup(ABAC, [t("doc:1#a@user:jon", { name: "small" })], {}, createSyncMemoryStore());
    const check = checker(f);
    expect(await check("doc:1#a@user:jon", { context: { x: 1 } })).toBe(true);
    expect(await check("doc:1#a@user:jon", { context: { x: 11 } })).toBe(false);
  });
});

describe("expand", () => {
  it("returns one level of the userset tree in OpenFGA's shape", async () => {
    const f = await setup(DOCS, TUPLES);
    const { tree } = await f.service.expand({
      storeId: f.storeId,
      tupleKey: { object: "doc:1", relation: "viewer" },
    });
    expect(tree).toEqual({
      root: {
        name: "doc:1#viewer",
        difference: {
          base: {
            name: "doc:1#viewer",
            union: {
              nodes: [
                { name: "doc:1#viewer", leaf: { users: { users: [] } } },
                { name: "doc:1#viewer", leaf: { computed: { userset: "doc:1#editor" } } },
                {
                  name: "doc:1#viewer",
                  leaf: {
                    tupleToUserset: {
                      tupleset: "doc:1#parent",
                      computed: [{ userset: "folder:sub#viewer" }],
                    },
                  },
                },
              ],
            },
          },
          subtract: { name: "doc:1#viewer", leaf: { computed: { userset: "doc:1#blocked" } } },
        },
      },
    });
    const g = await f.service.expand({
      storeId: f.storeId,
      tupleKey: { object: "group:all", relation: "member" },
    });
    expect(g.tree.root).toEqual({
      name: "group:all#member",
      leaf: { users: { users: ["group:eng#member"] } },
    });
  });
});

describe("granting paths (withPath: the audit reason)", () => {
  it("gives the explanation as one line, with caches on, for checks and batch checks", async () => {
    const f = await setup(DOCS, TUPLES, {}, createSyncMemoryStore());
    const tk = t("doc:1#viewer@user:anne");
    const expected =
      "doc:1#viewer<-parent > doc:1#parent@folder:sub > folder:sub#viewer<-parent > " +
      "folder:sub#parent@folder:root > folder:root#viewer@group:all#member > " +
      "group:all#member@group:eng#member > group:eng#member@user:anne but not doc:1#blocked";
    const first = await f.service.check({ storeId: f.storeId, tupleKey: tk, withPath: true });
    expect(first).toEqual({ allowed: true, path: expected });
    // The second answer comes from the result cache, with the path it was cached with.
    const again = await f.service.check({ storeId: f.storeId, tupleKey: tk, withPath: true });
    expect(again).toEqual({ allowed: true, path: expected });
    // Without the option: no path, as before.
    expect(await f.service.check({ storeId: f.storeId, tupleKey: tk })).toEqual({ allowed: true });
    const pub = await f.service.check({
      storeId: f.storeId,
      tupleKey: t("doc:2#publisher@user:bob"),
      withPath: true,
    });
    expect(pub.path).toBe(
      "all(doc:2#publisher=editor > doc:2#editor=owner > doc:2#owner@user:bob & " +
        "doc:2#publisher=approver > doc:2#approver@user:bob)",
    );
    const denied = await f.service.check({
      storeId: f.storeId,
      tupleKey: t("doc:3#viewer@user:eve"),
      withPath: true,
    });
    expect(denied).toEqual({ allowed: false });
    const batch = await f.service.batchCheck({
      storeId: f.storeId,
      withPath: true,
      checks: [
        { tupleKey: t("doc:3#viewer@user:zed"), correlationId: "wild" },
        { tupleKey: t("doc:3#viewer@user:eve"), correlationId: "no" },
      ],
    });
    expect(batch.result).toEqual({
      wild: { allowed: true, path: "doc:3#viewer@user:* but not doc:3#blocked" },
      no: { allowed: false },
    });
  });
});

describe("granting paths stay bounded", () => {
  // a_i and b_i both need a_{i-1} and b_{i-1}: the check is linear (memoised), an unmemoised
  // explanation doubles at every level.
  const nested = (levels: number) => {
    let dsl =
      "model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define a0: [user]\n    define b0: [user]\n";
    for (let i = 1; i <= levels; i++)
      dsl += `    define a${i}: a${i - 1} and b${i - 1}\n    define b${i}: a${i - 1} and b${i - 1}\n`;
    return dsl;
  };

  it("gives no path (and no explanation) where one would exceed the step budget", async () => {
    const f = await setup(
      nested(24),
      [t("doc:1#a0@user:x"), t("doc:1#b0@user:x")],
      {},
      createSyncMemoryStore(),
    );
    const tk = t("doc:1#a24@user:x");
    expect(await f.service.check({ storeId: f.storeId, tupleKey: tk, withPath: true })).toEqual({
      allowed: true,
    });
    const batch = await f.service.batchCheck({
      storeId: f.storeId,
      withPath: true,
      checks: [{ tupleKey: tk, correlationId: "deep" }],
    });
    expect(batch.result).toEqual({ deep: { allowed: true } });
    expect(await f.service.check({ storeId: f.storeId, tupleKey: tk, explain: true })).toEqual({
      allowed: true,
    });
  });

  it("keeps a path that fits, and never one longer than PATH_MAX_CHARS", async () => {
    const f = await setup(
      nested(2),
      [t("doc:1#a0@user:x"), t("doc:1#b0@user:x")],
      {},
      createSyncMemoryStore(),
    );
    const r = await f.service.check({ storeId: f.storeId, tupleKey: t("doc:1#a2@user:x"), withPath: true });
    expect(r.path).toBe(
      "all(doc:1#a2=a1 > all(doc:1#a1=a0 > doc:1#a0@user:x & doc:1#a1=b0 > doc:1#b0@user:x) & " +
        "doc:1#a2=b1 > all(doc:1#b1=a0 > doc:1#a0@user:x & doc:1#b1=b0 > doc:1#b0@user:x))",
    );
    // Six levels fit the step budget but not 2 KB: cut, marked.
    const g = await setup(
      nested(6),
      [t("doc:1#a0@user:x"), t("doc:1#b0@user:x")],
      {},
      createSyncMemoryStore(),
    );
    const long = await g.service.check({
      storeId: g.storeId,
      tupleKey: t("doc:1#a6@user:x"),
      withPath: true,
    });
    expect(long.path?.length).toBe(PATH_MAX_CHARS);
    expect(long.path?.endsWith("…")).toBe(true);
  });
});
