/**
 * Optional capability of a synchronous store's per-object index (`ObjectTuples`): the engine's reads
 * in a compact, string-work-free form. The memory store implements it; for any other
 * `SyncTupleReader` the engine wraps the plain `ObjectTuples` with {@link indexed} (same answers,
 * slower).
 *
 * Why: at 100k tuples a check is bound by memory latency (dependent loads that miss the CPU caches),
 * not by instructions. So:
 * - `withUser` answers "which relations does this user hold here" with one lookup for all relations
 *   of the object; small objects scan a short array of precomputed user hashes (no hash table, no
 *   string compared unless the hash matches);
 * - `usersetEdges` / `objectEdges` give a relation's userset users and plain object users
 *   (tuple-to-userset parents) already split, inline in ONE flat array of `EDGE_SIZE` slots per
 *   edge: `[key, object, objectId, condition, tuple]`. `key` is `type#relation` for a userset user
 *   and `type` for an object user (internalized, see intern.ts); `object` is `type:id`; `objectId`
 *   is a small integer unique per object string, which keys the engine's sub-problem cache without
 *   hashing strings.
 */
import type { Tuple } from "./model.ts";
import type { ObjectTuples } from "./ports.ts";

export const EDGE_KEY = 0;
export const EDGE_OBJECT = 1;
export const EDGE_OBJECT_ID = 2;
export const EDGE_CONDITION = 3;
export const EDGE_TUPLE = 4;
export const EDGE_SIZE = 5;

/** Flat edges, `EDGE_SIZE` slots each (see the file doc). */
export type EdgeList = readonly unknown[];

/** The tuples of one object that have one given user (any relation). */
export interface UserTuples {
  get(relation: string): Tuple | undefined;
}

/** An `ObjectTuples` that can also answer the engine's reads in compact form. */
export interface IndexedObjectTuples extends ObjectTuples {
  /** The object's tuples whose user is exactly `user` (`hash` = `userHash(user)`); undefined: none. */
  withUser(user: string, hash: number): UserTuples | undefined;
  /** The userset users (`type:id#rel`) of `relation`, in the order of `usersets`; undefined: none. */
  usersetEdges(relation: string): EdgeList | undefined;
  /** The plain object users (`type:id`: no wildcard, no userset) of `relation`; undefined: none. */
  objectEdges(relation: string): EdgeList | undefined;
}

/** The user hash of `withUser` (FNV-1a, 30 bits: a small integer). */
export function userHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h & 0x3fffffff;
}

/** A stored user split for an edge: `[key, object, relation]`, or undefined for wildcards and malformed users. */
export function splitUser(user: string): [key: string, object: string, relation: string] | undefined {
  const colon = user.indexOf(":");
  if (colon <= 0) return undefined;
  const hash = user.indexOf("#");
  if (hash < 0) {
    if (user.length === colon + 2 && user.charCodeAt(colon + 1) === 42) return undefined; // `type:*`
    return [user.slice(0, colon), user, ""];
  }
  const relation = user.slice(hash + 1);
  return [`${user.slice(0, colon)}#${relation}`, user.slice(0, hash), relation];
}

/** Object ids for wrapped indexes (stores without the capability); bounded: -1 past the cap. */
const wrappedIds = new Map<string, number>();
function wrappedId(object: string): number {
  let id = wrappedIds.get(object);
  if (id === undefined) {
    if (wrappedIds.size >= 1_000_000) return -1;
    id = wrappedIds.size;
    wrappedIds.set(object, id);
  }
  return id;
}

class ProbeUser implements UserTuples {
  readonly #o: ObjectTuples;
  readonly #user: string;
  constructor(o: ObjectTuples, user: string) {
    this.#o = o;
    this.#user = user;
  }
  get(relation: string): Tuple | undefined {
    return this.#o.get(relation, this.#user);
  }
}

/** The capability over a plain `ObjectTuples`: built on every call. */
class Wrapped implements IndexedObjectTuples {
  readonly #o: ObjectTuples;
  constructor(o: ObjectTuples) {
    this.#o = o;
  }
  get(relation: string, user: string): Tuple | undefined {
    return this.#o.get(relation, user);
  }
  usersets(relation: string): readonly Tuple[] {
    return this.#o.usersets(relation);
  }
  tuples(relation: string): Iterable<Tuple> {
    return this.#o.tuples(relation);
  }
  withUser(user: string): UserTuples {
    return new ProbeUser(this.#o, user);
  }
  usersetEdges(relation: string): EdgeList | undefined {
    const out: unknown[] = [];
    for (const t of this.#o.usersets(relation)) {
      const s = splitUser(t.key.user);
      if (s && s[2] !== "") out.push(s[0], s[1], wrappedId(s[1]), t.key.condition ?? undefined, t);
    }
    return out.length > 0 ? out : undefined;
  }
  objectEdges(relation: string): EdgeList | undefined {
    const out: unknown[] = [];
    for (const t of this.#o.tuples(relation)) {
      const s = splitUser(t.key.user);
      if (s && s[2] === "") out.push(s[0], s[1], wrappedId(s[1]), t.key.condition ?? undefined, t);
    }
    return out.length > 0 ? out : undefined;
  }
}

const isIndexed = (o: ObjectTuples): o is IndexedObjectTuples =>
  typeof (o as Partial<IndexedObjectTuples>).usersetEdges === "function";

/** `o` itself when it has the capability, else a wrapper that provides it. */
export function indexed(o: ObjectTuples): IndexedObjectTuples {
  return isIndexed(o) ? o : new Wrapped(o);
}
