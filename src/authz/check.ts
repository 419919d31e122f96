/**
 * Check resolution: does `user` have `relation` on `object`?
 *
 * The evaluator is a synchronous, restartable walk of the compiled rewrite tree. Every read goes
 * through a `TupleSource`; with a synchronous store the walk completes in one pass (no promise at
 * all). With an asynchronous store a read that is not cached yet yields `PENDING`; the walk keeps
 * exploring the other branches (so their reads queue up too), then the driver flushes the queue as one
 * batched round trip and walks again. Completed sub-results are memoised per request, so a new pass
 * only re-walks the pending frontier.
 *
 * Outcomes follow OpenFGA's three-valued logic plus errors:
 * - union: any TRUE wins; otherwise an error; otherwise CYCLE/FALSE;
 * - intersection: any FALSE/CYCLE wins; otherwise an error; otherwise TRUE;
 * - exclusion: base FALSE/CYCLE, or subtract TRUE/CYCLE, decide; otherwise errors; otherwise TRUE.
 * So a condition error is reported only when it decides the result. A cycle (a sub-problem already on
 * the current path) resolves to CYCLE, which counts as "not allowed" (and as deciding in exclusions,
 * like OpenFGA). Depth beyond the limit is an error (2002).
 *
 * Every settled sub-result also records the height of the resolution below it and whether it is
 * "tainted": it evaluated a condition (depends on the request context), met a cycle (depends on the
 * current path) or hit the depth limit. Untainted definite results of userset / tuple-to-userset hops
 * are shared across requests through the sub-problem cache (subproblem-cache.ts), used only where
 * their height fits under the depth limit.
 */
import { ConditionEvaluationError } from "./conditions.ts";
import {
  EDGE_CONDITION,
  EDGE_OBJECT,
  EDGE_OBJECT_ID,
  EDGE_SIZE,
  EDGE_TUPLE,
  type EdgeList,
  type IndexedObjectTuples,
  type UserTuples,
  userHash,
} from "./indexed-tuples.ts";
import type { Tuple, TupleCondition } from "./model.ts";
import { PENDING, type Pending, type StoreView, type TupleSource } from "./reader.ts";
import type { UserResults } from "./subproblem-cache.ts";
import { type ParsedUser, USER_OBJECT, USER_USERSET, USER_WILDCARD } from "./tuples.ts";
import {
  type ExclusionNode,
  type Hop,
  N_COMPUTED,
  N_EXCLUSION,
  N_INTERSECTION,
  N_THIS,
  N_TTU,
  N_UNION,
  type RelationDef,
  type RewriteNode,
  type SetNode,
  type TtuNode,
  type TypeSystem,
} from "./typesystem.ts";

export const FALSE = 0;
export const TRUE = 1;
/** Not allowed, and a cycle was met on the way (OpenFGA's `CycleDetected`). */
export const CYCLE = 2;
/** A condition could not be evaluated (2000). */
export const ERR_CONDITION = 3;
/** Resolution depth exceeded (2002). */
export const ERR_DEPTH = 4;
/** Waiting for a store read. */
export const WAIT = 5;

export type Outcome = 0 | 1 | 2 | 3 | 4 | 5;

export const isError = (o: Outcome) => o === ERR_CONDITION || o === ERR_DEPTH;

/** Union accumulator for non-TRUE outcomes: WAIT > error > CYCLE > FALSE. */
function orAcc(acc: Outcome, r: Outcome): Outcome {
  if (acc === WAIT || r === WAIT) return WAIT;
  if (acc === ERR_CONDITION || acc === ERR_DEPTH) return acc;
  if (r === ERR_CONDITION || r === ERR_DEPTH) return r;
  if (acc === CYCLE || r === CYCLE) return CYCLE;
  return FALSE;
}

/** Intersection accumulator for outcomes other than FALSE/CYCLE: WAIT > error > TRUE. */
function andAcc(acc: Outcome, r: Outcome): Outcome {
  if (acc === WAIT || r === WAIT) return WAIT;
  if (acc === ERR_CONDITION || acc === ERR_DEPTH) return acc;
  if (r === ERR_CONDITION || r === ERR_DEPTH) return r;
  return TRUE;
}

const STAR = 42; // '*'
const COLON = 58; // ':'

