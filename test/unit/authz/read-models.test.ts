import { describe, expect, it } from "vitest";
import { MemoryAuthzStore } from "../../../src/authz/adapters/memory.ts";
import { createAuthzService } from "../../../src/authz/index.ts";
import { ManualClock } from "../../../src/shared/clock.ts";
import { rejectsWith, setup, t } from "./helpers.ts";

const MODEL = `model
  schema 1.1
type user
type folder
  relations
    define viewer: [user]
type doc
  relations
    define viewer: [user, folder#viewer]
    define owner: [user]
`;

describe("read", () => {
  it("filters by partial keys as OpenFGA does and paginates", async () => {
    const f = await setup(
      MODEL,
      [
        "doc:1#viewer@user:anne",
        "doc:1#owner@user:anne",
        "doc:2#viewer@user:bob",
        "folder:x#viewer@user:anne",
      ].map((s) => t(s)),
    );
    const r = (tupleKey?: { object?: string; relation?: string; user?: string }) =>
      f.service
        .read({ storeId: f.storeId, ...(tupleKey ? { tupleKey } : {}) })
        .then((x) => x.tuples.map((tu) => tu.key));
    expect(await r()).toHaveLength(4);
    expect(await r({ object: "doc:1" })).toHaveLength(2);
    expect(await r({ object: "doc:1", relation: "viewer" })).toEqual([t("doc:1#viewer@user:anne")]);
    expect(await r({ object: "doc:", user: "user:anne" })).toHaveLength(2);
    await rejectsWith(r({ object: "doc:" }), 2000);
    await rejectsWith(r({ user: "user:anne" }), 2000);
    await rejectsWith(r({ relation: "viewer" }), 2000);

    const p1 = await f.service.read({ storeId: f.storeId, pageSize: 3 });
    expect(p1.tuples).toHaveLength(3);
    expect(p1.continuationToken).not.toBe("");
    const p2 = await f.service.read({
      storeId: f.storeId,
      pageSize: 3,
      continuationToken: p1.continuationToken,
    });
    expect(p2.tuples).toHaveLength(1);
    expect(p2.continuationToken).toBe("");
    await rejectsWith(f.service.read({ storeId: f.storeId, pageSize: 0 }), 2039);
    await rejectsWith(f.service.read({ storeId: f.storeId, pageSize: 101 }), 2039);
    await rejectsWith(f.service.read({ storeId: f.storeId, continuationToken: "%%%" }), 2007);
    await rejectsWith(
      f.service.read({
        storeId: f.storeId,
        tupleKey: { object: "doc:1" },
        continuationToken: p1.continuationToken,
      }),
      2007,
    );
  });
});

describe("readChanges", () => {
  it("lists changes oldest first, filters by type and keeps a pollable token", async () => {
    const f = await setup(MODEL, [t("doc:1#viewer@user:anne"), t("folder:x#viewer@user:anne")]);
    await f.service.write({ storeId: f.storeId, deletes: { tupleKeys: [t("doc:1#viewer@user:anne")] } });
    const all = await f.service.readChanges({ storeId: f.storeId });
    expect(all.changes.map((c) => [c.operation, c.key.object])).toEqual([
      ["write", "doc:1"],
      ["write", "folder:x"],
      ["delete", "doc:1"],
    ]);
    const docs = await f.service.readChanges({ storeId: f.storeId, type: "doc", pageSize: 1 });
    expect(docs.changes).toHaveLength(1);
    const next = await f.service.readChanges({
      storeId: f.storeId,
      type: "doc",
      pageSize: 1,
      continuationToken: docs.continuationToken,
    });
    expect(next.changes.map((c) => c.operation)).toEqual(["delete"]);
    const empty = await f.service.readChanges({
      storeId: f.storeId,
      type: "doc",
      continuationToken: next.continuationToken,
    });
    expect(empty.changes).toEqual([]);
    expect(empty.continuationToken).toBe(next.continuationToken); // poll with the same token
    await f.service.write({ storeId: f.storeId, writes: { tupleKeys: [t("doc:9#owner@user:zed")] } });
    const polled = await f.service.readChanges({
      storeId: f.storeId,
      type: "doc",
      continuationToken: empty.continuationToken,
    });
    expect(polled.changes.map((c) => c.key.object)).toEqual(["doc:9"]);
    await rejectsWith(
      f.service.readChanges({
        storeId: f.storeId,
        type: "folder",
        continuationToken: docs.continuationToken,
      }),
      2052,
    );
    await rejectsWith(f.service.readChanges({ storeId: f.storeId, startTime: "2999-01-01T00:00:00Z" }), 2059);
  });
});

