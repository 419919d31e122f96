/**
 * The engine's cross-request sub-problem cache (src/authz/subproblem-cache.ts): used (store reads
 * disappear when warm), invalidated by every write, bypassed by contextual tuples, never holding
 * condition-dependent, cycle-dependent or depth-limited results; and a randomized differential test
 * that the cached engine answers exactly like the uncached one (sync and batched paths) on cyclic
 * models with exclusions, intersections and writes in between.
 */
import { describe, expect, it } from "vitest";
import { MemoryAuthzStore } from "../../../src/authz/adapters/memory.ts";
import { AuthzError, type AuthzOptions, createAuthzService } from "../../../src/authz/index.ts";
import type { TupleKey } from "../../../src/authz/model.ts";
import type { AuthzStore } from "../../../src/authz/ports.ts";
import { SubproblemCache } from "../../../src/authz/subproblem-cache.ts";
import { buildTypeSystem } from "../../../src/authz/typesystem.ts";
import { checker, rejectsWith, setup, t } from "./helpers.ts";
import { createSyncMemoryStore } from "./sync-store.ts";

const TEAMS = `model
  schema 1.1
type user
type team
  relations
    define member: [user, user with small, team#member]
type repo
  relations
    define reader: [user, team#member]
condition small(x: int) {
  x < 10
}`;

const ENGINE: AuthzOptions = { checkCacheSize: 0 };

/** A memory store that counts `readObjectSync` per object: which objects a check had to read. */
function readCounting(inner: MemoryAuthzStore = new MemoryAuthzStore()) {
  const reads: string[] = [];
  const store = new Proxy(inner, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== "function") return v;
      const bound = (v as (...a: unknown[]) => unknown).bind(target);
      if (prop !== "readObjectSync") return bound;
      return (storeId: string, object: string) => {
        reads.push(object);
        return bound(storeId, object);
      };
    },
  });
  return { store: store as AuthzStore, reads };
}