/** Per object touched by a run: its index (sync stores) and per-relation memo/path slots. */
export interface ObjState {
  /** Sync stores: the object's index; undefined: not loaded yet; null: the object has no tuples. */
  idx: IndexedObjectTuples | null | undefined;
  /** Sync stores: the object's tuples with the run's user (null: none; undefined: not looked up). */
  mine: UserTuples | null | undefined;
  /** The same for the user type's wildcard `type:*`. */
  wild: UserTuples | null | undefined;
  /**
   * By relation ordinal: 0 unknown, ON_PATH while being resolved, else settled:
   * `(outcome + 1) | TAINT? | (height << HEIGHT_SHIFT)` (outcome TRUE, FALSE or ERR_CONDITION; height:
   * how much deeper than this node its resolution went). A settled slot is reused only where
   * `depth + height` stays under the depth limit, so reuse never hides a 2002.
   */
  readonly st: number[];
}

export const ON_PATH = 16;
/** Settled-slot flag: the result depends on more than the tuples and the model (see the file doc). */
const TAINT = 32;
const HEIGHT_SHIFT = 6;

/** The outcome held by a settled slot. */
export const memoOutcome = (m: number): Outcome => ((m & 7) - 1) as Outcome;

/**
 * Resolution state for one user (and one request context and contextual tuple set). Several roots
 * (list-objects candidates) can share it: sub-results are memoised by `object#relation`.
 */
export class CheckRun {
  readonly ts: TypeSystem;
  readonly src: TupleSource;
  readonly user: ParsedUser;
  readonly context: Readonly<Record<string, unknown>> | undefined;
  readonly maxDepth: number;
  /** The user's kind id in `ts` (-1: a kind no relation can hold). */
  readonly kind: number;
  /** `userHash` of the user and of its type's wildcard (sync stores' `withUser`). */
  readonly #uhash: number;
  readonly #whash: number;
  /** Objects touched: the first few in two short arrays (most checks touch few), the rest in a Map. */
  readonly #objKeys: string[] = [];
  readonly #objVals: ObjState[] = [];
  #objMap: Map<string, ObjState> | undefined;
  /** The cross-request sub-problem results of this run's user, when the request may use them. */
  readonly shared: UserResults | undefined;
  /** First condition evaluation failure met (its safe message). */
  conditionError: string | undefined;
  /** Deepest depth reached in the current sub-resolution (for heights). */
  #hi = 0;
  /** Taint of the current sub-resolution. */
  #fl = 0;
  /** The settled slot of the last `dispatch` (0 when it settled nothing: cycle, depth, wait, shortcut). */
  #last = 0;

  constructor(
    ts: TypeSystem,
    src: TupleSource,
    user: ParsedUser,
    context: Readonly<Record<string, unknown>> | undefined,
    maxDepth: number,
    shared?: UserResults,
  ) {
    this.ts = ts;
    this.src = src;
    this.user = user;
    this.context = context;
    this.maxDepth = maxDepth;
    this.kind = ts.kindOf(user.reachKey);
    this.#uhash = src.fast ? userHash(user.str) : 0;
    this.#whash = src.fast ? userHash(user.wildcard) : 0;
    this.shared = shared;
  }

  /** Resolves `object#def` for this run's user (one pass; WAIT means flush the view and call again). */
  root(object: string, def: RelationDef): Outcome {
    this.#hi = 0;
    this.#fl = 0;
    return this.dispatch(object, def, 0);
  }

  /** Per-object state (memo and path slots); internal to the engine (used by explain.ts). */
  objectState(object: string, def: RelationDef): ObjState {
    const keys = this.#objKeys;
    for (let i = 0; i < keys.length; i++) if (keys[i] === object) return this.#objVals[i]!;
    let o = this.#objMap?.get(object);
    if (o === undefined) {
      o = { idx: undefined, mine: undefined, wild: undefined, st: new Array<number>(def.typeSize).fill(0) };
      if (keys.length < 8) {
        keys.push(object);
        this.#objVals.push(o);
      } else {
        this.#objMap ??= new Map();
        this.#objMap.set(object, o);
      }
    }
    return o;
  }

