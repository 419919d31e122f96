import { describe, expect, it } from "vitest";
import { rejectsWith, setup, t } from "./helpers.ts";

const MODEL = `model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
type folder
  relations
    define viewer: [user]
type doc
  relations
    define parent: [folder]
    define owner: [user]
    define viewer: [user, user:*, group#member, user with in_range] or owner
    define can_view: viewer
condition in_range(x: int) {
  x < 100
}
`;

describe("write: validation against the model (2000, one test per error class)", () => {
  const invalid = async (key: ReturnType<typeof t>, reason: RegExp) => {
    const f = await setup(MODEL);
    const e = await rejectsWith(f.service.write({ storeId: f.storeId, writes: { tupleKeys: [key] } }), 2000);
    expect(e.detail).toMatch(/^Invalid tuple '/);
    expect(e.detail).toMatch(reason);
    expect(e.openfgaName).toBe("validation_error");
    expect(e.httpStatus).toBe(400);
  };

  it("malformed object", () => invalid(t("doc#viewer@user:anne"), /invalid 'object' field format/));
  it("unknown object type", () => invalid(t("report:1#viewer@user:anne"), /type 'report' not found/));
  it("unknown relation", () => invalid(t("doc:1#editor@user:anne"), /relation 'doc#editor' not found/));
  it("malformed user", () => invalid(t("doc:1#viewer@a:b:c"), /invalid 'user' field format: 'a:b:c'/));
  it("unknown user type", () => invalid(t("doc:1#viewer@robot:r2"), /type 'robot' not found/));
  it("unknown userset relation", () =>
    invalid(t("doc:1#viewer@group:eng#owner"), /relation 'group#owner' not found/));
  it("implicit tuple", () => invalid(t("group:eng#member@group:eng#member"), /implicit/));
  it("user type not allowed by the restrictions", () =>
    invalid(
      t("doc:1#owner@group:eng#member"),
      /type 'group#member' is not an allowed type restriction for 'doc#owner'/,
    ));
  it("wildcard not allowed", () =>
    invalid(t("doc:1#owner@user:*"), /type 'user:\*' is not an allowed type restriction/));
  it("relation not directly assignable", () =>
    invalid(t("doc:1#can_view@user:anne"), /not an allowed type restriction for 'doc#can_view'/));
  it("condition required by every restriction of the type", async () => {
    const f = await setup(
      MODEL.replace("[user, user:*, group#member, user with in_range]", "[user with in_range]"),
    );
    const e = await rejectsWith(
      f.service.write({ storeId: f.storeId, writes: { tupleKeys: [t("doc:1#viewer@user:anne")] } }),
      2000,
    );
    expect(e.detail).toMatch(/condition is missing/);
  });
  it("undefined condition", () =>
    invalid(t("doc:1#viewer@user:anne", { name: "nope" }), /condition 'nope' is undefined/));
  it("condition not allowed for that user type", () =>
    invalid(t("doc:1#viewer@user:*", { name: "in_range" }), /condition 'in_range' is not allowed/));
  it("context parameter not declared", () =>
    invalid(
      t("doc:1#viewer@user:anne", { name: "in_range", context: { y: 1 } }),
      /invalid context parameter: y/,
    ));
  it("condition context over 32 KiB", async () => {
    const f = await setup(MODEL.replace("in_range(x: int)", "in_range(x: int, s: string)"));
    const big = t("doc:1#viewer@user:anne", { name: "in_range", context: { s: "x".repeat(33 * 1024) } });
    const e = await rejectsWith(f.service.write({ storeId: f.storeId, writes: { tupleKeys: [big] } }), 2000);
    expect(e.detail).toMatch(/exceeds 32768 bytes/);
  });

  it("accepts a conditioned tuple with a declared context", async () => {
    const f = await setup(MODEL);
    const r = await f.service.write({
      storeId: f.storeId,
      writes: { tupleKeys: [t("doc:1#viewer@user:anne", { name: "in_range", context: { x: 5 } })] },
    });
    expect(r.revision).toMatch(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
  });
});

describe("write: request-level rules", () => {
  it("nothing to write → 2003", async () => {
    const f = await setup(MODEL);
    const e = await rejectsWith(f.service.write({ storeId: f.storeId }), 2003);
    expect(e.detail).toMatch(/at least one write or delete/);
  });

  it("more than 100 changes → 2053", async () => {
    const f = await setup(MODEL);
    const keys = Array.from({ length: 101 }, (_, i) => t(`doc:${i}#owner@user:anne`));
    const e = await rejectsWith(f.service.write({ storeId: f.storeId, writes: { tupleKeys: keys } }), 2053);
    expect(e.detail).toMatch(/exceeds the allowed limit of 100/);
  });

  it("the same key twice in one request (writes and deletes together) → 2004", async () => {
    const f = await setup(MODEL);
    const e = await rejectsWith(
      f.service.write({
        storeId: f.storeId,
        writes: { tupleKeys: [t("doc:1#owner@user:anne")] },
        deletes: { tupleKeys: [t("doc:1#owner@user:anne")] },
      }),
      2004,
    );
    expect(e.detail).toMatch(
      /duplicate tuple in write: user: 'user:anne', relation: 'owner', object: 'doc:1'/,
    );
  });

  it("duplicate write or missing delete → 2017, unless ignored", async () => {
    const f = await setup(MODEL, [t("doc:1#owner@user:anne")]);
    const dup = await rejectsWith(
      f.service.write({ storeId: f.storeId, writes: { tupleKeys: [t("doc:1#owner@user:anne")] } }),
      2017,
    );
    expect(dup.detail).toMatch(/cannot write a tuple which already exists/);
    const missing = await rejectsWith(
      f.service.write({ storeId: f.storeId, deletes: { tupleKeys: [t("doc:2#owner@user:anne")] } }),
      2017,
    );
    expect(missing.detail).toMatch(/cannot delete a tuple which does not exist/);
    await f.service.write({
      storeId: f.storeId,
      writes: { tupleKeys: [t("doc:1#owner@user:anne")], onDuplicate: "ignore" },
      deletes: { tupleKeys: [t("doc:2#owner@user:anne")], onMissing: "ignore" },
    });
  });

  it("an existing key with another condition under on_duplicate ignore → Aborted (409)", async () => {
    const f = await setup(MODEL, [t("doc:1#viewer@user:anne")]);
    const e = await rejectsWith(
      f.service.write({
        storeId: f.storeId,
        writes: {
          tupleKeys: [t("doc:1#viewer@user:anne", { name: "in_range", context: { x: 1 } })],
          onDuplicate: "ignore",
        },
      }),
      10,
    );
    expect(e.openfgaName).toBe("Aborted");
    expect(e.httpStatus).toBe(409);
    expect(e.detail).toMatch(/different condition/);
  });

  it("a write batch is atomic", async () => {
    const f = await setup(MODEL, [t("doc:1#owner@user:anne")]);
    await rejectsWith(
      f.service.write({
        storeId: f.storeId,
        writes: { tupleKeys: [t("doc:2#owner@user:bob"), t("doc:1#owner@user:anne")] },
      }),
      2017,
    );
    const read = await f.service.read({ storeId: f.storeId, tupleKey: { object: "doc:2" } });
    expect(read.tuples).toEqual([]);
  });

  it("deletes are checked for syntax only, and their condition is ignored", async () => {
    const f = await setup(MODEL, [t("doc:1#owner@user:anne")]);
    await rejectsWith(
      f.service.write({ storeId: f.storeId, deletes: { tupleKeys: [t("doc:1#owner@anne")] } }),
      2000,
    );
    await f.service.write({
      storeId: f.storeId,
      deletes: { tupleKeys: [{ ...t("doc:1#owner@user:anne"), condition: { name: "whatever" } } as never] },
    });
    expect((await f.service.read({ storeId: f.storeId })).tuples).toEqual([]);
  });

  it("invalid on_duplicate / on_missing values → 2000", async () => {
    const f = await setup(MODEL);
    await rejectsWith(
      f.service.write({
        storeId: f.storeId,
        writes: { tupleKeys: [t("doc:1#owner@user:anne")], onDuplicate: "skip" as never },
      }),
      2000,
    );
  });

  it("a store without a model → 2020; an unknown model id → 2001", async () => {
    const f = await setup(MODEL);
    const { id } = await f.service.createStore({ tenantId: "tenant-1", name: "empty store" });
    await rejectsWith(
      f.service.write({ storeId: id, writes: { tupleKeys: [t("doc:1#owner@user:anne")] } }),
      2020,
    );
    await rejectsWith(
      f.service.write({
        storeId: f.storeId,
        authorizationModelId: "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        writes: { tupleKeys: [t("doc:1#owner@user:anne")] },
      }),
      2001,
    );
  });
});

describe("contextual tuples are validated like writes → 2027", () => {
  it("on check, list-objects and list-users", async () => {
    const f = await setup(MODEL);
    const bad = [t("doc:1#owner@user:*")];
    const e = await rejectsWith(
      f.service.check({ storeId: f.storeId, tupleKey: t("doc:1#viewer@user:anne"), contextualTuples: bad }),
      2027,
    );
    expect(e.openfgaName).toBe("invalid_tuple");
    expect(e.detail).toMatch(/Invalid tuple 'doc:1#owner@user:\*'. Reason: type 'user:\*' is not an allowed/);
    await rejectsWith(
      f.service.listObjects({
        storeId: f.storeId,
        type: "doc",
        relation: "viewer",
        user: "user:anne",
        contextualTuples: bad,
      }),
      2027,
    );
    await rejectsWith(
      f.service.listUsers({
        storeId: f.storeId,
        object: { type: "doc", id: "1" },
        relation: "viewer",
        userFilters: [{ type: "user" }],
        contextualTuples: bad,
      }),
      2027,
    );
  });

  it("more than 100 contextual tuples → 2000", async () => {
    const f = await setup(MODEL);
    const many = Array.from({ length: 101 }, (_, i) => t(`doc:${i}#owner@user:anne`));
    await rejectsWith(
      f.service.check({ storeId: f.storeId, tupleKey: t("doc:1#viewer@user:anne"), contextualTuples: many }),
      2000,
    );
  });
});