describe("sub-problem cache", () => {
  it("answers hops to other objects from the cache once warm (the checked object is always read)", async () => {
    const { store, reads } = readCounting();
    const f = await setup(
      TEAMS,
      [t("team:a#member@user:anne"), t("repo:1#reader@team:a#member")],
      ENGINE,
      store,
    );
    const check = checker(f);
    expect(await check("repo:1#reader@user:anne")).toBe(true);
    expect(reads).toContain("team:a");
    reads.length = 0;
    expect(await check("repo:1#reader@user:anne")).toBe(true);
    expect(reads).toEqual(["repo:1"]);
  });

  it("is invalidated by every write (grant and revoke)", async () => {
    const f = await setup(TEAMS, [t("repo:1#reader@team:a#member")], ENGINE);
    const check = checker(f);
    const w = (k: TupleKey) => f.service.write({ storeId: f.storeId, writes: { tupleKeys: [k] } });
    const d = (k: TupleKey) => f.service.write({ storeId: f.storeId, deletes: { tupleKeys: [k] } });
    expect(await check("repo:1#reader@user:anne")).toBe(false); // team:a#member@anne = false, cached
    expect(await check("repo:1#reader@user:anne")).toBe(false);
    await w(t("team:a#member@user:anne"));
    expect(await check("repo:1#reader@user:anne")).toBe(true);
    await w(t("repo:2#reader@user:bob")); // an unrelated write also moves the revision
    expect(await check("repo:1#reader@user:anne")).toBe(true);
    await d(t("team:a#member@user:anne"));
    expect(await check("repo:1#reader@user:anne")).toBe(false);
    // Nested: a team added inside team:a.
    await w(t("team:b#member@user:anne"));
    expect(await check("repo:1#reader@user:anne")).toBe(false);
    await w(t("team:a#member@team:b#member"));
    expect(await check("repo:1#reader@user:anne")).toBe(true);
  });

  it("is bypassed by contextual tuples, in both directions", async () => {
    const f = await setup(TEAMS, [t("repo:1#reader@team:a#member")], ENGINE);
    const check = checker(f);
    const ctx = { contextualTuples: [t("team:a#member@user:anne")] };
    expect(await check("repo:1#reader@user:anne")).toBe(false); // caches team:a#member@anne = false
    expect(await check("repo:1#reader@user:anne", ctx)).toBe(true); // not hidden by the cached false
    expect(await check("repo:1#reader@user:anne")).toBe(false); // and the contextual grant is not cached
    const batch = await f.service.batchCheck({
      storeId: f.storeId,
      checks: [
        { tupleKey: t("repo:1#reader@user:anne"), correlationId: "plain" },
        {
          tupleKey: t("repo:1#reader@user:anne"),
          correlationId: "ctx",
          contextualTuples: ctx.contextualTuples,
        },
      ],
    });
    expect(batch.result).toEqual({ plain: { allowed: false }, ctx: { allowed: true } });
  });

  it("never keeps results that evaluated a condition (they depend on the request context)", async () => {
    const f = await setup(
      TEAMS,
      [t("team:a#member@user:anne", { name: "small" }), t("repo:1#reader@team:a#member")],
      ENGINE,
    );
    const check = checker(f);
    expect(await check("repo:1#reader@user:anne", { context: { x: 1 } })).toBe(true);
    expect(await check("repo:1#reader@user:anne", { context: { x: 50 } })).toBe(false);
    expect(await check("repo:1#reader@user:anne", { context: { x: 2 } })).toBe(true);
    await rejectsWith(f.service.check({ storeId: f.storeId, tupleKey: t("repo:1#reader@user:anne") }), 2000);
  });

  it("never hides a resolution-depth error (2002) behind a result computed higher up", async () => {
    const tuples = [
      t("team:g3#member@user:anne"),
      t("team:g2#member@team:g3#member"),
      t("team:g1#member@team:g2#member"),
      t("team:g0#member@team:g1#member"),
      t("repo:shallow#reader@team:g1#member"),
      t("repo:deep#reader@team:g0#member"),
    ];
    for (const options of [ENGINE, { ...ENGINE, subproblemCacheSize: 0 }]) {
      const f = await setup(TEAMS, tuples, { ...options, maxResolutionDepth: 4 });
      // repo:shallow → g1 (depth 1) → g2 → g3 (depth 3): allowed; caches team:g1#member (height 2).
      expect(await checker(f)("repo:shallow#reader@user:anne")).toBe(true);
      // repo:deep → g0 (1) → g1 (2) → g2 (3) → g3 (4): too deep, with or without the cache.
      await rejectsWith(
        f.service.check({ storeId: f.storeId, tupleKey: t("repo:deep#reader@user:anne") }),
        2002,
      );
    }
  });

  it("is not used for HIGHER_CONSISTENCY or explain, and explain still shows the whole path", async () => {
    const { store, reads } = readCounting();
    const f = await setup(
      TEAMS,
      [t("team:a#member@user:anne"), t("repo:1#reader@team:a#member")],
      ENGINE,
      store,
    );
    const tupleKey = t("repo:1#reader@user:anne");
    await f.service.check({ storeId: f.storeId, tupleKey }); // warm
    reads.length = 0;
    expect(
      await f.service.check({ storeId: f.storeId, tupleKey, consistency: "HIGHER_CONSISTENCY" }),
    ).toEqual({
      allowed: true,
    });
    expect(reads).toContain("team:a");
    const r = await f.service.check({ storeId: f.storeId, tupleKey, explain: true });
    expect(r.explanation).toMatchObject({ kind: "userset", via: { kind: "direct", object: "team:a" } });
  });
});

