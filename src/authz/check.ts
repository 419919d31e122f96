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
 */
import { ConditionEvaluationError } from "./conditions.ts";
import type { Tuple, TupleCondition } from "./model.ts";
import type { ObjectTuples } from "./ports.ts";
import { PENDING, type Pending, type StoreView, type TupleSource } from "./reader.ts";
import { type ParsedUser, USER_OBJECT, USER_USERSET, USER_WILDCARD } from "./tuples.ts";
import {
  type ExclusionNode,
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

/** Per object touched by a run: its partitions (sync stores) and per-relation memo/path slots. */
export interface ObjState {
  /** Sync stores: the object's index; undefined: not loaded yet; null: the object has no tuples. */
  idx: ObjectTuples | null | undefined;
  /** By relation ordinal: 0 unknown, outcome+1 once settled, ON_PATH while being resolved. */
  readonly st: number[];
}

export const ON_PATH = 16;

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
  readonly #objs = new Map<string, ObjState>();
  /** First condition evaluation failure met (its safe message). */
  conditionError: string | undefined;

  constructor(
    ts: TypeSystem,
    src: TupleSource,
    user: ParsedUser,
    context: Readonly<Record<string, unknown>> | undefined,
    maxDepth: number,
  ) {
    this.ts = ts;
    this.src = src;
    this.user = user;
    this.context = context;
    this.maxDepth = maxDepth;
  }

  /** Resolves `object#def` for this run's user (one pass; WAIT means flush the view and call again). */
  root(object: string, def: RelationDef): Outcome {
    return this.dispatch(object, def, 0);
  }

  /** Per-object state (memo and path slots); internal to the engine (used by explain.ts). */
  objectState(object: string, def: RelationDef): ObjState {
    let o = this.#objs.get(object);
    if (o === undefined) {
      o = { idx: undefined, st: new Array<number>(def.typeSize).fill(0) };
      this.#objs.set(object, o);
    }
    return o;
  }

  dispatch(object: string, def: RelationDef, depth: number): Outcome {
    const u = this.user;
    if (u.kind === USER_USERSET && u.relation === def.name && u.object === object) return TRUE;
    if (!def.reach.has(u.reachKey)) return FALSE;
    const o = this.objectState(object, def);
    const st = o.st;
    const ord = def.ord;
    const m = st[ord]!;
    if (m !== 0 && m !== ON_PATH) return (m - 1) as Outcome;
    if (depth >= this.maxDepth) return ERR_DEPTH;
    if (m === ON_PATH) return CYCLE;
    st[ord] = ON_PATH;
    const r = this.node(def.rewrite, object, def, depth, o);
    st[ord] = r === TRUE || r === FALSE || r === ERR_CONDITION ? r + 1 : 0;
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

  /** `direct` over a synchronous store's partition index: one lookup per object#relation. */
  directFast(object: string, def: RelationDef, depth: number, o: ObjState): Outcome {
    let idx = o.idx;
    if (idx === undefined) idx = o.idx = this.src.view.object(object) ?? null;
    if (idx === null) return FALSE;
    const u = this.user;
    const rel = def.name;
    let acc: Outcome = FALSE;
    let conds: ReadonlySet<string> | undefined;
    if (u.kind === USER_OBJECT) {
      conds = def.directTypes.get(u.type);
      if (conds !== undefined) {
        const t = idx.get(rel, u.str);
        if (t !== undefined) {
          const r = this.tupleOutcome(t, conds);
          if (r === TRUE) return TRUE;
          acc = r;
        }
      }
      conds = def.wildcardTypes.get(u.type);
      if (conds !== undefined) {
        const t = idx.get(rel, u.wildcard);
        if (t !== undefined) {
          const r = this.tupleOutcome(t, conds);
          if (r === TRUE) return TRUE;
          acc = orAcc(acc, r);
        }
      }
    } else {
      conds = u.kind === USER_WILDCARD ? def.wildcardTypes.get(u.type) : def.usersetTypes.get(u.reachKey);
      if (conds !== undefined) {
        const t = idx.get(rel, u.str);
        if (t !== undefined) {
          const r = this.tupleOutcome(t, conds);
          if (r === TRUE) return TRUE;
          acc = r;
        }
      }
    }
    if (def.usersetTypes.size === 0) return acc;
    const tuples = idx.usersets(rel);
    if (tuples.length === 0) return acc;
    return this.usersets(tuples, def, depth, acc);
  }

  /** Userset tuples of a `this`: each `type:id#rel` user is resolved in turn (union). */
  usersets(tuples: readonly Tuple[], def: RelationDef, depth: number, acc: Outcome): Outcome {
    const ts = this.ts;
    const reachKey = this.user.reachKey;
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
          : target.reach.has(reachKey)
            ? this.dispatch(user.slice(0, hash), target, depth + 1)
            : FALSE;
      if (r === TRUE) return TRUE;
      acc = orAcc(acc, r);
    }
    return acc;
  }

  /** Tuple-to-userset: for each parent in the tupleset, the computed relation on the parent. */
  ttu(object: string, n: TtuNode, depth: number, o: ObjState): Outcome {
    let tuples: Iterable<Tuple>;
    if (this.src.fast) {
      let idx = o.idx;
      if (idx === undefined) idx = o.idx = this.src.view.object(object) ?? null;
      if (idx === null) return FALSE;
      tuples = idx.tuples(n.tupleset);
    } else {
      const all = this.src.all(object, n.tupleset);
      if (all === PENDING) return WAIT;
      tuples = all;
    }
    const tsDef = n.tuplesetDef;
    const reachKey = this.user.reachKey;
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
      const r = c !== TRUE ? c : target.reach.has(reachKey) ? this.dispatch(user, target, depth + 1) : FALSE;
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
