/**
 * The engine's view of tuples during one request: stored tuples (through the store port) overlaid
 * with the request's contextual tuples.
 *
 * Two modes, chosen once per request:
 * - sync: the store implements `SyncTupleReader` (memory): every read answers immediately and a whole
 *   check runs without a promise.
 * - batched: reads that are not cached yet return `PENDING` and are queued; `flush()` sends all queued
 *   reads of one resolution step as ONE call per port method (all in parallel), and the evaluation
 *   re-runs with the answers cached. So the reads of all concurrently explored branches travel together.
 */
import { type IndexedObjectTuples, indexed } from "./indexed-tuples.ts";
import type { Tuple, TupleKey } from "./model.ts";
import {
  isSyncTupleReader,
  type ObjectRelationQuery,
  type ReverseQuery,
  type SyncTupleReader,
  type TupleLookup,
  type TupleReader,
} from "./ports.ts";

/** Marker for "not read yet; queued for the next flush". */
export const PENDING = Symbol("pending");
export type Pending = typeof PENDING;

const EMPTY: readonly Tuple[] = Object.freeze([]);

/**
 * Store reads shared by every evaluation of one request (a check, each item of a batch check, the
 * candidate checks of list-objects): one cache and one queue, so batching spans all of them.
 */
interface AsyncState {
  readonly exact: Map<string, Tuple | null>;
  readonly usersets: Map<string, readonly Tuple[]>;
  readonly all: Map<string, readonly Tuple[]>;
  qExact: TupleLookup[];
  qExactKeys: string[];
  qUsersets: ObjectRelationQuery[];
  qUsersetKeys: string[];
  qAll: ObjectRelationQuery[];
  qAllKeys: string[];
  readonly queued: Set<string>;
}

const newAsyncState = (): AsyncState => ({
  exact: new Map(),
  usersets: new Map(),
  all: new Map(),
  qExact: [],
  qExactKeys: [],
  qUsersets: [],
  qUsersetKeys: [],
  qAll: [],
  qAllKeys: [],
  queued: new Set(),
});

/**
 * Store reads shared by every evaluation of one request (a check, each item of a batch check, the
 * candidate checks of list-objects): one cache and one queue, so batching spans all of them.
 */
export class StoreView {
  readonly storeId: string;
  readonly #store: TupleReader;
  /** Set when the store reads synchronously (then nothing is cached or queued). */
  readonly sync: SyncTupleReader | undefined;
  readonly #a: AsyncState | undefined;
  /** Store round trips made (for tests and metrics). */
  roundTrips = 0;

  constructor(storeId: string, store: TupleReader, options: { forceBatched?: boolean | undefined } = {}) {
    this.storeId = storeId;
    this.#store = store;
    this.sync = !options.forceBatched && isSyncTupleReader(store) ? store : undefined;
    this.#a = this.sync ? undefined : newAsyncState();
  }

  /** Sync mode only: the store's index of `object`, with the engine's read capability. */
  indexed(object: string): IndexedObjectTuples | undefined {
    const o = this.sync!.readObjectSync(this.storeId, object);
    return o === undefined ? undefined : indexed(o);
  }

  exact(object: string, relation: string, user: string): Tuple | undefined | Pending {
    const sync = this.sync;
    if (sync) return sync.readObjectSync(this.storeId, object)?.get(relation, user);
    const a = this.#a!;
    const key = `${object}#${relation}@${user}`;
    const hit = a.exact.get(key);
    if (hit !== undefined) return hit ?? undefined;
    if (!a.queued.has(key)) {
      a.queued.add(key);
      a.qExact.push({ object, relation, user });
      a.qExactKeys.push(key);
    }
    return PENDING;
  }

  usersets(object: string, relation: string): readonly Tuple[] | Pending {
    const sync = this.sync;
    if (sync) return sync.readObjectSync(this.storeId, object)?.usersets(relation) ?? EMPTY;
    const a = this.#a!;
    const key = `${object}#${relation}`;
    const all = a.all.get(key);
    if (all !== undefined) return all.filter((t) => t.key.user.includes("#"));
    const hit = a.usersets.get(key);
    if (hit !== undefined) return hit;
    const qk = `u|${key}`;
    if (!a.queued.has(qk)) {
      a.queued.add(qk);
      a.qUsersets.push({ object, relation });
      a.qUsersetKeys.push(key);
    }
    return PENDING;
  }

  all(object: string, relation: string): readonly Tuple[] | Pending {
    const sync = this.sync;
    if (sync) {
      const o = sync.readObjectSync(this.storeId, object);
      return o ? [...o.tuples(relation)] : EMPTY;
    }
    const a = this.#a!;
    const key = `${object}#${relation}`;
    const hit = a.all.get(key);
    if (hit !== undefined) return hit;
    const qk = `a|${key}`;
    if (!a.queued.has(qk)) {
      a.queued.add(qk);
      a.qAll.push({ object, relation });
      a.qAllKeys.push(key);
    }
    return PENDING;
  }

  get hasPending(): boolean {
    const a = this.#a;
    return a !== undefined && a.qExact.length + a.qUsersets.length + a.qAll.length > 0;
  }