describe("SubproblemCache", () => {
  const ts = buildTypeSystem({
    id: "m",
    schema_version: "1.1",
    type_definitions: [
      { type: "user" },
      { type: "team", relations: { member: { this: {} }, admin: { this: {} } } },
    ],
  });
  const member = ts.relation("team", "member")!;
  const admin = ts.relation("team", "admin")!;

  it("scopes by store and model, and a new revision empties the scope", () => {
    const c = new SubproblemCache(100);
    c.forUser("s", "m", "r1", "user:a").set(7, member, 1, 2);
    expect(c.forUser("s", "m", "r1", "user:a").get(7, member)).toBe((1 + 1) | (2 << 2));
    expect(c.forUser("s", "m", "r1", "user:a").get(7, admin)).toBe(0);
    expect(c.forUser("s", "m", "r1", "user:b").get(7, member)).toBe(0);
    expect(c.forUser("s", "m2", "r1", "user:a").get(7, member)).toBe(0);
    expect(c.forUser("s2", "m", "r1", "user:a").get(7, member)).toBe(0);
    const stale = c.forUser("s", "m", "r1", "user:a");
    expect(c.forUser("s", "m", "r2", "user:a").get(7, member)).toBe(0); // a write happened
    stale.set(8, member, 0, 0); // a handle from the old revision cannot write into the new one
    expect(c.forUser("s", "m", "r2", "user:a").get(8, member)).toBe(0);
    expect(c.stats.invalidations).toBe(1);
  });

  it("stays bounded: when full, it starts over, and old handles re-resolve their user", () => {
    const c = new SubproblemCache(10);
    const h = c.forUser("s", "m", "r", "user:a");
    for (let i = 0; i < 9; i++) h.set(i, member, 1, 0);
    expect(c.size).toBe(9);
    c.forUser("s", "m", "r", "user:b").set(100, member, 0, 0); // the 10th entry: reset
    expect(c.size).toBe(0);
    expect(c.stats.resets).toBe(1);
    c.forUser("s", "m", "r", "user:c").set(5, member, 0, 0); // user:c now has the id user:a had
    expect(h.get(5, member)).toBe(0);
    h.set(6, member, 1, 0);
    expect(h.get(6, member)).toBe(2);
    expect(c.forUser("s", "m", "r", "user:c").get(6, member)).toBe(0);
  });

  it("grows its table past the initial size", () => {
    const c = new SubproblemCache(100_000);
    const h = c.forUser("s", "m", "r", "user:a");
    for (let i = 0; i < 5000; i++) h.set(i, i % 2 ? member : admin, (i % 2) as 0 | 1, i % 7);
    for (let i = 0; i < 5000; i++) {
      expect(h.get(i, i % 2 ? member : admin)).toBe(((i % 2) + 1) | ((i % 7) << 2));
      expect(h.get(i, i % 2 ? admin : member)).toBe(0);
    }
  });
});

// ---- differential test: cached engine == uncached engine, on random cyclic data with writes ----

const CYCLIC = `model
  schema 1.1
type user
type group
  relations
    define member: [user, user with small, user:*, group#member, group#allowed]
    define banned: [user, group#member]
    define allowed: member but not banned
    define both: member and owner
    define owner: [user, group#member]
type folder
  relations
    define parent: [folder, group]
    define viewer: [user, group#member, group#allowed, folder#viewer] or viewer from parent or member from parent
    define editor: [user, group#both] or editor from parent
    define blocked: [user, group#member]
    define can_view: viewer but not blocked
    define can_edit: editor and can_view
condition small(x: int) {
  x < 10
}
`;