describe("models", () => {
  it("stores immutable models with ULID ids; the latest is the default", async () => {
    const store = new MemoryAuthzStore();
    const clock = new ManualClock();
    const service = createAuthzService({ store, clock, options: { latestModelTtlMs: 0 } });
    const { id: storeId } = await service.createStore({ tenantId: "t1", name: "models" });
    await rejectsWith(service.check({ storeId, tupleKey: t("doc:1#viewer@user:anne") }), 2020);
    const first = await service.writeAuthorizationModelDsl(storeId, MODEL);
    expect(first.authorizationModelId).toMatch(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
    await service.write({ storeId, writes: { tupleKeys: [t("doc:1#owner@user:anne")] } });
    const second = await service.writeAuthorizationModelDsl(
      storeId,
      MODEL.replace("define owner: [user]", "define owner: [folder#viewer]"),
    );
    // Latest model: the user-typed owner tuple is no longer allowed, so it is ignored.
    expect((await service.check({ storeId, tupleKey: t("doc:1#owner@user:anne") })).allowed).toBe(false);
    expect(
      (
        await service.check({
          storeId,
          authorizationModelId: first.authorizationModelId,
          tupleKey: t("doc:1#owner@user:anne"),
        })
      ).allowed,
    ).toBe(true);
    const list = await service.readAuthorizationModels(storeId);
    expect(list.authorizationModels.map((m) => m.id)).toEqual([
      second.authorizationModelId,
      first.authorizationModelId,
    ]);
    const m = await service.readAuthorizationModel(storeId, first.authorizationModelId);
    expect(m.schema_version).toBe("1.1");
    await rejectsWith(service.readAuthorizationModel(storeId, "01ARZ3NDEKTSV4RRFFQ69G5FAV"), 2001);
    await rejectsWith(service.readAuthorizationModel(storeId, "not-an-id"), 2000);
  });

  it("accepts JSON models and modular models (schema 1.2)", async () => {
    const f = await setup(MODEL);
    const json = await f.service.readAuthorizationModel(f.storeId, f.modelId);
    const again = await f.service.writeAuthorizationModel(f.storeId, {
      schema_version: json.schema_version,
      type_definitions: json.type_definitions,
    });
    expect(again.authorizationModelId).not.toBe(f.modelId);
    const { parseModularDsl } = await import("../../../src/authz/index.ts");
    const modular = await parseModularDsl("schema: '1.2'\ncontents:\n  - core.fga\n  - docs.fga\n", [
      { name: "core.fga", contents: "module core\n\ntype user\n" },
      { name: "docs.fga", contents: "module docs\n\ntype doc\n  relations\n    define viewer: [user]\n" },
    ]);
    expect(modular.schema_version).toBe("1.2");
    const id = await f.service.writeAuthorizationModel(f.storeId, modular);
    await f.service.write({
      storeId: f.storeId,
      authorizationModelId: id.authorizationModelId,
      writes: { tupleKeys: [t("doc:7#viewer@user:kim")] },
    });
    expect(
      (await f.service.check({ storeId: f.storeId, tupleKey: t("doc:7#viewer@user:kim") })).allowed,
    ).toBe(true);
  });
});

describe("stores", () => {
  it("creates, gets, lists and soft-deletes stores per tenant", async () => {
    const service = createAuthzService({ store: new MemoryAuthzStore(), clock: new ManualClock() });
    const a = await service.createStore({ tenantId: "t1", name: "store a" });
    await service.createStore({ tenantId: "t1", name: "store b" });
    await service.createStore({ tenantId: "t2", name: "other tenant" });
    expect((await service.getStore(a.id)).name).toBe("store a");
    const page = await service.listStores("t1", { pageSize: 1 });
    expect(page.stores).toHaveLength(1);
    const rest = await service.listStores("t1", { pageSize: 1, continuationToken: page.continuationToken });
    expect(rest.stores.map((s) => s.name)).toEqual(["store b"]);
    await service.deleteStore(a.id);
    await service.deleteStore(a.id);
    await rejectsWith(service.getStore(a.id), 5002);
    await rejectsWith(service.createStore({ tenantId: "t1", name: "x" }), 2000);
  });
});

describe("assertions", () => {
  it("validates and stores assertions per model", async () => {
    const f = await setup(MODEL);
    const assertions = [
      { tuple_key: { object: "doc:1", relation: "viewer", user: "user:anne" }, expectation: true },
    ];
    await f.service.writeAssertions(f.storeId, f.modelId, assertions);
    expect(await f.service.readAssertions(f.storeId, f.modelId)).toEqual({
      authorizationModelId: f.modelId,
      assertions,
    });
    await rejectsWith(
      f.service.writeAssertions(f.storeId, f.modelId, [
        { tuple_key: { object: "doc:1", relation: "nope", user: "user:anne" }, expectation: true },
      ]),
      2000,
    );
    await rejectsWith(
      f.service.writeAssertions(
        f.storeId,
        f.modelId,
        Array.from({ length: 101 }, () => assertions[0]!),
      ),
      2033,
    );
  });
});