  /** Sends every queued read: one call per port method, all in parallel. */
  async flush(): Promise<void> {
    const a = this.#a;
    if (!a) return;
    const { qExact: qe, qExactKeys: qek, qUsersets: qu, qUsersetKeys: quk, qAll: qa, qAllKeys: qak } = a;
    a.qExact = [];
    a.qExactKeys = [];
    a.qUsersets = [];
    a.qUsersetKeys = [];
    a.qAll = [];
    a.qAllKeys = [];
    a.queued.clear();
    if (qe.length + qu.length + qa.length === 0) return;
    this.roundTrips++;
    const store = this.#store;
    const [re, ru, ra] = await Promise.all([
      qe.length ? store.getTuples(this.storeId, qe) : undefined,
      qu.length ? store.readUsersetTuples(this.storeId, qu) : undefined,
      qa.length ? store.readTuples(this.storeId, qa) : undefined,
    ]);
    if (re) for (let i = 0; i < qek.length; i++) a.exact.set(qek[i]!, re[i] ?? null);
    if (ru) for (let i = 0; i < quk.length; i++) a.usersets.set(quk[i]!, ru[i] ?? EMPTY);
    if (ra) for (let i = 0; i < qak.length; i++) a.all.set(qak[i]!, ra[i] ?? EMPTY);
  }

  /** Reverse lookups (list-objects): one batch per call. */
  async byUsers(queries: readonly ReverseQuery[]): Promise<readonly (readonly Tuple[])[]> {
    if (queries.length === 0) return [];
    const sync = this.sync;
    if (sync)
      return queries.map((q) => sync.readByUsersSync(this.storeId, q.objectType, q.relation, q.users));
    this.roundTrips++;
    return this.#store.readByUsers(this.storeId, queries);
  }
}

/** Contextual tuples of one request, indexed like the store. */
export class ContextualTuples {
  readonly size: number;
  readonly #exact = new Map<string, Tuple>();
  readonly #byObjectRelation = new Map<string, Tuple[]>();
  readonly #usersets = new Map<string, Tuple[]>();
  readonly #reverse = new Map<string, Tuple[]>();

  constructor(keys: readonly TupleKey[], timestamp = 0) {
    this.size = keys.length;
    for (const key of keys) {
      const t: Tuple = { key, timestamp };
      const or = `${key.object}#${key.relation}`;
      this.#exact.set(`${or}@${key.user}`, t);
      push(this.#byObjectRelation, or, t);
      if (key.user.includes("#")) push(this.#usersets, or, t);
      const type = key.object.slice(0, key.object.indexOf(":"));
      push(this.#reverse, `${type}#${key.relation}@${key.user}`, t);
    }
  }

  exact(object: string, relation: string, user: string): Tuple | undefined {
    return this.#exact.get(`${object}#${relation}@${user}`);
  }
  usersets(object: string, relation: string): readonly Tuple[] | undefined {
    return this.#usersets.get(`${object}#${relation}`);
  }
  all(object: string, relation: string): readonly Tuple[] | undefined {
    return this.#byObjectRelation.get(`${object}#${relation}`);
  }
  byUser(objectType: string, relation: string, user: string): readonly Tuple[] | undefined {
    return this.#reverse.get(`${objectType}#${relation}@${user}`);
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

/** Store view plus this evaluation's contextual tuples (which win over stored ones on exact reads). */
export class TupleSource {
  readonly view: StoreView;
  readonly ctx: ContextualTuples | undefined;
  /** Synchronous store and no contextual tuples: the evaluator may read partitions directly. */
  readonly fast: boolean;

  constructor(view: StoreView, ctx: ContextualTuples | undefined) {
    this.view = view;
    this.ctx = ctx !== undefined && ctx.size > 0 ? ctx : undefined;
    this.fast = this.ctx === undefined && view.sync !== undefined;
  }

  exact(object: string, relation: string, user: string): Tuple | undefined | Pending {
    const ctx = this.ctx;
    if (ctx) {
      const t = ctx.exact(object, relation, user);
      if (t) return t;
    }
    return this.view.exact(object, relation, user);
  }

  usersets(object: string, relation: string): readonly Tuple[] | Pending {
    const stored = this.view.usersets(object, relation);
    const ctx = this.ctx;
    if (!ctx || stored === PENDING) return stored;
    const extra = ctx.usersets(object, relation);
    return extra ? (stored.length ? [...extra, ...stored] : extra) : stored;
  }

  all(object: string, relation: string): readonly Tuple[] | Pending {
    const stored = this.view.all(object, relation);
    const ctx = this.ctx;
    if (!ctx || stored === PENDING) return stored;
    const extra = ctx.all(object, relation);
    return extra ? (stored.length ? [...extra, ...stored] : extra) : stored;
  }

  /** Reverse lookups merged with contextual tuples; positional like the port. */
  async byUsers(queries: readonly ReverseQuery[]): Promise<readonly (readonly Tuple[])[]> {
    const stored = await this.view.byUsers(queries);
    const ctx = this.ctx;
    if (!ctx) return stored;
    return queries.map((q, i) => {
      const extra: Tuple[] = [];
      for (const u of q.users) {
        const l = ctx.byUser(q.objectType, q.relation, u);
        if (l) extra.push(...l);
      }
      const s = stored[i] ?? EMPTY;
      return extra.length ? [...extra, ...s] : s;
    });
  }
}
