/**
 * ListObjects: every object of a type on which the user has a relation.
 *
 * 1. Reverse expansion, breadth first from the user over the model's reverse edges (direct type
 *    restrictions, computed relations, tuple-to-userset and userset edges), pruned to the relations
 *    from which the target relation is reachable at all. Each level's reverse lookups go to the store
 *    as one batch. Conditions on the tuples met are evaluated on the way (false: pruned; error:
 *    remembered and fatal at the end, as upstream).
 * 2. Objects reached only through an intersection or an exclusion base are candidates: they are
 *    confirmed with Check (all candidates resolve together, sharing memoised sub-problems and batched
 *    reads). Objects reached over pure-union paths are results as they are.
 *
 * Results are capped (`maxResults`) and bounded in time (`deadline`); hitting either is reported in
 * the result (`truncated`), not hidden. Results come in discovery order, which is deterministic for
 * unchanged data, and a larger cap returns a longer prefix of the same sequence (offset paging).
 */
import { CheckRun, ERR_CONDITION, ERR_DEPTH, type Outcome, TRUE, WAIT } from "./check.ts";
import { AuthzError, resolutionTooComplex } from "./errors.ts";
import type { ReverseQuery } from "./ports.ts";
import type { TupleSource } from "./reader.ts";
import { type ParsedUser, USER_OBJECT, USER_USERSET } from "./tuples.ts";
import type { RelationDef, ReverseEdge, TypeSystem } from "./typesystem.ts";

export interface ListObjectsInput {
  readonly ts: TypeSystem;
  readonly src: TupleSource;
  readonly user: ParsedUser;
  readonly target: RelationDef;
  readonly context: Readonly<Record<string, unknown>> | undefined;
  readonly maxDepth: number;
  readonly maxResults: number;
  /** Results of earlier pages to skip (resumed calls); results come in a deterministic order. @default 0 */
  readonly skip?: number;
  /** Absolute time (ms, per `now`) after which the search stops and reports truncation. */
  readonly deadline: number;
  readonly now: () => number;
}

export interface ListObjectsOutput {
  readonly objects: string[];
  /** True when the cap or the deadline stopped the search: more objects may exist. */
  readonly truncated: boolean;
  readonly truncatedBy?: "max_results" | "deadline";
  /** With `truncatedBy: "max_results"`: the `skip` that resumes after this page. */
  readonly nextSkip?: number;
}

interface Item {
  readonly object: string;
  readonly def: RelationDef;
  readonly exact: boolean;
  readonly depth: number;
}

