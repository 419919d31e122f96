/**
 * ListUsers: every user of the filter's type (or userset `type#relation`) that has a relation on an
 * object.
 *
 * Forward expansion from `object#relation` over the rewrite trees: direct tuples (userset users are
 * expanded in turn), computed relations and tuple-to-userset parents, level by level (each level's
 * reads travel as one batch), pruned to relations that can hold the filter's user kind. Every branch
 * is explored, subtracted ones included, so that any condition that cannot be evaluated fails the
 * call (2000) as upstream does. Users found over pure-union paths are results; users found through an
 * intersection or an exclusion base are confirmed with Check. A userset filter `T#R` also yields the
 * userset of every visited `T:id#R` node (it trivially has itself).
 */
import { CheckRun, ERR_CONDITION, ERR_DEPTH, type Outcome, TRUE, WAIT } from "./check.ts";
import { AuthzError, resolutionTooComplex } from "./errors.ts";
import { PENDING, type TupleSource } from "./reader.ts";
import { type ParsedUser, parseUser, USER_OBJECT, USER_USERSET, USER_WILDCARD } from "./tuples.ts";
import {
  N_COMPUTED,
  N_EXCLUSION,
  N_INTERSECTION,
  N_THIS,
  N_TTU,
  N_UNION,
  type RelationDef,
  type RewriteNode,
  type TypeSystem,
} from "./typesystem.ts";

export interface ListUsersInput {
  readonly ts: TypeSystem;
  readonly src: TupleSource;
  readonly object: string;
  readonly def: RelationDef;
  readonly filter: { readonly type: string; readonly relation?: string };
  readonly context: Readonly<Record<string, unknown>> | undefined;
  readonly maxDepth: number;
  readonly maxResults: number;
  readonly deadline: number;
  readonly now: () => number;
}

export interface ListUsersOutput {
  /** `type:id`, `type:*` or `type:id#relation`. */
  readonly users: string[];
  readonly truncated: boolean;
  readonly truncatedBy?: "max_results" | "deadline";
}

interface Item {
  readonly object: string;
  readonly def: RelationDef;
  /** Reached over a pure-union path (results need no check). */
  readonly exact: boolean;
  /** False inside a subtracted branch: explored for errors only. */
  readonly collect: boolean;
  readonly depth: number;
}

