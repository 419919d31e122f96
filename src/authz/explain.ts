/**
 * Explanations for allowed checks: the path (tuples and rewrites) that granted access. Run after a
 * check resolved TRUE with the same `CheckRun`, so sub-results are memoised and reads are cached; it
 * follows, at each node, the first branch that resolves TRUE.
 */
import { type CheckRun, type ObjState, ON_PATH, TRUE } from "./check.ts";
import type { TupleKey } from "./model.ts";
import { PENDING } from "./reader.ts";
import { USER_OBJECT, USER_USERSET, USER_WILDCARD } from "./tuples.ts";
import {
  N_COMPUTED,
  N_EXCLUSION,
  N_INTERSECTION,
  N_THIS,
  N_TTU,
  N_UNION,
  type RelationDef,
  type RewriteNode,
} from "./typesystem.ts";

/** One step of an explanation: why the user has `relation` on `object`. */
export type ExplainStep =
  | { readonly kind: "direct"; readonly object: string; readonly relation: string; readonly tuple: TupleKey }
  | { readonly kind: "self"; readonly object: string; readonly relation: string }
  | {
      readonly kind: "computed";
      readonly object: string;
      readonly relation: string;
      readonly rewrite: string;
      readonly via: ExplainStep;
    }
  | {
      readonly kind: "userset";
      readonly object: string;
      readonly relation: string;
      readonly tuple: TupleKey;
      readonly via: ExplainStep;
    }
  | {
      readonly kind: "tuple_to_userset";
      readonly object: string;
      readonly relation: string;
      readonly tupleset: string;
      readonly tuple: TupleKey;
      readonly via: ExplainStep;
    }
  | {
      readonly kind: "intersection";
      readonly object: string;
      readonly relation: string;
      readonly all: ExplainStep[];
    }
  | {
      readonly kind: "exclusion";
      readonly object: string;
      readonly relation: string;
      readonly base: ExplainStep;
      /** The subtracted `object#relation` the user does not have. */
      readonly notIn: string;
    };

/**
 * Steps an explanation may take. Explanations are not memoised (each branch of an intersection is
 * explained in full), so a model nesting intersections makes them exponential where the check is
 * not: the walk is bounded, and an explanation that needs more steps is not given.
 */
export const EXPLAIN_MAX_STEPS = 10_000;
/** Steps of a granting path (the audit reason of every allowed check). */
export const PATH_MAX_STEPS = 256;
/** Longest granting path kept (and cached); longer ones are cut and end with `…`. */
export const PATH_MAX_CHARS = 2048;

/** Steps left to the walk in progress (explanations are synchronous: one walk at a time). */
let stepsLeft = Number.POSITIVE_INFINITY;

/** {@link explain} within `maxSteps`; undefined when the explanation needs more. */
export function explainWithin(
  run: CheckRun,
  object: string,
  def: RelationDef,
  maxSteps: number,
): ExplainStep | undefined {
  stepsLeft = maxSteps;
  try {
    const step = explain(run, object, def);
    return stepsLeft < 0 ? undefined : step;
  } finally {
    stepsLeft = Number.POSITIVE_INFINITY;
  }
}

/** Why `run.user` has `def` on `object`; undefined when not allowed (or a read is still pending). */
export function explain(run: CheckRun, object: string, def: RelationDef, depth = 0): ExplainStep | undefined {
  if (--stepsLeft < 0) return undefined;
  const u = run.user;
  if (u.kind === USER_USERSET && u.relation === def.name && u.object === object) {
    return { kind: "self", object, relation: def.name };
  }
  const o = run.objectState(object, def);
  const prev = o.st[def.ord]!;
  if (prev === ON_PATH || depth > run.maxDepth) return undefined;
  o.st[def.ord] = ON_PATH;
  const step = explainNode(run, def.rewrite, object, def, depth, o);
  o.st[def.ord] = prev;
  return step;
}

function explainNode(
  run: CheckRun,
  n: RewriteNode,
  object: string,
  def: RelationDef,
  depth: number,
  o: ObjState,
): ExplainStep | undefined {
  const relation = def.name;
  switch (n.kind) {
    case N_THIS:
      return explainDirect(run, object, def, depth);
    case N_COMPUTED: {
      const via = explain(run, object, n.target, depth + 1);
      return via && { kind: "computed", object, relation, rewrite: n.relation, via };
    }
    case N_TTU: {
      const tuples = run.src.all(object, n.tupleset);
      if (tuples === PENDING) return undefined;
      for (const t of tuples) {
        const user = t.key.user;
        const ptype = user.slice(0, user.indexOf(":"));
        const conds = n.tuplesetDef.directTypes.get(ptype);
        const target = n.targets.get(ptype);
        if (!conds || !target || user.includes("#") || user.endsWith(":*")) continue;
        if (run.tupleOutcome(t, conds) !== TRUE || run.dispatch(user, target, depth + 1) !== TRUE) continue;
        const via = explain(run, user, target, depth + 1);
        if (via)
          return { kind: "tuple_to_userset", object, relation, tupleset: n.tupleset, tuple: t.key, via };
      }
      return undefined;
    }
    case N_UNION:
      for (const c of n.children) {
        if (run.node(c, object, def, depth, o) !== TRUE) continue;
        const step = explainNode(run, c, object, def, depth, o);
        if (step) return step;
      }
      return undefined;
    case N_INTERSECTION: {
      const all: ExplainStep[] = [];
      for (const c of n.children) {
        const step = explainNode(run, c, object, def, depth, o);
        if (!step) return undefined;
        all.push(step);
      }
      return { kind: "intersection", object, relation, all };
    }
    case N_EXCLUSION: {
      const base = explainNode(run, n.base, object, def, depth, o);
      if (!base) return undefined;
      const sub = n.subtract;
      const notIn =
        sub.kind === N_COMPUTED
          ? `${object}#${sub.relation}`
          : sub.kind === N_TTU
            ? `${sub.computed} from ${object}#${sub.tupleset}`
            : `${object}#${relation} (subtracted rewrite)`;
      return { kind: "exclusion", object, relation, base, notIn };
    }
  }
}