  dispatch(object: string, def: RelationDef, depth: number): Outcome {
    this.#last = 0;
    const u = this.user;
    if (u.kind === USER_USERSET && u.relation === def.name && u.object === object) return TRUE;
    if (def.reachable[this.kind] !== 1) return FALSE;
    const o = this.objectState(object, def);
    const st = o.st;
    const ord = def.ord;
    const m = st[ord]!;
    if (m !== 0 && m !== ON_PATH) {
      const reached = depth + (m >>> HEIGHT_SHIFT);
      if (reached < this.maxDepth) {
        if (reached > this.#hi) this.#hi = reached;
        this.#fl |= m & TAINT;
        this.#last = m;
        return memoOutcome(m);
      }
      // Settled higher up, but from here its resolution would pass the depth limit: resolve again.
    }
    if (depth >= this.maxDepth) {
      this.#fl |= TAINT;
      if (depth > this.#hi) this.#hi = depth;
      return ERR_DEPTH;
    }
    if (m === ON_PATH) {
      this.#fl |= TAINT;
      return CYCLE;
    }
    st[ord] = ON_PATH;
    const hi = this.#hi;
    const fl = this.#fl;
    this.#hi = depth;
    this.#fl = 0;
    const r = this.node(def.rewrite, object, def, depth, o);
    const height = this.#hi - depth;
    const mine = this.#fl;
    if (hi > this.#hi) this.#hi = hi;
    this.#fl = fl | mine;
    if (r === TRUE || r === FALSE || r === ERR_CONDITION) {
      const code = (r + 1) | mine | (height << HEIGHT_SHIFT);
      st[ord] = code;
      this.#last = code;
    } else {
      st[ord] = m; // 0, or the result settled higher up (still valid there)
      this.#last = 0;
    }
    return r;
  }

  /**
   * A dispatch to another object over a userset or tuple-to-userset edge (sync stores): answered
   * from the sub-problem cache when it holds the result (and its height fits), else resolved and,
   * when definite and untainted, stored there. `objectId`: the store's id of `object`.
   */
  hop(object: string, objectId: number, def: RelationDef, depth: number): Outcome {
    const shared = this.shared;
    if (shared === undefined) return this.dispatch(object, def, depth);
    const v = shared.get(objectId, def);
    if (v !== 0) {
      const reached = depth + (v >>> 2);
      if (reached < this.maxDepth) {
        if (reached > this.#hi) this.#hi = reached;
        return ((v & 3) - 1) as Outcome;
      }
    }
    const r = this.dispatch(object, def, depth);
    const m = this.#last;
    if ((r === TRUE || r === FALSE) && m !== 0 && (m & TAINT) === 0) {
      shared.set(objectId, def, r, m >>> HEIGHT_SHIFT);
    }
    return r;
  }

  node(n: RewriteNode, object: string, def: RelationDef, depth: number, o: ObjState): Outcome {
    switch (n.kind) {
      case N_THIS:
        return this.direct(object, def, depth, o);
      case N_COMPUTED:
        return this.dispatch(object, n.target, depth + 1);
      case N_TTU:
        return this.ttu(object, n, depth, o);
      case N_UNION:
        return this.union(n, object, def, depth, o);
      case N_INTERSECTION:
        return this.intersection(n, object, def, depth, o);
      case N_EXCLUSION:
        return this.exclusion(n, object, def, depth, o);
    }
  }

  union(n: SetNode, object: string, def: RelationDef, depth: number, o: ObjState): Outcome {
    let acc: Outcome = FALSE;
    for (const c of n.children) {
      const r = this.node(c, object, def, depth, o);
      if (r === TRUE) return TRUE;
      acc = orAcc(acc, r);
    }
    return acc;
  }

  intersection(n: SetNode, object: string, def: RelationDef, depth: number, o: ObjState): Outcome {
    let acc: Outcome = TRUE;
    for (const c of n.children) {
      const r = this.node(c, object, def, depth, o);
      if (r === FALSE || r === CYCLE) return r;
      acc = andAcc(acc, r);
    }
    return acc;
  }

  exclusion(n: ExclusionNode, object: string, def: RelationDef, depth: number, o: ObjState): Outcome {
    const b = this.node(n.base, object, def, depth, o);
    if (b === FALSE || b === CYCLE) return b;
    const s = this.node(n.subtract, object, def, depth, o);
    if (s === TRUE) return FALSE;
    if (s === CYCLE) return CYCLE;
    if (b === WAIT || s === WAIT) return WAIT;
    if (b !== TRUE) return b;
    if (s !== FALSE) return s;
    return TRUE;
  }

  /** `this`: the user's own tuple, the wildcard tuple, and userset tuples (expanded). */
  direct(object: string, def: RelationDef, depth: number, o: ObjState): Outcome {
    const src = this.src;
    if (src.fast) return this.directFast(object, def, depth, o);
    const u = this.user;
    let acc: Outcome = FALSE;
    let conds: ReadonlySet<string> | undefined;
    if (u.kind === USER_OBJECT) {
      conds = def.directTypes.get(u.type);
      if (conds !== undefined) {
        const r = this.tupleOutcome(src.exact(object, def.name, u.str), conds);
        if (r === TRUE) return TRUE;
        acc = r;
      }
      conds = def.wildcardTypes.get(u.type);
      if (conds !== undefined) {
        const r = this.tupleOutcome(src.exact(object, def.name, u.wildcard), conds);
        if (r === TRUE) return TRUE;
        acc = orAcc(acc, r);
      }
    } else {
      conds = u.kind === USER_WILDCARD ? def.wildcardTypes.get(u.type) : def.usersetTypes.get(u.reachKey);
      if (conds !== undefined) {
        const r = this.tupleOutcome(src.exact(object, def.name, u.str), conds);
        if (r === TRUE) return TRUE;
        acc = r;
      }
    }
    if (def.usersetTypes.size === 0) return acc;
    const tuples = src.usersets(object, def.name);
    if (tuples === PENDING) return WAIT;
    return this.usersets(tuples, def, depth, acc);
  }

  /** `direct` over a synchronous store's object index: one probe finds the user's tuples on the object. */
  directFast(object: string, def: RelationDef, depth: number, o: ObjState): Outcome {
    let idx = o.idx;
    if (idx === undefined) idx = o.idx = this.src.view.indexed(object) ?? null;
    if (idx === null) return FALSE;
    const kind = this.kind;
    let acc: Outcome = FALSE;
    const conds = def.directByKind[kind];
    if (conds !== undefined) {
      let mine = o.mine;
      if (mine === undefined) mine = o.mine = idx.withUser(this.user.str, this.#uhash) ?? null;
      const t = mine === null ? undefined : mine.get(def.name);
      if (t !== undefined) {
        const r = this.tupleOutcome(t, conds);
        if (r === TRUE) return TRUE;
        acc = r;
      }
    }
    const wconds = def.wildcardByKind[kind];
    if (wconds !== undefined) {
      let wild = o.wild;
      if (wild === undefined) wild = o.wild = idx.withUser(this.user.wildcard, this.#whash) ?? null;
      const t = wild === null ? undefined : wild.get(def.name);
      if (t !== undefined) {
        const r = this.tupleOutcome(t, wconds);
        if (r === TRUE) return TRUE;
        acc = orAcc(acc, r);
      }
    }
    if (def.usersetHops.size === 0) return acc;
    const e = idx.usersetEdges(def.name);
    if (e === undefined) return acc;
    const hops = def.usersetHops;
    for (let i = 0; i < e.length; i += EDGE_SIZE) {
      const hop = hops.get(e[i] as string);
      if (hop === undefined) continue;
      const r = this.viaEdge(e, i, hop, depth);
      if (r === TRUE) return TRUE;
      acc = orAcc(acc, r);
    }
    return acc;
  }

  /** The edge at `e[i]` over a precompiled hop: the tuple's condition, then the other object. */
  viaEdge(e: EdgeList, i: number, hop: Hop, depth: number): Outcome {
    const c =
      e[i + EDGE_CONDITION] === undefined
        ? hop.plain
        : this.tupleOutcome(e[i + EDGE_TUPLE] as Tuple, hop.conds);
    if (c !== TRUE) return c;
    const target = hop.target;
    if (target.reachable[this.kind] !== 1) return FALSE;
    return this.hop(e[i + EDGE_OBJECT] as string, e[i + EDGE_OBJECT_ID] as number, target, depth + 1);
  }

  /** Userset tuples of a `this`: each `type:id#rel` user is resolved in turn (union). */
  usersets(tuples: readonly Tuple[], def: RelationDef, depth: number, acc: Outcome): Outcome {
    const ts = this.ts;
    for (let i = 0; i < tuples.length; i++) {
      const t = tuples[i]!;
      const user = t.key.user;
      const hash = user.indexOf("#");
      if (hash < 0) continue;
      const target = ts.relation(user.slice(0, user.indexOf(":")), user.slice(hash + 1));
      if (target === undefined) continue;
      const uconds = def.usersetDefs.get(target);
      if (uconds === undefined) continue;
      const c = this.tupleOutcome(t, uconds);
      if (c === FALSE) continue;
      // Unreachable user kinds are FALSE in dispatch anyway; skip the slice and the call.
      const r =
        c !== TRUE
          ? c
          : target.reachable[this.kind] === 1
            ? this.dispatch(user.slice(0, hash), target, depth + 1)
            : FALSE;
      if (r === TRUE) return TRUE;
      acc = orAcc(acc, r);
    }
    return acc;
  }

  /** Tuple-to-userset: for each parent in the tupleset, the computed relation on the parent. */
  ttu(object: string, n: TtuNode, depth: number, o: ObjState): Outcome {
    if (this.src.fast) return this.ttuFast(object, n, depth, o);
    const tuples = this.src.all(object, n.tupleset);
    if (tuples === PENDING) return WAIT;
    const tsDef = n.tuplesetDef;
    let acc: Outcome = FALSE;
    for (const t of tuples) {
      const user = t.key.user;
      const colon = user.indexOf(":");
      if (colon < 0 || user.indexOf("#") >= 0) continue;
      if (user.charCodeAt(user.length - 1) === STAR && user.charCodeAt(user.length - 2) === COLON) continue;
      const ptype = user.slice(0, colon);
      const target = n.targets.get(ptype);
      if (target === undefined) continue;
      const conds = tsDef.directTypes.get(ptype);
      if (conds === undefined) continue;
      const c = this.tupleOutcome(t, conds);
      if (c === FALSE) continue;
      const r =
        c !== TRUE ? c : target.reachable[this.kind] === 1 ? this.dispatch(user, target, depth + 1) : FALSE;
      if (r === TRUE) return TRUE;
      acc = orAcc(acc, r);
    }
    return acc;
  }

  /** `ttu` over the object index's pre-split parents (sync stores). */
  ttuFast(object: string, n: TtuNode, depth: number, o: ObjState): Outcome {
    let idx = o.idx;
    if (idx === undefined) idx = o.idx = this.src.view.indexed(object) ?? null;
    if (idx === null) return FALSE;
    const e = idx.objectEdges(n.tupleset);
    if (e === undefined) return FALSE;
    const hops = n.hops;
    let acc: Outcome = FALSE;
    for (let i = 0; i < e.length; i += EDGE_SIZE) {
      const hop = hops.get(e[i] as string);
      if (hop === undefined) continue;
      const r = this.viaEdge(e, i, hop, depth);
      if (r === TRUE) return TRUE;
      acc = orAcc(acc, r);
    }
    return acc;
  }

  /** A tuple counts when the current model allows its condition (or lack of one) and it holds. */
  tupleOutcome(t: Tuple | undefined | Pending, conds: ReadonlySet<string>): Outcome {
    if (t === undefined) return FALSE;
    if (t === PENDING) return WAIT;
    const c = t.key.condition;
    if (c === undefined || c === null) return conds.has("") ? TRUE : FALSE;
    if (!conds.has(c.name)) return FALSE;
    return this.condition(c);
  }

  condition(c: TupleCondition): Outcome {
    const compiled = this.ts.conditions.get(c.name);
    if (!compiled) return FALSE;
    this.#fl |= TAINT; // the answer depends on the request context
    try {
      return compiled.evaluateWith(this.context, c.context) ? TRUE : FALSE;
    } catch (e) {
      if (e instanceof ConditionEvaluationError) {
        this.conditionError ??= e.message;
        return ERR_CONDITION;
      }
      throw e;
    }
  }
}

/**
 * Drives a resolution to its end: runs `pass` until it stops waiting, flushing the view's queued reads
 * (one batched round trip) between passes. With a synchronous store the first pass is final.
 */
export async function settle(view: StoreView, pass: () => Outcome): Promise<Outcome> {
  let r = pass();
  while (r === WAIT) {
    if (!view.hasPending) throw new Error("resolution waits without queued reads");
    await view.flush();
    r = pass();
  }
  return r;
}