export async function listUsers(input: ListUsersInput): Promise<ListUsersOutput> {
  const { ts, src, filter, maxResults, deadline, now } = input;
  const filterKey = filter.relation ? `${filter.type}#${filter.relation}` : filter.type;
  // Conditions are evaluated through a CheckRun (its user is irrelevant for tupleOutcome).
  const probe = parseUser(`${input.def.type}:probe`)!;
  const run = new CheckRun(ts, src, probe, input.context, input.maxDepth);
  const visited = new Map<string, number>();
  const found = new Map<string, boolean>();
  let conditionError: string | undefined;
  let work: Item[] = [];

  const enqueue = (object: string, def: RelationDef, exact: boolean, collect: boolean, depth: number) => {
    if (!def.reach.has(filterKey)) return;
    const rank = (collect ? 2 : 0) + (exact ? 1 : 0);
    const key = object + def.hashName;
    const prev = visited.get(key);
    if (prev !== undefined && (prev | rank) === prev) return;
    visited.set(key, (prev ?? 0) | rank);
    if (depth >= input.maxDepth) throw resolutionTooComplex();
    work.push({ object, def, exact, collect, depth });
  };
  const add = (user: string, exact: boolean) => {
    const was = found.get(user);
    if (was === undefined || (exact && !was)) found.set(user, exact);
  };
  const holds = (o: Outcome): boolean => {
    if (o === TRUE) return true;
    if (o === ERR_CONDITION) conditionError ??= run.conditionError;
    return false;
  };

  /** Walks one node of `item`'s rewrite; returns false when a read is still pending. */
  const walk = (item: Item, n: RewriteNode, exact: boolean, collect: boolean): boolean => {
    const { object, def, depth } = item;
    switch (n.kind) {
      case N_THIS: {
        const tuples = src.all(object, def.name);
        if (tuples === PENDING) return false;
        for (const t of tuples) {
          const u = parseUser(t.key.user);
          if (!u) continue;
          const conds =
            u.kind === USER_OBJECT
              ? def.directTypes.get(u.type)
              : u.kind === USER_WILDCARD
                ? def.wildcardTypes.get(u.type)
                : def.usersetTypes.get(u.reachKey);
          if (!conds || !holds(run.tupleOutcome(t, conds))) continue;
          if (u.kind === USER_USERSET) {
            if (collect && filter.relation && u.type === filter.type && u.relation === filter.relation)
              add(u.str, exact);
            const target = ts.relation(u.type, u.relation);
            if (target) enqueue(u.object, target, exact, collect, depth + 1);
          } else if (collect && !filter.relation && u.type === filter.type) {
            add(u.str, exact);
          }
        }
        return true;
      }
      case N_COMPUTED:
        enqueue(object, n.target, exact, collect, depth + 1);
        return true;
      case N_TTU: {
        const tuples = src.all(object, n.tupleset);
        if (tuples === PENDING) return false;
        for (const t of tuples) {
          const u = parseUser(t.key.user);
          if (!u || u.kind !== USER_OBJECT) continue;
          const conds = n.tuplesetDef.directTypes.get(u.type);
          const target = n.targets.get(u.type);
          if (!conds || !target || !holds(run.tupleOutcome(t, conds))) continue;
          enqueue(u.str, target, exact, collect, depth + 1);
        }
        return true;
      }
      case N_UNION: {
        let done = true;
        for (const c of n.children) done = walk(item, c, exact, collect) && done;
        return done;
      }
      case N_INTERSECTION: {
        let done = true;
        for (const c of n.children) done = walk(item, c, false, collect) && done;
        return done;
      }
      case N_EXCLUSION: {
        const b = walk(item, n.base, false, collect);
        const s = walk(item, n.subtract, false, false);
        return b && s;
      }
    }
  };

  enqueue(input.object, input.def, true, true, 0);
  let truncatedBy: ListUsersOutput["truncatedBy"];
  const exactCount = () => {
    let c = 0;
    for (const e of found.values()) if (e) c++;
    return c;
  };
  while (work.length > 0) {
    if (now() > deadline) {
      truncatedBy = "deadline";
      break;
    }
    if (exactCount() >= maxResults) {
      truncatedBy = "max_results";
      break;
    }
    const items = work;
    work = [];
    const retry: Item[] = [];
    for (const item of items) {
      const { def, object } = item;
      if (item.collect && filter.relation && def.type === filter.type && def.name === filter.relation) {
        add(object + def.hashName, item.exact);
      }
      if (!walk(item, def.rewrite, item.exact, item.collect)) retry.push(item);
    }
    if (src.view.hasPending) await src.view.flush();
    work.push(...retry);
  }

  // Confirm users found through intersections/exclusions: all of them (not only until the cap), so
  // that a larger cap yields a longer prefix of the same order.
  const toCheck: string[] = [];
  for (const [u, exact] of found) if (!exact) toCheck.push(u);
  const verdict = new Map<string, Outcome>();
  if (toCheck.length > 0 && truncatedBy !== "deadline") {
    const runs = toCheck.map((u) => new CheckRun(ts, src, parseUser(u)!, input.context, input.maxDepth));
    const outcomes: Outcome[] = toCheck.map(() => WAIT);
    for (;;) {
      let waiting = false;
      for (let i = 0; i < runs.length; i++) {
        if (outcomes[i] !== WAIT) continue;
        outcomes[i] = runs[i]!.root(input.object, input.def);
        if (outcomes[i] === WAIT) waiting = true;
      }
      if (!waiting) break;
      if (now() > deadline) {
        truncatedBy = "deadline";
        break;
      }
      await src.view.flush();
    }
    for (let i = 0; i < toCheck.length; i++) {
      const o = outcomes[i]!;
      verdict.set(toCheck[i]!, o);
      if (o === ERR_CONDITION) conditionError ??= runs[i]!.conditionError ?? "condition evaluation failed";
      else if (o === ERR_DEPTH) throw resolutionTooComplex();
    }
  }
  // Results in discovery order (deterministic for unchanged data), then capped.
  const users: string[] = [];
  for (const [u, exact] of found) if (exact || verdict.get(u) === TRUE) users.push(u);
  if (users.length > maxResults) {
    users.length = maxResults;
    truncatedBy ??= "max_results";
  }
  const truncated = truncatedBy !== undefined;
  if (users.length < maxResults && conditionError !== undefined) {
    throw new AuthzError("validation_error", conditionError);
  }
  return truncatedBy ? { users, truncated, truncatedBy } : { users, truncated };
}

export type { ParsedUser };