function explainDirect(
  run: CheckRun,
  object: string,
  def: RelationDef,
  depth: number,
): ExplainStep | undefined {
  const u = run.user;
  const relation = def.name;
  // The user's own tuple (or its type's wildcard tuple), with the conditions its restriction allows.
  const direct: [string, ReadonlySet<string> | undefined][] =
    u.kind === USER_OBJECT
      ? [
          [u.str, def.directTypes.get(u.type)],
          [u.wildcard, def.wildcardTypes.get(u.type)],
        ]
      : [
          [
            u.str,
            u.kind === USER_WILDCARD ? def.wildcardTypes.get(u.type) : def.usersetTypes.get(u.reachKey),
          ],
        ];
  for (const [who, conds] of direct) {
    if (!conds) continue;
    const t = run.src.exact(object, relation, who);
    if (t === undefined || t === PENDING) continue;
    if (run.tupleOutcome(t, conds) === TRUE) return { kind: "direct", object, relation, tuple: t.key };
  }
  if (def.usersetTypes.size === 0) return undefined;
  const tuples = run.src.usersets(object, relation);
  if (tuples === PENDING) return undefined;
  for (const t of tuples) {
    const user = t.key.user;
    const hash = user.indexOf("#");
    if (hash < 0) continue;
    const target = run.ts.relation(user.slice(0, user.indexOf(":")), user.slice(hash + 1));
    const conds = target && def.usersetDefs.get(target);
    if (!target || !conds || run.tupleOutcome(t, conds) !== TRUE) continue;
    const obj = user.slice(0, hash);
    if (run.dispatch(obj, target, depth + 1) !== TRUE) continue;
    const via = explain(run, obj, target, depth + 1);
    if (via) return { kind: "userset", object, relation, tuple: t.key, via };
  }
  return undefined;
}

const tupleText = (t: TupleKey): string => `${t.object}#${t.relation}@${t.user}`;

/**
 * One line for an explanation, the `reason` of an allowed check's audit event: each hop of the
 * path joined by ` > `, tuples as `object#relation@user`, rewrites as `object#relation=rewrite`,
 * tuple-to-userset hops as `object#relation<-tupleset` before the tuple that links them.
 *
 *   document:d1#viewer@team:t1#member > team:t1#member@user:anne
 *   document:d1#viewer=editor > document:d1#editor<-parent > document:d1#parent@folder:f1 > …
 */
export function formatExplanation(step: ExplainStep): string {
  const parts: string[] = [];
  for (let s: ExplainStep | undefined = step; s !== undefined; ) {
    switch (s.kind) {
      case "direct":
        parts.push(tupleText(s.tuple));
        s = undefined;
        break;
      case "self":
        parts.push(`${s.object}#${s.relation} (the userset itself)`);
        s = undefined;
        break;
      case "computed":
        parts.push(`${s.object}#${s.relation}=${s.rewrite}`);
        s = s.via;
        break;
      case "userset":
        parts.push(tupleText(s.tuple));
        s = s.via;
        break;
      case "tuple_to_userset":
        parts.push(`${s.object}#${s.relation}<-${s.tupleset}`, tupleText(s.tuple));
        s = s.via;
        break;
      case "intersection":
        parts.push(`all(${s.all.map(formatExplanation).join(" & ")})`);
        s = undefined;
        break;
      case "exclusion":
        parts.push(`${formatExplanation(s.base)} but not ${s.notIn}`);
        s = undefined;
        break;
    }
  }
  return parts.join(" > ");
}

/**
 * The granting path of a check that resolved TRUE with `run`, as one line of at most
 * {@link PATH_MAX_CHARS}; undefined when a hop would need a read the check did not make (a
 * sub-result came from the sub-problem cache and the store is remote) or the walk would take more
 * than {@link PATH_MAX_STEPS} steps. It only walks what the check already resolved.
 */
export function grantingPath(run: CheckRun, object: string, def: RelationDef): string | undefined {
  const step = explainWithin(run, object, def, PATH_MAX_STEPS);
  if (!step) return undefined;
  const text = formatExplanation(step);
  return text.length <= PATH_MAX_CHARS ? text : `${text.slice(0, PATH_MAX_CHARS - 1)}…`;
}
