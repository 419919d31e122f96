/**
 * Cross-request cache of Check SUB-PROBLEM results (OpenFGA's "check query cache" idea), per
 * container: "does user U have relation R on object O", for the sub-problems a check reaches over a
 * userset (`team:x#member` in `[team#member]`) or a tuple-to-userset edge (`repo_admin from owner`).
 * These are the shared parts of the graph (teams, groups, organizations, parent folders) that many
 * objects point to. The object a check asks about is always resolved by the engine itself: whole
 * results are the check cache's business (caching/check-results.ts), not this one's.
 *
 * Keys and invalidation: entries live in a scope per (store, model) stamped with the store's head
 * revision; a lookup with another revision empties the scope first, so any write invalidates it and a
 * result is never older than the data it was computed from. Only stores that report their revision
 * synchronously (`SyncTupleReader`) use it; their whole check runs synchronously after reading the
 * revision, so no write can interleave.
 *
 * What is stored (decided by the evaluator, see check.ts): only definite answers (allowed / not
 * allowed) whose evaluation did not evaluate a condition (those depend on the request context), did
 * not meet a cycle (a result cut short by the current path depends on that path) and did not hit the
 * depth limit. Each entry keeps the height of the resolution below it and is used only where
 * `depth + height` stays under the depth limit, so the cache never hides a 2002 a fresh evaluation
 * would report. Requests with contextual tuples, `explain` or `HIGHER_CONSISTENCY` do not use it.
 *
 * Layout: per scope, users get dense ids (one Map probe per request); entries sit in an
 * open-addressing table of int32 quadruples `[user + 1, objectId, relation uid, value]`, where
 * `objectId` comes from the store's object index (indexed-tuples.ts) and the relation uid from the
 * compiled model, so a lookup hashes three integers and touches one cache line. Value:
 * `(outcome + 1) | (height << 2)`. Bounded by `max` entries over all scopes; when full, every scope
 * starts over (cheap, and the working set refills on its own).
 */
import type { RelationDef } from "./typesystem.ts";

const INITIAL_SLOTS = 1024;

class Scope {
  revision: string;
  userIds = new Map<string, number>();
  /** 4 int32 per slot: user + 1 (0: empty), object id, relation uid, value. */
  table = new Int32Array(INITIAL_SLOTS * 4);
  mask = INITIAL_SLOTS - 1;
  count = 0;
  /** Bumped by every reset: user ids of an older epoch mean nothing. */
  epoch = 0;

  constructor(revision: string) {
    this.revision = revision;
  }

  reset(revision: string): void {
    this.epoch++;
    this.revision = revision;
    this.userIds = new Map();
    this.table = new Int32Array(INITIAL_SLOTS * 4);
    this.mask = INITIAL_SLOTS - 1;
    this.count = 0;
  }

  #grow(): void {
    const old = this.table;
    const slots = (this.mask + 1) * 2;
    const t = new Int32Array(slots * 4);
    const mask = slots - 1;
    for (let i = 0; i < old.length; i += 4) {
      const u = old[i]!;
      if (u === 0) continue;
      let s = slot(u, old[i + 1]!, mask);
      while (t[s * 4] !== 0) s = (s + 1) & mask;
      t.set(old.subarray(i, i + 4), s * 4);
    }
    this.table = t;
    this.mask = mask;
  }

  get(user1: number, objectId: number, uid: number): number {
    const t = this.table;
    const mask = this.mask;
    for (let s = slot(user1, objectId, mask); ; s = (s + 1) & mask) {
      const i = s * 4;
      const u = t[i]!;
      if (u === 0) return 0;
      if (u === user1 && t[i + 1] === objectId && t[i + 2] === uid) return t[i + 3]!;
    }
  }

  /** Returns whether a new entry was added. */
  put(user1: number, objectId: number, uid: number, value: number): boolean {
    if ((this.count + 1) * 2 > this.mask + 1) this.#grow();
    const t = this.table;
    const mask = this.mask;
    for (let s = slot(user1, objectId, mask); ; s = (s + 1) & mask) {
      const i = s * 4;
      const u = t[i]!;
      if (u === 0) {
        t[i] = user1;
        t[i + 1] = objectId;
        t[i + 2] = uid;
        t[i + 3] = value;
        this.count++;
        return true;
      }
      if (u === user1 && t[i + 1] === objectId && t[i + 2] === uid) return false;
    }
  }
}

/**
 * The home slot of a key. The relation is left out on purpose: every relation of one (user, object)
 * starts at the same slot and, by linear probing, sits in the next slots, i.e. on the same cache line
 * (4 slots of 16 bytes), so the hops of one check to one object (`repo_admin`, `repo_writer`,
 * `repo_reader` from the same owner) cost one cache miss instead of three.
 */