function prng(seed0: number): () => number {
  let seed = seed0;
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = seed;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function randomTuple(rand: () => number): TupleKey {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const g = () => `group:g${Math.floor(rand() * 6)}`;
  const f = () => `folder:f${Math.floor(rand() * 6)}`;
  const u = () => `user:u${Math.floor(rand() * 4)}`;
  const kind = Math.floor(rand() * 10);
  switch (kind) {
    case 0:
      return {
        object: g(),
        relation: "member",
        user: pick([u(), u(), `${g()}#member`, `${g()}#allowed`, "user:*"]),
      };
    case 1:
      return { object: g(), relation: pick(["banned", "owner"]), user: pick([u(), `${g()}#member`]) };
    case 2:
    case 3:
      return { object: f(), relation: "parent", user: pick([f(), f(), g()]) };
    case 4:
    case 5:
      return {
        object: f(),
        relation: "viewer",
        user: pick([u(), `${g()}#member`, `${g()}#allowed`, `${f()}#viewer`]),
      };
    case 6:
      return { object: f(), relation: "editor", user: pick([u(), `${g()}#both`]) };
    case 7:
      return { object: f(), relation: "blocked", user: pick([u(), `${g()}#member`]) };
    case 8:
      return { object: g(), relation: "member", user: u(), condition: { name: "small" } };
    default:
      return { object: g(), relation: "member", user: u() };
  }
}

function randomCheck(rand: () => number) {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const folder = rand() < 0.7;
  const object = folder ? `folder:f${Math.floor(rand() * 6)}` : `group:g${Math.floor(rand() * 6)}`;
  const relation = folder
    ? pick(["viewer", "editor", "can_view", "can_edit", "blocked"])
    : pick(["member", "allowed", "both", "banned"]);
  const user = pick([`user:u${Math.floor(rand() * 5)}`, `group:g${Math.floor(rand() * 6)}#member`, "user:*"]);
  const context = pick([undefined, undefined, { x: 3 }, { x: 30 }]);
  return { tupleKey: { object, relation, user }, ...(context ? { context } : {}) };
}

const outcome = (p: Promise<{ allowed: boolean }>) =>
  p.then(
    (r) => (r.allowed ? "allowed" : "denied"),
    (e: unknown) => (e instanceof AuthzError ? `error ${e.openfgaCode}` : `exception ${String(e)}`),
  );

/** 12 random data sets per setup; `SEEDS=500 npx vitest run <this file>` searches wider. */
describe("sub-problem cache: differential test against the uncached engine", () => {
  const setups: [string, () => AuthzStore, AuthzOptions][] = [
    ["memory store (indexed sync reads)", () => new MemoryAuthzStore(), ENGINE],
    ["plain sync store (wrapped index)", createSyncMemoryStore, ENGINE],
    ["depth limit 6", () => new MemoryAuthzStore(), { ...ENGINE, maxResolutionDepth: 6 }],
    ["depth limit 3", () => new MemoryAuthzStore(), { ...ENGINE, maxResolutionDepth: 3 }],
  ];
  it.each(setups)(
    "%s: same answers on random cyclic data, with writes in between",
    async (_l, make, opts) => {
      for (let seed = 1; seed <= Number(process.env.SEEDS ?? 12); seed++) {
        const rand = prng(seed);
        const store = make();
        const cached = createAuthzService({ store, options: opts });
        const reference = createAuthzService({
          store,
          options: { ...opts, subproblemCacheSize: 0 },
        });
        const batched = createAuthzService({
          store,
          options: { ...opts, subproblemCacheSize: 0, forceBatchedReads: true },
        });
        const { id: storeId } = await cached.createStore({ tenantId: "t", name: "differential" });
        await cached.writeAuthorizationModelDsl(storeId, CYCLIC);
        const written = new Map<string, TupleKey>();
        const checks = Array.from({ length: 40 }, () => randomCheck(rand));
        for (let round = 0; round < 6; round++) {
          // A few random writes (and deletes) per round: each one must invalidate the cache.
          for (let i = 0; i < 8; i++) {
            const k = randomTuple(rand);
            if (k.user === `${k.object}#${k.relation}`) continue; // implicit: not writable
            const id = `${k.object}#${k.relation}@${k.user}`;
            if (written.has(id)) {
              if (rand() < 0.5) {
                await cached.write({ storeId, deletes: { tupleKeys: [k] } });
                written.delete(id);
              }
            } else {
              await cached.write({ storeId, writes: { tupleKeys: [k] } });
              written.set(id, k);
            }
          }
          // Every check twice (the second pass is warm), in a shuffled order each time.
          for (let pass = 0; pass < 2; pass++) {
            const order = [...checks].sort(() => rand() - 0.5);
            for (const q of order) {
              const want = await outcome(reference.check({ storeId, ...q }));
              const got = await outcome(cached.check({ storeId, ...q }));
              const viaBatch = await outcome(batched.check({ storeId, ...q }));
              const { object, relation, user } = q.tupleKey;
              const where = `seed ${seed} round ${round} pass ${pass}: ${object}#${relation}@${user} ${JSON.stringify(q.context)}`;
              expect(`${where} → ${got}`).toBe(`${where} → ${want}`);
              expect(`${where} (batched) → ${viaBatch}`).toBe(`${where} (batched) → ${want}`);
            }
          }
        }
      }
    },
  );
});
