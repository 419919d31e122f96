/**
 * The AuthzStore contract: every adapter runs this suite, and any difference between them is a bug.
 * Each test works in fresh stores (random ULIDs), so adapters may share one backing table per file.
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { AuthorizationModel, Tuple, TupleChange, TupleKey } from "../../src/authz/model.ts";
import {
  type AuthzStore,
  type TupleFilter,
  TupleWriteConflict,
  type WriteRequest,
} from "../../src/authz/ports.ts";
import { ulidGenerator } from "../../src/shared/ids.ts";

/** Makes a store for one test (it may share data with other tests; the suite uses fresh ids). */
export type MakeAuthzStore = () => AuthzStore | Promise<AuthzStore>;

// In the future: DynamoDB Local deletes items whose TTL attribute (`expires_at`) has passed, within
// seconds, which would race the assertions.
const T0 = Date.UTC(2099, 0, 1);
const newId = () => ulidGenerator.ulid();
const revisions = () => ulidGenerator.ulid();

/** `tk("doc:1#viewer@user:anne")`, optionally with a condition. */
export function tk(spec: string, condition?: TupleKey["condition"]): TupleKey {
  const at = spec.lastIndexOf("@");
  const left = spec.slice(0, at);
  const hash = left.indexOf("#");
  return {
    object: left.slice(0, hash),
    relation: left.slice(hash + 1),
    user: spec.slice(at + 1),
    ...(condition ? { condition } : {}),
  };
}

const str = (k: TupleKey) => `${k.object}#${k.relation}@${k.user}`;
const keys = (tuples: readonly (Tuple | undefined)[]) => tuples.map((t) => (t ? str(t.key) : undefined));
const sorted = (tuples: readonly Tuple[]) => tuples.map((t) => str(t.key)).sort();

function req(writes: TupleKey[], deletes: TupleKey[] = [], opts: Partial<WriteRequest> = {}): WriteRequest {
  return { writes, deletes, onDuplicate: "error", onMissing: "error", ...opts };
}

async function expectConflict(p: Promise<unknown>, reason: TupleWriteConflict["reason"], key?: TupleKey) {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TupleWriteConflict);
  expect((e as TupleWriteConflict).reason).toBe(reason);
  if (key) expect(str((e as TupleWriteConflict).key!)).toBe(str(key));
}

async function collect<T>(
  list: (o: { limit: number; cursor?: string }) => Promise<{ items: T[]; cursor?: string }>,
  limit: number,
): Promise<T[][]> {
  const pages: T[][] = [];
  let cursor: string | undefined;
  do {
    const page = await list(cursor === undefined ? { limit } : { limit, cursor });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    pages.push(page.items);
    cursor = page.cursor;
    if (pages.length > 200) throw new Error("pagination does not terminate");
  } while (cursor !== undefined);
  return pages;
}

const model = (id: string, type = "user"): AuthorizationModel => ({
  id,
  schema_version: "1.1",
  type_definitions: [{ type }, { type: "doc", relations: { viewer: { this: {} } } }],
});