export async function listObjects(input: ListObjectsInput): Promise<ListObjectsOutput> {
  const { ts, src, user, target, maxResults, deadline, now } = input;
  const skip = input.skip ?? 0;
  /** Results needed in discovery order: the skipped ones plus this page. */
  const limit = skip + maxResults;
  const relevant = ts.relevantTo(target);
  const run = new CheckRun(ts, src, user, input.context, input.maxDepth);
  const visited = new Map<string, boolean>();
  /** Candidate object → reached over an exact (pure-union) path. */
  const candidates = new Map<string, boolean>();
  let exactCount = 0;
  let conditionError: string | undefined;
  let tooDeep = false;
  let frontier: Item[] = [];

  const reach = (object: string, def: RelationDef, exact: boolean, depth: number) => {
    if (!relevant.has(def)) return;
    const key = object + def.hashName;
    const prev = visited.get(key);
    if (prev === true || (prev === false && !exact)) return;
    visited.set(key, exact);
    if (depth >= input.maxDepth) {
      tooDeep = true;
      return;
    }
    if (def === target) {
      const was = candidates.get(object);
      if (was === undefined || (exact && !was)) {
        candidates.set(object, exact);
        if (exact) exactCount++;
      }
    }
    frontier.push({ object, def, exact, depth });
  };

  const keep = (o: Outcome): boolean => {
    if (o === TRUE) return true;
    if (o === ERR_CONDITION) conditionError ??= run.conditionError;
    return false;
  };

  // Level 0: tuples whose user is the request's user (or its type's wildcard).
  const start: { q: ReverseQuery; def: RelationDef }[] = [];
  if (user.kind === USER_USERSET) {
    const def = ts.relation(user.type, user.relation);
    if (def) reach(user.object, def, true, 0);
  } else {
    for (const def of ts.directEntries.get(user.type) ?? []) {
      if (!relevant.has(def)) continue;
      const users: string[] = [];
      if (user.kind === USER_OBJECT && def.directTypes.has(user.type)) users.push(user.str);
      if (def.wildcardTypes.has(user.type)) users.push(user.wildcard);
      if (users.length) start.push({ q: { objectType: def.type, relation: def.name, users }, def });
    }
  }
  const first = await src.byUsers(start.map((s) => s.q));
  for (let i = 0; i < start.length; i++) {
    const { def } = start[i]!;
    for (const t of first[i] ?? []) {
      const conds =
        t.key.user === user.wildcard ? def.wildcardTypes.get(user.type) : def.directTypes.get(user.type);
      if (conds && keep(run.tupleOutcome(t, conds))) reach(t.key.object, def, !def.thisApprox, 0);
    }
  }

  let truncatedBy: ListObjectsOutput["truncatedBy"];
  const capReached = () => exactCount >= limit;
  while (frontier.length > 0 && !capReached()) {
    if (now() > deadline) {
      truncatedBy = "deadline";
      break;
    }
    const items = frontier;
    frontier = [];
    const groups = new Map<ReverseEdge, { users: string[]; from: Map<string, Item> }>();
    for (const item of items) {
      for (const edge of item.def.out) {
        if (!relevant.has(edge.into)) continue;
        const exact = item.exact && !edge.approx;
        if (edge.kind === "computed") {
          reach(item.object, edge.into, exact, item.depth + 1);
          continue;
        }
        let g = groups.get(edge);
        if (!g) {
          g = { users: [], from: new Map() };
          groups.set(edge, g);
        }
        const u = edge.kind === "ttu" ? item.object : item.object + item.def.hashName;
        if (!g.from.has(u)) {
          g.users.push(u);
          g.from.set(u, item);
        }
      }
    }
    const edges = [...groups.keys()];
    const queries = edges.map((e) => {
      const relation = e.kind === "ttu" ? e.tupleset!.name : e.into.name;
      return { objectType: e.into.type, relation, users: groups.get(e)!.users };
    });
    const results = await src.byUsers(queries);
    for (let i = 0; i < edges.length; i++) {
      const edge = edges[i]!;
      const g = groups.get(edge)!;
      for (const t of results[i] ?? []) {
        const from = g.from.get(t.key.user);
        if (!from) continue;
        const conds =
          edge.kind === "ttu"
            ? edge.tupleset!.directTypes.get(from.def.type)
            : edge.into.usersetTypes.get(from.def.type + from.def.hashName);
        if (!conds || !keep(run.tupleOutcome(t, conds))) continue;
        reach(t.key.object, edge.into, from.exact && !edge.approx, from.depth + 1);
      }
    }
  }
  if (!truncatedBy && capReached() && frontier.length > 0) truncatedBy = "max_results";

  // Confirm candidates reached only through intersections/exclusions. All discovered candidates are
  // confirmed (not only until the cap), so that a larger cap yields a longer prefix of the same order.
  const toCheck: string[] = [];
  for (const [object, exact] of candidates) if (!exact) toCheck.push(object);
  const decided = new Map<string, Outcome>();
  if (toCheck.length > 0 && !truncatedBy) {
    let open = toCheck;
    while (open.length > 0) {
      if (now() > deadline) {
        truncatedBy = "deadline";
        break;
      }
      const waiting: string[] = [];
      for (const object of open) {
        const r = run.root(object, target);
        if (r === WAIT) waiting.push(object);
        else decided.set(object, r);
      }
      if (waiting.length > 0) await src.view.flush();
      open = waiting;
    }
    for (const r of decided.values()) {
      if (r === ERR_CONDITION) conditionError ??= run.conditionError ?? "condition evaluation failed";
      else if (r === ERR_DEPTH) tooDeep = true;
    }
  }
  // Results in discovery order (deterministic for unchanged data), then this page of them.
  const ordered: string[] = [];
  for (const [object, exact] of candidates) if (exact || decided.get(object) === TRUE) ordered.push(object);
  if (ordered.length > limit) truncatedBy ??= "max_results";
  if (ordered.length < limit) {
    if (tooDeep) throw resolutionTooComplex();
    if (conditionError !== undefined) throw new AuthzError("validation_error", conditionError);
  }
  const objects = ordered.slice(skip, limit);
  const truncated = truncatedBy !== undefined;
  if (truncatedBy === "max_results")
    return { objects, truncated, truncatedBy, nextSkip: skip + objects.length };
  return truncatedBy ? { objects, truncated, truncatedBy } : { objects, truncated };
}