function slot(user1: number, objectId: number, mask: number): number {
  let h = Math.imul(user1, 0x9e3779b1) ^ Math.imul(objectId + 0x7f4a7c15, 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 13;
  return h & mask;
}

/** Counters, for metrics and the benchmark. */
export interface SubproblemCacheStats {
  hits: number;
  stores: number;
  invalidations: number;
  resets: number;
}

export class SubproblemCache {
  readonly #max: number;
  /** storeId → modelId → scope. */
  readonly #scopes = new Map<string, Map<string, Scope>>();
  #size = 0;
  #lastStore = "";
  #lastModel = "";
  #last: Scope | undefined;
  readonly stats: SubproblemCacheStats = { hits: 0, stores: 0, invalidations: 0, resets: 0 };

  /** @param max entries kept over all stores; 0 disables the cache. */
  constructor(max: number) {
    this.#max = max;
  }

  get enabled(): boolean {
    return this.#max > 0;
  }

  /** Entries held. */
  get size(): number {
    return this.#size;
  }

  /** Drops everything (e.g. to measure first-touch behaviour). */
  clear(): void {
    this.#scopes.clear();
    this.#last = undefined;
    this.#size = 0;
  }

  #scope(storeId: string, modelId: string, revision: string): Scope {
    let scope = this.#last;
    if (scope === undefined || storeId !== this.#lastStore || modelId !== this.#lastModel) {
      let models = this.#scopes.get(storeId);
      if (models === undefined) {
        models = new Map();
        this.#scopes.set(storeId, models);
      }
      scope = models.get(modelId);
      if (scope === undefined) {
        scope = new Scope(revision);
        models.set(modelId, scope);
      }
      this.#last = scope;
      this.#lastStore = storeId;
      this.#lastModel = modelId;
    }
    if (scope.revision !== revision) {
      this.#size -= scope.count;
      scope.reset(revision);
      this.stats.invalidations++;
    }
    return scope;
  }

  /** The results of one user within (store, model) at `revision`; a new revision empties the scope. */
  forUser(storeId: string, modelId: string, revision: string, user: string): UserResults {
    const scope = this.#scope(storeId, modelId, revision);
    return new UserResults(this, scope, user, scope.userIds.get(user) ?? -1);
  }

  /** @internal Accounts for a new entry; when full, every scope starts over. */
  added(): void {
    this.stats.stores++;
    if (++this.#size < this.#max) return;
    for (const models of this.#scopes.values()) for (const s of models.values()) s.reset(s.revision);
    this.#size = 0;
    this.stats.resets++;
  }
}

/** One request's handle on its user's cached sub-problem results. */
export class UserResults {
  readonly #cache: SubproblemCache;
  readonly #scope: Scope;
  readonly #user: string;
  readonly #revision: string;
  #epoch: number;
  #userId: number;

  constructor(cache: SubproblemCache, scope: Scope, user: string, userId: number) {
    this.#cache = cache;
    this.#scope = scope;
    this.#user = user;
    this.#revision = scope.revision;
    this.#epoch = scope.epoch;
    this.#userId = userId;
  }

  /** After a reset of the scope: false when its revision moved (the handle is dead), else re-resolves the user. */
  #resync(): boolean {
    const scope = this.#scope;
    if (scope.revision !== this.#revision) return false;
    this.#epoch = scope.epoch;
    this.#userId = scope.userIds.get(this.#user) ?? -1;
    return true;
  }

  /** The value cached for `objectId#def` (0: unknown), `(outcome + 1) | (height << 2)`. */
  get(objectId: number, def: RelationDef): number {
    if (this.#scope.epoch !== this.#epoch && !this.#resync()) return 0;
    const u = this.#userId;
    if (u < 0 || objectId < 0) return 0;
    const v = this.#scope.get(u + 1, objectId, def.uid);
    if (v !== 0) this.#cache.stats.hits++;
    return v;
  }

  /** Stores a definite outcome (0 not allowed, 1 allowed) with the height of its resolution. */
  set(objectId: number, def: RelationDef, outcome: 0 | 1, height: number): void {
    const scope = this.#scope;
    if (objectId < 0 || (scope.epoch !== this.#epoch && !this.#resync())) return;
    let u = this.#userId;
    if (u < 0) {
      u = this.#userId = scope.userIds.size;
      scope.userIds.set(this.#user, u);
    }
    if (scope.put(u + 1, objectId, def.uid, (outcome + 1) | (height << 2))) this.#cache.added();
  }
}