/** Registers the AuthzStore contract tests for one adapter. */
export function describeAuthzStore(name: string, makeStore: MakeAuthzStore): void {
  describe(`AuthzStore contract: ${name}`, () => {
    let store: AuthzStore;
    let s: string;
    const write = (w: TupleKey[], d: TupleKey[] = [], opts: Partial<WriteRequest> = {}, at = T0) =>
      store.write(s, req(w, d, opts), at, revisions);

    beforeEach(async () => {
      store = await makeStore();
      s = newId();
      await store.createStore({ id: s, tenantId: newId(), name: "test", createdAt: T0, updatedAt: T0 });
    });

    describe("stores", () => {
      it("creates, reads and soft-deletes once; missing ids are fine", async () => {
        const rec = { id: newId(), tenantId: newId(), name: "docs", createdAt: T0, updatedAt: T0 };
        await store.createStore(rec);
        expect(await store.getStore(rec.id)).toEqual(rec);
        await store.deleteStore(rec.id, T0 + 5);
        expect(await store.getStore(rec.id)).toEqual({ ...rec, deletedAt: T0 + 5, updatedAt: T0 + 5 });
        await store.deleteStore(rec.id, T0 + 9);
        expect((await store.getStore(rec.id))?.deletedAt).toBe(T0 + 5);
        await store.deleteStore(newId(), T0);
        expect(await store.getStore(newId())).toBeUndefined();
        await expect(store.createStore(rec)).rejects.toMatchObject({ code: "conflict" });
      });

      it("lists a tenant's live stores oldest first, paginated, optionally by exact name", async () => {
        const tenant = newId();
        const ids = Array.from({ length: 6 }, newId);
        const names = ["a", "dup", "b", "dup", "c", "dup"];
        for (const i of [3, 0, 5, 1, 4, 2]) {
          await store.createStore({
            id: ids[i]!,
            tenantId: tenant,
            name: names[i]!,
            createdAt: T0,
            updatedAt: T0,
          });
        }
        await store.createStore({
          id: newId(),
          tenantId: newId(),
          name: "dup",
          createdAt: T0,
          updatedAt: T0,
        });
        await store.deleteStore(ids[2]!, T0 + 1);

        const pages = await collect((o) => store.listStores(tenant, o), 2);
        expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
        expect(pages.flat().map((r) => r.id)).toEqual([ids[0], ids[1], ids[3], ids[4], ids[5]]);

        const dup = await collect((o) => store.listStores(tenant, { ...o, name: "dup" }), 1);
        expect(dup.flat().map((r) => r.id)).toEqual([ids[1], ids[3], ids[5]]);
        expect(dup).toHaveLength(3);
        expect(await store.listStores(newId(), { limit: 10 })).toEqual({ items: [] });
      });
    });

    describe("models and assertions", () => {
      it("stores immutable models, newest first, per store", async () => {
        const ids = [newId(), newId(), newId()];
        for (const id of ids) await store.writeModel(s, model(id), T0);
        await expect(store.writeModel(s, model(ids[0]!, "person"), T0)).rejects.toMatchObject({
          code: "conflict",
        });
        expect(await store.getModel(s, ids[0]!)).toEqual(model(ids[0]!));
        expect(await store.getModel(s, newId())).toBeUndefined();
        expect(await store.getModel(newId(), ids[0]!)).toBeUndefined();

        const pages = await collect((o) => store.listModels(s, o), 2);
        expect(pages.map((p) => p.map((m) => m.id))).toEqual([[ids[2], ids[1]], [ids[0]]]);
        expect(await store.listModels(newId(), { limit: 5 })).toEqual({ items: [] });
      });

      it("replaces assertions per model", async () => {
        const [m1, m2] = [newId(), newId()];
        const a = {
          tuple_key: { object: "doc:1", relation: "viewer", user: "user:anne" },
          expectation: true,
        };
        const b = {
          ...a,
          expectation: false,
          contextual_tuples: [tk("doc:1#viewer@user:bob")],
          context: { x: 1 },
        };
        expect(await store.readAssertions(s, m1)).toEqual([]);
        await store.writeAssertions(s, m1, [a, b]);
        await store.writeAssertions(s, m2, [a]);
        expect(await store.readAssertions(s, m1)).toEqual([a, b]);
        await store.writeAssertions(s, m1, [b]);
        expect(await store.readAssertions(s, m1)).toEqual([b]);
        expect(await store.readAssertions(s, m2)).toEqual([a]);
      });
    });

    describe("tuple reads", () => {
      const cond = { name: "in_region", context: { region: "eu", limits: { n: 1 } } };
      beforeEach(async () => {
        await write([
          tk("doc:1#viewer@user:anne"),
          tk("doc:1#viewer@user:*"),
          tk("doc:1#viewer@group:eng#member"),
          tk("doc:1#viewer@doc:parent#viewer"),
          tk("doc:1#view@user:carl"),
          tk("doc:1#editor@user:bob", cond),
          tk("doc:10#viewer@user:anne"),
          tk("doc:2#viewer@user:annex"),
          tk("docx:1#viewer@user:anne"),
          tk("folder:1#viewer@user:anne"),
        ]);
      });

      it("getTuples answers exact keys positionally, with conditions and timestamps", async () => {
        const got = await store.getTuples(s, [
          tk("doc:1#viewer@user:anne"),
          tk("doc:1#viewer@user:zed"),
          tk("doc:1#viewer@user:*"),
          tk("doc:1#editor@user:bob"),
          tk("doc:1#viewer@group:eng#member"),
          tk("doc:1#owner@user:anne"),
          tk("doc:1#viewer@user:anne"),
        ]);
        expect(keys(got)).toEqual([
          "doc:1#viewer@user:anne",
          undefined,
          "doc:1#viewer@user:*",
          "doc:1#editor@user:bob",
          "doc:1#viewer@group:eng#member",
          undefined,
          "doc:1#viewer@user:anne",
        ]);
        expect(got[3]).toEqual({ key: tk("doc:1#editor@user:bob", cond), timestamp: T0 });
        expect(got[0]).toEqual({ key: tk("doc:1#viewer@user:anne"), timestamp: T0 });
        expect(await store.getTuples(newId(), [tk("doc:1#viewer@user:anne")])).toEqual([undefined]);
      });

      it("readTuples and readUsersetTuples answer object#relation batches positionally", async () => {
        const qs = [
          { object: "doc:1", relation: "viewer" },
          { object: "doc:1", relation: "view" },
          { object: "doc:1", relation: "editor" },
          { object: "doc:nope", relation: "viewer" },
          { object: "doc:1", relation: "viewer" },
        ];
        const all = await store.readTuples(s, qs);
        expect(all.map(sorted)).toEqual([
          [
            "doc:1#viewer@doc:parent#viewer",
            "doc:1#viewer@group:eng#member",
            "doc:1#viewer@user:*",
            "doc:1#viewer@user:anne",
          ],
          ["doc:1#view@user:carl"],
          ["doc:1#editor@user:bob"],
          [],
          all[0]!.map((t) => str(t.key)).sort(),
        ]);
        expect(all[2]![0]).toEqual({ key: tk("doc:1#editor@user:bob", cond), timestamp: T0 });
        const usersets = await store.readUsersetTuples(s, qs);
        expect(usersets.map(sorted)).toEqual([
          ["doc:1#viewer@doc:parent#viewer", "doc:1#viewer@group:eng#member"],
          [],
          [],
          [],
          ["doc:1#viewer@doc:parent#viewer", "doc:1#viewer@group:eng#member"],
        ]);
      });

      it("readByUsers finds objects of a type and relation for exact users", async () => {
        const got = await store.readByUsers(s, [
          { objectType: "doc", relation: "viewer", users: ["user:anne", "user:*"] },
          { objectType: "doc", relation: "viewer", users: ["group:eng#member"] },
          { objectType: "folder", relation: "viewer", users: ["user:anne"] },
          { objectType: "doc", relation: "editor", users: ["user:anne", "user:nobody"] },
          { objectType: "doc", relation: "viewer", users: [] },
        ]);
        expect(got.map(sorted)).toEqual([
          ["doc:1#viewer@user:*", "doc:1#viewer@user:anne", "doc:10#viewer@user:anne"],
          ["doc:1#viewer@group:eng#member"],
          ["folder:1#viewer@user:anne"],
          [],
          [],
        ]);
        const editor = await store.readByUsers(s, [
          { objectType: "doc", relation: "editor", users: ["user:bob"] },
        ]);
        expect(editor[0]).toEqual([{ key: tk("doc:1#editor@user:bob", cond), timestamp: T0 }]);
      });

      it("deleted tuples disappear from every read", async () => {
        await write([], [tk("doc:1#viewer@user:anne"), tk("doc:1#viewer@group:eng#member")]);
        expect(await store.getTuples(s, [tk("doc:1#viewer@user:anne")])).toEqual([undefined]);
        const [fwd] = await store.readTuples(s, [{ object: "doc:1", relation: "viewer" }]);
        expect(sorted(fwd!)).toEqual(["doc:1#viewer@doc:parent#viewer", "doc:1#viewer@user:*"]);
        const [sets] = await store.readUsersetTuples(s, [{ object: "doc:1", relation: "viewer" }]);
        expect(sorted(sets!)).toEqual(["doc:1#viewer@doc:parent#viewer"]);
        const [rev] = await store.readByUsers(s, [
          { objectType: "doc", relation: "viewer", users: ["user:anne"] },
        ]);
        expect(sorted(rev!)).toEqual(["doc:10#viewer@user:anne"]);
        const page = await store.readPage(s, { object: "doc:1", relation: "viewer" }, { limit: 10 });
        expect(sorted(page.items)).toEqual(sorted(fwd!));
        const byUser = await store.readPage(s, { object: "doc:", user: "user:anne" }, { limit: 10 });
        expect(sorted(byUser.items)).toEqual(["doc:10#viewer@user:anne"]);
        const set = await store.readPage(s, { object: "doc:1", user: "group:eng#member" }, { limit: 10 });
        expect(set.items).toEqual([]);
        const whole = sorted((await store.readPage(s, {}, { limit: 100 })).items);
        expect(whole).toHaveLength(8);
        expect(whole).not.toContain("doc:1#viewer@user:anne");
        expect(whole).not.toContain("doc:1#viewer@group:eng#member");
      });

      it("never shows deleted tuples, even when they fill whole pages of a partition", async () => {
        const ks = Array.from({ length: 20 }, (_, i) => tk(`doc:t#viewer@user:u${i}`));
        await write([...ks, tk("doc:t#viewer@group:g#member")]);
        const kept = ["doc:t#viewer@user:u17", "doc:t#viewer@user:u18", "doc:t#viewer@user:u19"];
        await write([], [...ks.filter((k) => !kept.includes(str(k))), tk("doc:t#viewer@group:g#member")]);
        expect(keys(await store.getTuples(s, ks))).toEqual(
          ks.map((k) => (kept.includes(str(k)) ? str(k) : undefined)),
        );
        const [fwd] = await store.readTuples(s, [{ object: "doc:t", relation: "viewer" }]);
        expect(sorted(fwd!)).toEqual(kept);
        expect(await store.readUsersetTuples(s, [{ object: "doc:t", relation: "viewer" }])).toEqual([[]]);
        const [rev] = await store.readByUsers(s, [
          { objectType: "doc", relation: "viewer", users: ks.map((k) => k.user) },
        ]);
        expect(sorted(rev!)).toEqual(kept);
        for (const filter of [{ object: "doc:t" }, { object: "doc:t", relation: "viewer" }, {}]) {
          const pages = await collect((o) => store.readPage(s, filter, o), 1);
          const found = pages.flat().map((t) => str(t.key));
          if (filter.object) expect(found, JSON.stringify(filter)).toEqual(kept);
          else expect(found.filter((k) => k.startsWith("doc:t#")).sort()).toEqual(kept);
        }
        const byUser = await collect((o) => store.readPage(s, { object: "doc:", user: "user:u3" }, o), 1);
        expect(byUser.flat()).toEqual([]);
        expect(
          await store.readPage(s, { object: "doc:t", relation: "viewer", user: "user:u3" }, { limit: 5 }),
        ).toEqual({
          items: [],
        });
      });

      it("a rewritten tuple reads as the new write, and read-changes shows write, delete, write", async () => {
        const key = "doc:1#viewer@user:anne";
        const c1 = { name: "c", context: { v: 1 } };
        const c2 = { name: "c", context: { v: 2 } };
        const since = (await store.headRevision(s))!;
        await write([], [tk(key)], {}, T0 + 1);
        await write([tk(key, c1)], [], {}, T0 + 2);
        await write([], [tk(key)], {}, T0 + 3);
        await write([tk(key, c2)], [], {}, T0 + 4);
        const changes = (await store.readChanges(s, { limit: 10, cursor: since })).items;
        expect(changes.map((c) => [c.operation, str(c.key), c.timestamp, c.key.condition])).toEqual([
          ["delete", key, T0 + 1, undefined],
          ["write", key, T0 + 2, c1],
          ["delete", key, T0 + 3, undefined],
          ["write", key, T0 + 4, c2],
        ]);
        const history = (await collect((o) => store.readChanges(s, o), 3)).flat();
        expect(history.filter((c) => str(c.key) === key).map((c) => c.operation)).toEqual([
          "write",
          "delete",
          "write",
          "delete",
          "write",
        ]);
        const expected = { key: tk(key, c2), timestamp: T0 + 4 };
        expect(await store.getTuples(s, [tk(key)])).toEqual([expected]);
        const [fwd] = await store.readTuples(s, [{ object: "doc:1", relation: "viewer" }]);
        expect(fwd!.filter((t) => str(t.key) === key)).toEqual([expected]);
        const [rev] = await store.readByUsers(s, [
          { objectType: "doc", relation: "viewer", users: ["user:anne"] },
        ]);
        expect(rev!.filter((t) => str(t.key) === key)).toEqual([expected]);
        const page = await store.readPage(
          s,
          { object: "doc:1", relation: "viewer", user: "user:anne" },
          { limit: 5 },
        );
        expect(page.items).toEqual([expected]);
        await expectConflict(write([tk(key)]), "duplicate", tk(key));
      });
    });

    describe("large batches", () => {
      it("writes 100 changes atomically and answers 150 point lookups positionally", async () => {
        const many = Array.from({ length: 100 }, (_, i) => tk(`doc:big#viewer@user:u${i}`));
        const { revision } = await write(many);
        expect(await store.headRevision(s)).toBe(revision);
        const lookups = Array.from({ length: 150 }, (_, i) => tk(`doc:big#viewer@user:u${(i * 7) % 150}`));
        const got = await store.getTuples(s, lookups);
        expect(keys(got)).toEqual(lookups.map((l, i) => ((i * 7) % 150 < 100 ? str(l) : undefined)));
        const [all] = await store.readTuples(s, [{ object: "doc:big", relation: "viewer" }]);
        expect(all).toHaveLength(100);
        const [rev] = await store.readByUsers(s, [
          { objectType: "doc", relation: "viewer", users: many.map((k) => k.user) },
        ]);
        expect(rev).toHaveLength(100);
      });

      it("applies 100 mixed writes and deletes in one write and lists all 100 in read-changes", async () => {
        const old = Array.from({ length: 50 }, (_, i) => tk(`doc:m${i}#viewer@user:u${i}`));
        const { revision: before } = await write(old);
        const fresh = Array.from({ length: 50 }, (_, i) =>
          tk(`doc:n${i}#viewer@user:u${i}`, i % 5 === 0 ? { name: "c", context: { i } } : undefined),
        );
        const { revision } = await write(fresh, old, {}, T0 + 1);
        expect(await store.headRevision(s)).toBe(revision);
        const pages = await collect((o) => store.readChanges(s, { ...o, cursor: o.cursor ?? before }), 30);
        const changes = pages.flat();
        expect(changes.map((c) => `${c.operation} ${str(c.key)}`)).toEqual([
          ...old.map((k) => `delete ${str(k)}`),
          ...fresh.map((k) => `write ${str(k)}`),
        ]);
        expect(changes.map((c) => c.key)).toEqual([...old, ...fresh]);
        expect(changes.every((c) => c.timestamp === T0 + 1)).toBe(true);
        expect(changes.at(-1)!.revision).toBe(revision);
        const all = await collect((o) => store.readChanges(s, o), 40);
        expect(all.flat()).toHaveLength(150);
        expect((await store.readPage(s, {}, { limit: 200 })).items.map((t) => t.key)).toHaveLength(50);
      });

      it("refuses 100 changes with one duplicate among them and applies none of them", async () => {
        const { revision } = await write([tk("doc:x#viewer@user:u42"), tk("doc:y#viewer@user:gone")]);
        const deletes = [tk("doc:y#viewer@user:gone")];
        const writes = Array.from({ length: 99 }, (_, i) => tk(`doc:x#viewer@user:u${i}`));
        await expectConflict(write(writes, deletes), "duplicate", tk("doc:x#viewer@user:u42"));
        expect(await store.headRevision(s)).toBe(revision);
        expect((await store.readChanges(s, { limit: 200 })).items).toHaveLength(2);
        const got = await store.getTuples(s, [...writes, ...deletes]);
        expect(keys(got).filter((k) => k !== undefined)).toEqual([
          "doc:x#viewer@user:u42",
          "doc:y#viewer@user:gone",
        ]);
        const [x] = await store.readTuples(s, [{ object: "doc:x", relation: "viewer" }]);
        expect(sorted(x!)).toEqual(["doc:x#viewer@user:u42"]);
      });
    });

    describe("write semantics", () => {
      it("refuses a duplicate write and applies nothing", async () => {
        const { revision } = await write([tk("doc:1#viewer@user:anne")]);
        await expectConflict(
          write([tk("doc:2#viewer@user:anne"), tk("doc:1#viewer@user:anne")]),
          "duplicate",
          tk("doc:1#viewer@user:anne"),
        );
        expect(await store.getTuples(s, [tk("doc:2#viewer@user:anne")])).toEqual([undefined]);
        expect(await store.headRevision(s)).toBe(revision);
      });

      it("refuses deleting a missing tuple and applies nothing", async () => {
        const { revision } = await write([tk("doc:1#viewer@user:anne")]);
        await expectConflict(
          write([tk("doc:3#viewer@user:anne")], [tk("doc:1#viewer@user:anne"), tk("doc:2#viewer@user:anne")]),
          "missing",
          tk("doc:2#viewer@user:anne"),
        );
        expect(
          keys(await store.getTuples(s, [tk("doc:1#viewer@user:anne"), tk("doc:3#viewer@user:anne")])),
        ).toEqual(["doc:1#viewer@user:anne", undefined]);
        expect(await store.headRevision(s)).toBe(revision);
      });

      it("onDuplicate=ignore skips identical tuples but refuses a different condition", async () => {
        const c = { name: "c", context: { a: 1, b: [1, 2] } };
        await write([tk("doc:1#viewer@user:anne", c)], [], {}, T0);
        const same = { name: "c", context: { b: [1, 2], a: 1 } };
        const r = await write(
          [tk("doc:1#viewer@user:anne", same), tk("doc:2#viewer@user:anne")],
          [],
          { onDuplicate: "ignore" },
          T0 + 1,
        );
        expect(await store.headRevision(s)).toBe(r.revision);
        const got = await store.getTuples(s, [tk("doc:1#viewer@user:anne"), tk("doc:2#viewer@user:anne")]);
        expect(got.map((t) => t?.timestamp)).toEqual([T0, T0 + 1]);
        const changes = (await store.readChanges(s, { limit: 10 })).items;
        expect(changes.map((ch) => str(ch.key))).toEqual([
          "doc:1#viewer@user:anne",
          "doc:2#viewer@user:anne",
        ]);

        const other = { name: "c", context: { a: 2, b: [1, 2] } };
        const opts = { onDuplicate: "ignore" } as const;
        await expectConflict(write([tk("doc:1#viewer@user:anne", other)], [], opts), "condition_mismatch");
        await expectConflict(write([tk("doc:1#viewer@user:anne")], [], opts), "condition_mismatch");
        await expectConflict(
          write([tk("doc:3#viewer@user:x"), tk("doc:2#viewer@user:anne", c)], [], opts),
          "condition_mismatch",
        );
        expect(await store.getTuples(s, [tk("doc:3#viewer@user:x")])).toEqual([undefined]);
        expect(await store.headRevision(s)).toBe(r.revision);
      });

      it("onMissing=ignore skips missing deletes; a write with no effect returns the head", async () => {
        const first = await write([tk("doc:1#viewer@user:anne"), tk("doc:1#viewer@user:bob")]);
        const noop = await write([], [tk("doc:9#viewer@user:anne")], { onMissing: "ignore" });
        expect(noop.revision).toBe(first.revision);
        const mixed = await write([], [tk("doc:9#viewer@user:anne"), tk("doc:1#viewer@user:bob")], {
          onMissing: "ignore",
        });
        expect(mixed.revision > first.revision).toBe(true);
        expect(keys(await store.getTuples(s, [tk("doc:1#viewer@user:bob")]))).toEqual([undefined]);
        const identical = await write([tk("doc:1#viewer@user:anne")], [], { onDuplicate: "ignore" });
        expect(identical.revision).toBe(mixed.revision);
      });

      it("gives every change a fresh increasing revision and returns the last one", async () => {
        expect(await store.headRevision(s)).toBeUndefined();
        const a = await write([tk("doc:1#viewer@user:anne"), tk("doc:1#viewer@user:bob")]);
        const b = await write(
          [tk("doc:1#editor@user:anne", { name: "c" })],
          [tk("doc:1#viewer@user:bob")],
          {},
          T0 + 1,
        );
        expect(b.revision > a.revision).toBe(true);
        expect(await store.headRevision(s)).toBe(b.revision);
        const changes = (await store.readChanges(s, { limit: 10 })).items;
        expect(changes.map((c) => [c.operation, str(c.key), c.timestamp])).toEqual([
          ["write", "doc:1#viewer@user:anne", T0],
          ["write", "doc:1#viewer@user:bob", T0],
          ["delete", "doc:1#viewer@user:bob", T0 + 1],
          ["write", "doc:1#editor@user:anne", T0 + 1],
        ]);
        const revs = changes.map((c) => c.revision);
        expect([...revs].sort()).toEqual(revs);
        expect(new Set(revs).size).toBe(4);
        expect(revs[1]).toBe(a.revision);
        expect(revs[3]).toBe(b.revision);
        expect(changes[3]!.key.condition).toEqual({ name: "c" });
      });
    });

    describe("changelog", () => {
      it("pages oldest first; deletes carry no condition; stores are isolated", async () => {
        const c = { name: "c", context: { x: 1 } };
        await write([tk("doc:1#viewer@user:a", c), tk("doc:2#viewer@user:b")]);
        await write([tk("doc:3#viewer@user:c")], [tk("doc:1#viewer@user:a")], {}, T0 + 1);
        await write([tk("doc:4#viewer@user:d")], [], {}, T0 + 2);
        const pages = await collect((o) => store.readChanges(s, o), 2);
        expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
        const all = pages.flat();
        expect(all.map((ch) => `${ch.operation} ${str(ch.key)}`)).toEqual([
          "write doc:1#viewer@user:a",
          "write doc:2#viewer@user:b",
          "delete doc:1#viewer@user:a",
          "write doc:3#viewer@user:c",
          "write doc:4#viewer@user:d",
        ]);
        expect(all[0]!.key.condition).toEqual(c);
        expect(all[2]!.key).toEqual(tk("doc:1#viewer@user:a"));
        expect(await store.readChanges(newId(), { limit: 10 })).toEqual({ items: [] });
      });

      it("filters by object type and start time", async () => {
        await write([tk("doc:1#viewer@user:a"), tk("folder:1#viewer@user:a")], [], {}, T0);
        await write([tk("folder:2#viewer@user:a"), tk("doc:2#viewer@user:a")], [], {}, T0 + 10);
        await write([tk("doc:3#viewer@user:a")], [], {}, T0 + 20);
        const docs = await collect((o) => store.readChanges(s, { ...o, objectType: "doc" }), 1);
        const objects = (p: TupleChange[][]) => p.flat().map((c) => c.key.object);
        expect(objects(docs)).toEqual(["doc:1", "doc:2", "doc:3"]);
        const recent = await collect((o) => store.readChanges(s, { ...o, startTime: T0 + 10 }), 2);
        expect(objects(recent)).toEqual(["folder:2", "doc:2", "doc:3"]);
        const both = await store.readChanges(s, { limit: 10, startTime: T0 + 10, objectType: "folder" });
        expect(both.items.map((c) => c.key.object)).toEqual(["folder:2"]);
      });
    });

    describe("readPage", () => {
      const tuples = [
        "doc:1#viewer@user:anne",
        "doc:1#viewer@group:eng#member",
        "doc:1#editor@user:anne",
        "doc:2#viewer@user:anne",
        "doc:2#viewer@user:bob",
        "doc:10#viewer@user:anne",
        "folder:1#viewer@user:anne",
        "folder:1#viewer@user:*",
      ];
      beforeEach(async () => {
        await write(tuples.map((t) => tk(t)));
        const other = newId();
        await store.write(
          other,
          req([tk("doc:1#viewer@user:anne"), tk("doc:1#owner@user:z")]),
          T0,
          revisions,
        );
      });
      const read = async (filter: TupleFilter, limit: number) => {
        const pages = await collect((o) => store.readPage(s, filter, o), limit);
        const flat = pages.flat().map((t) => str(t.key));
        expect(new Set(flat).size).toBe(flat.length);
        return { pages, sorted: [...flat].sort(), order: flat };
      };

      it("reads the whole store across pages in a stable order", async () => {
        const first = await read({}, 3);
        expect(first.sorted).toEqual([...tuples].sort());
        expect(first.pages.map((p) => p.length)).toEqual([3, 3, 2]);
        expect((await read({}, 1)).order).toEqual(first.order);
        const page = await store.readPage(s, {}, { limit: 100 });
        expect(page.cursor).toBeUndefined();
        expect(page.items.find((t) => str(t.key) === "doc:1#viewer@user:anne")?.timestamp).toBe(T0);
      });

      it("filters by object, relation and user", async () => {
        const cases: [TupleFilter, string[]][] = [
          [
            { object: "doc:1" },
            ["doc:1#editor@user:anne", "doc:1#viewer@group:eng#member", "doc:1#viewer@user:anne"],
          ],
          [
            { object: "doc:1", relation: "viewer" },
            ["doc:1#viewer@group:eng#member", "doc:1#viewer@user:anne"],
          ],
          [{ object: "doc:1", relation: "viewer", user: "user:anne" }, ["doc:1#viewer@user:anne"]],
          [{ object: "doc:1", user: "user:anne" }, ["doc:1#editor@user:anne", "doc:1#viewer@user:anne"]],
          [
            { object: "doc:", user: "user:anne" },
            [
              "doc:10#viewer@user:anne",
              "doc:1#editor@user:anne",
              "doc:1#viewer@user:anne",
              "doc:2#viewer@user:anne",
            ],
          ],
          [
            { object: "doc:", relation: "viewer", user: "user:anne" },
            ["doc:10#viewer@user:anne", "doc:1#viewer@user:anne", "doc:2#viewer@user:anne"],
          ],
          [{ object: "folder:", user: "user:*" }, ["folder:1#viewer@user:*"]],
          [{ object: "doc:3" }, []],
        ];
        for (const [filter, expected] of cases) {
          expect((await read(filter, 2)).sorted, JSON.stringify(filter)).toEqual([...expected].sort());
        }
      });
    });
  });
}
