/**
 * The memory store's per-object index (`ObjectIndex`), the engine's synchronous read path: it
 * implements `IndexedObjectTuples` (see ../indexed-tuples.ts for the contract and the layout).
 */
import {
  EDGE_SIZE,
  EDGE_TUPLE,
  type EdgeList,
  type IndexedObjectTuples,
  splitUser,
  type UserTuples,
  userHash,
} from "../indexed-tuples.ts";
import { internalize } from "../intern.ts";
import type { Tuple } from "../model.ts";

const EMPTY: readonly Tuple[] = Object.freeze([]);

/** The tuples of one object with one user (usually one): `get` scans the (internalized) relation names. */
class UserEntry implements UserTuples {
  readonly user: string;
  readonly hash: number;
  readonly rels: string[] = [];
  readonly tuples: Tuple[] = [];
  constructor(user: string, hash: number) {
    this.user = user;
    this.hash = hash;
  }
  get(relation: string): Tuple | undefined {
    const rels = this.rels;
    for (let i = 0; i < rels.length; i++) if (rels[i] === relation) return this.tuples[i];
    return undefined;
  }
}

/** Objects with at most this many distinct users find a user by scanning hashes (no hash table). */
const SMALL = 16;
/** `hot` holds per relation: name, userset edges, object edges (null: not built yet). */
const HOT = 3;

/**
 * The tuples of one object, indexed for the engine's synchronous reads (`IndexedObjectTuples`, see
 * indexed-tuples.ts for the layout): users by hash (small objects) or by a Map, and per relation the
 * userset and object users as flat edge arrays, found by scanning one short array by internalized
 * relation name. Object edges are built on first use (only tuple-to-userset relations need them),
 * then kept up to date. Every tuple also sits in `all` for the generic reads.
 */
export class ObjectIndex implements IndexedObjectTuples {
  readonly #ids: (object: string) => number;
  hashes: number[] = [];
  entries: UserEntry[] = [];
  byUser: Map<string, UserEntry> | undefined;
  /** `[relation, usersetEdges | undefined, objectEdges | undefined | null, ...]`. */
  readonly hot: (string | unknown[] | undefined | null)[] = [];
  /** Every tuple, by relation then user. */
  readonly all = new Map<string, Map<string, Tuple>>();
  size = 0;

  constructor(ids: (object: string) => number) {
    this.#ids = ids;
  }

  #entry(user: string, hash: number): UserEntry | undefined {
    const m = this.byUser;
    if (m !== undefined) return m.get(user);
    const hs = this.hashes;
    for (let i = 0; i < hs.length; i++) {
      if (hs[i] === hash) {
        const e = this.entries[i]!;
        if (e.user === user) return e;
      }
    }
    return undefined;
  }
  #slot(relation: string): number {
    const hot = this.hot;
    for (let i = 0; i < hot.length; i += HOT) if (hot[i] === relation) return i;
    return -1;
  }
  get(relation: string, user: string): Tuple | undefined {
    return this.#entry(user, userHash(user))?.get(relation);
  }
  withUser(user: string, hash: number): UserTuples | undefined {
    return this.#entry(user, hash);
  }
  usersetEdges(relation: string): EdgeList | undefined {
    const i = this.#slot(relation);
    return i < 0 ? undefined : (this.hot[i + 1] as EdgeList | undefined);
  }
  objectEdges(relation: string): EdgeList | undefined {
    const i = this.#slot(relation);
    if (i < 0) return undefined;
    let e = this.hot[i + 2] as unknown[] | undefined | null;
    if (e === null) {
      const built: unknown[] = [];
      for (const t of this.all.get(relation)?.values() ?? []) this.#push(built, t, false);
      e = this.hot[i + 2] = built.length > 0 ? built : undefined;
    }
    return e;
  }
  usersets(relation: string): readonly Tuple[] {
    const e = this.usersetEdges(relation);
    if (e === undefined) return EMPTY;
    const out: Tuple[] = [];
    for (let i = EDGE_TUPLE; i < e.length; i += EDGE_SIZE) out.push(e[i] as Tuple);
    return out;
  }
  tuples(relation: string): Iterable<Tuple> {
    return this.all.get(relation)?.values() ?? EMPTY;
  }

  /** Appends `t` as an edge when its user is of the wanted kind (userset or plain object). */
  #push(edges: unknown[], t: Tuple, userset: boolean): boolean {
    const s = splitUser(t.key.user);
    if (s === undefined || (s[2] !== "") !== userset) return false;
    edges.push(internalize(s[0]), s[1], this.#ids(s[1]), t.key.condition ?? undefined, t);
    return true;
  }

  add(t: Tuple): void {
    const relation = internalize(t.key.relation);
    const user = t.key.user;
    const hash = userHash(user);
    let e = this.#entry(user, hash);
    if (!e) {
      e = new UserEntry(user, hash);
      if (this.byUser) this.byUser.set(user, e);
      else if (this.entries.length < SMALL) {
        this.hashes.push(hash);
        this.entries.push(e);
      } else {
        this.byUser = new Map(this.entries.map((x) => [x.user, x]));
        this.byUser.set(user, e);
        this.hashes = [];
        this.entries = [];
      }
    }
    e.rels.push(relation);
    e.tuples.push(t);
    let m = this.all.get(relation);
    if (!m) {
      m = new Map();
      this.all.set(relation, m);
    }
    m.set(user, t);
    this.size++;
    let i = this.#slot(relation);
    if (i < 0) {
      i = this.hot.length;
      this.hot.push(relation, undefined, null);
    }
    const us = (this.hot[i + 1] as unknown[] | undefined) ?? [];
    if (this.#push(us, t, true)) this.hot[i + 1] = us;
    const os = this.hot[i + 2] as unknown[] | undefined | null;
    if (os !== null) {
      const list = os ?? [];
      if (this.#push(list, t, false)) this.hot[i + 2] = list;
    }
  }

  /** Returns whether the index is now empty. */
  remove(relation: string, user: string): boolean {
    const hash = userHash(user);
    const e = this.#entry(user, hash);
    const at = e ? e.rels.indexOf(relation) : -1;
    if (!e || at < 0) return this.size === 0;
    e.rels.splice(at, 1);
    e.tuples.splice(at, 1);
    if (e.rels.length === 0) {
      if (this.byUser) this.byUser.delete(user);
      else {
        const k = this.entries.indexOf(e);
        this.entries.splice(k, 1);
        this.hashes.splice(k, 1);
      }
    }
    this.size--;
    const m = this.all.get(relation);
    m?.delete(user);
    if (m?.size === 0) this.all.delete(relation);
    const i = this.#slot(relation);
    if (i >= 0) {
      for (const k of [i + 1, i + 2]) {
        const edges = this.hot[k] as unknown[] | undefined | null;
        if (!edges) continue;
        for (let j = EDGE_TUPLE; j < edges.length; j += EDGE_SIZE) {
          if ((edges[j] as Tuple).key.user === user) {
            edges.splice(j - EDGE_TUPLE, EDGE_SIZE);
            break;
          }
        }
        if (edges.length === 0) this.hot[k] = undefined;
      }
      if (m === undefined || m.size === 0) this.hot.splice(i, HOT);
    }
    return this.size === 0;
  }
}
