/**
 * Authorization model validation with OpenFGA's rules and codes: malformed shapes → 2000 (see
 * normalize-model.ts), limits → 2053, schema version → 2057, semantic errors → 2056.
 */
import { type CompiledCondition, ConditionCompileError, compileConditions } from "./conditions.ts";
import { AuthzError, invalidModel } from "./errors.ts";
import type { AuthorizationModelInput, RelationReference, Userset } from "./model.ts";
import { normalizeModel } from "./normalize-model.ts";
import { rewriteHasThis } from "./typesystem.ts";

export interface ModelLimits {
  /** @default 100 */
  readonly maxTypes?: number;
  /** Serialized size in bytes. @default 262144 (256 KiB) */
  readonly maxBytes?: number;
}

/** The result of validation: the canonical model plus its compiled conditions (reused by the typesystem). */
export interface ValidatedModel {
  readonly model: AuthorizationModelInput;
  readonly conditions: ReadonlyMap<string, CompiledCondition>;
}

/** Normalises and validates a model as OpenFGA's WriteAuthorizationModel does. */
export function validateModel(input: unknown, limits: ModelLimits = {}): ValidatedModel {
  const model = normalizeModel(input);
  const maxTypes = limits.maxTypes ?? 100;
  if (model.type_definitions.length > maxTypes) {
    throw new AuthzError(
      "exceeded_entity_limit",
      `The number of type definitions in an authorization model exceeds the allowed limit of ${maxTypes}`,
    );
  }
  const maxBytes = limits.maxBytes ?? 256 * 1024;
  const size = Buffer.byteLength(JSON.stringify(model), "utf8");
  if (size > maxBytes) {
    throw new AuthzError(
      "exceeded_entity_limit",
      `The authorization model is ${size} bytes; the limit is ${maxBytes} bytes`,
    );
  }
  if (model.schema_version !== "1.1" && model.schema_version !== "1.2") {
    throw new AuthzError(
      "unsupported_schema_version",
      `invalid schema version '${model.schema_version}': only 1.1 and 1.2 are supported`,
    );
  }
  const conditions = checkSemantics(model);
  return { model, conditions };
}

type Rel = { readonly rewrite: Userset; readonly refs: readonly RelationReference[] };

function checkSemantics(model: AuthorizationModelInput): ReadonlyMap<string, CompiledCondition> {
  const types = new Map<string, Map<string, Rel>>();
  for (const td of model.type_definitions) {
    if (types.has(td.type)) throw invalidModel(`the type '${td.type}' is defined more than once`);
    const rels = new Map<string, Rel>();
    for (const [name, rewrite] of Object.entries(td.relations ?? {})) {
      if (name === "self" || name === "this") {
        throw invalidModel(`the relation name '${name}' on type '${td.type}' is reserved`);
      }
      rels.set(name, { rewrite, refs: td.metadata?.relations?.[name]?.directly_related_user_types ?? [] });
    }
    for (const name of Object.keys(td.metadata?.relations ?? {})) {
      if (!rels.has(name)) {
        throw invalidModel(`the relation '${name}' in the metadata of type '${td.type}' is not defined`);
      }
    }
    types.set(td.type, rels);
  }
  const conditions = model.conditions ?? {};
  for (const [key, c] of Object.entries(conditions)) {
    if (key !== c.name) throw invalidModel(`the condition key '${key}' does not match its name '${c.name}'`);
  }

  const tuplesets = new Set<string>();
  for (const [type, rels] of types) {
    for (const rel of rels.values()) collectTuplesets(type, rel.rewrite, tuplesets);
  }

  for (const [type, rels] of types) {
    for (const [name, rel] of rels) {
      const where = `${type}#${name}`;
      checkRewrite(types, type, where, rel.rewrite);
      const assignable = rewriteHasThis(rel.rewrite);
      if (assignable && rel.refs.length === 0) {
        throw invalidModel(`the assignable relation '${where}' must have at least one type restriction`);
      }
      if (!assignable && rel.refs.length > 0) {
        throw invalidModel(`the relation '${where}' has type restrictions but is not directly assignable`);
      }
      const isTupleset = tuplesets.has(where);
      for (const r of rel.refs) {
        const target = types.get(r.type);
        if (!target)
          throw invalidModel(`the type '${r.type}' in the type restrictions of '${where}' is not defined`);
        if (r.relation && r.wildcard) {
          throw invalidModel(
            `the type restriction '${r.type}' on '${where}' cannot be both a wildcard and a userset`,
          );
        }
        if (r.relation && !target.has(r.relation)) {
          throw invalidModel(
            `the relation '${r.type}#${r.relation}' in the type restrictions of '${where}' is not defined`,
          );
        }
        if (isTupleset && (r.relation || r.wildcard)) {
          throw invalidModel(
            `the relation '${where}' is used as a tupleset, so its type restrictions can only be direct types, not '${r.type}${r.wildcard ? ":*" : `#${r.relation}`}'`,
          );
        }
        if (r.condition && !Object.hasOwn(conditions, r.condition)) {
          throw invalidModel(`the condition '${r.condition}' used on '${where}' is not defined`);
        }
      }
    }
  }

  const memo: EntrypointMemo = { ok: new Set(), steps: 0 };
  for (const [type, rels] of types) {
    for (const [name, rel] of rels) {
      const res = hasEntrypoint(types, type, name, rel.rewrite, new Map(), memo);
      if (!res.ok) {
        throw invalidModel(
          res.loop
            ? `the relation '${type}#${name}' is part of a cycle that has no entrypoint`
            : `the relation '${type}#${name}' has no entrypoint: no path leads to a directly assignable type`,
        );
      }
    }
  }

  try {
    return compileConditions(model.conditions);
  } catch (e) {
    if (e instanceof ConditionCompileError) {
      throw invalidModel(`the condition '${e.conditionName}' is invalid: ${e.reason}`);
    }
    throw e;
  }
}

function collectTuplesets(type: string, us: Userset, out: Set<string>): void {
  if (us.tupleToUserset) out.add(`${type}#${us.tupleToUserset.tupleset.relation}`);
  for (const c of us.union?.child ?? []) collectTuplesets(type, c, out);
  for (const c of us.intersection?.child ?? []) collectTuplesets(type, c, out);
  if (us.difference) {
    collectTuplesets(type, us.difference.base, out);
    collectTuplesets(type, us.difference.subtract, out);
  }
}

function checkRewrite(types: Map<string, Map<string, Rel>>, type: string, where: string, us: Userset): void {
  const rels = types.get(type)!;
  if (us.computedUserset) {
    const r = us.computedUserset.relation ?? "";
    if (!rels.has(r)) throw invalidModel(`the relation '${type}#${r}' used in '${where}' is not defined`);
    return;
  }
  if (us.tupleToUserset) {
    const ts = us.tupleToUserset.tupleset.relation ?? "";
    const cu = us.tupleToUserset.computedUserset.relation ?? "";
    const tsRel = rels.get(ts);
    if (!tsRel) throw invalidModel(`the tupleset relation '${type}#${ts}' used in '${where}' is not defined`);
    if (!tsRel.rewrite.this) {
      throw invalidModel(
        `the relation '${type}#${ts}' is referenced in at least one tupleset and thus must be a direct relation`,
      );
    }
    if (!tsRel.refs.some((r) => types.get(r.type)?.has(cu))) {
      throw invalidModel(
        `the relation '${cu}' used in '${where}' ('${cu} from ${ts}') is not defined on any of the types of '${type}#${ts}'`,
      );
    }
    return;
  }
  for (const c of us.union?.child ?? []) checkRewrite(types, type, where, c);
  for (const c of us.intersection?.child ?? []) checkRewrite(types, type, where, c);
  if (us.difference) {
    checkRewrite(types, type, where, us.difference.base);
    checkRewrite(types, type, where, us.difference.subtract);
  }
}

type Visited = Map<string, Set<string>>;

function visit(v: Visited, type: string, relation: string): Visited {
  const out: Visited = new Map();
  for (const [k, s] of v) out.set(k, new Set(s));
  const s = out.get(type);
  if (s) s.add(relation);
  else out.set(type, new Set([relation]));
  return out;
}

/**
 * What one model's entrypoint checks share: the relations known to have an entrypoint, and the
 * steps taken. The search copies its visited set per path, so without the memo nested
 * intersections (`a2: a1 and b1`, `a1: a0 and b0`, …) make it exponential: a model of 40
 * relations took minutes. "Has an entrypoint" found under some visited set holds under any (fewer
 * visited relations only open paths), so positive answers for whole relations are kept; the step
 * budget bounds what the memo cannot (models whose relations have no entrypoint).
 */
interface EntrypointMemo {
  readonly ok: Set<string>;
  steps: number;
}

/** Steps the entrypoint checks of one model may take before it is refused as too complex. */
const MAX_ENTRYPOINT_STEPS = 200_000;

/** OpenFGA's entrypoint rule: every relation needs a path to a direct object (or wildcard) type. */
function hasEntrypoint(
  types: Map<string, Map<string, Rel>>,
  type: string,
  relation: string,
  us: Userset,
  visited: Visited,
  memo: EntrypointMemo,
): { ok: boolean; loop: boolean } {
  if (++memo.steps > MAX_ENTRYPOINT_STEPS)
    throw invalidModel("the model is too complex to validate: simplify its nested rewrites");
  const whole = types.get(type)?.get(relation)?.rewrite === us;
  const key = `${type}#${relation}`;
  if (whole && memo.ok.has(key)) return { ok: true, loop: false };
  const res = entrypoint(types, type, relation, us, visited, memo);
  if (whole && res.ok) memo.ok.add(key);
  return res;
}

function entrypoint(
  types: Map<string, Map<string, Rel>>,
  type: string,
  relation: string,
  us: Userset,
  visited: Visited,
  memo: EntrypointMemo,
): { ok: boolean; loop: boolean } {
  const v = visit(visited, type, relation);
  const rel = types.get(type)?.get(relation);
  if (!rel) return { ok: false, loop: false };
  if (us.this) {
    for (const r of rel.refs) {
      if (!r.relation || r.wildcard) return { ok: true, loop: false };
      if (v.get(r.type)?.has(r.relation)) continue;
      const target = types.get(r.type)?.get(r.relation);
      if (target && hasEntrypoint(types, r.type, r.relation, target.rewrite, v, memo).ok)
        return { ok: true, loop: false };
    }
    return { ok: false, loop: false };
  }
  if (us.computedUserset) {
    const r = us.computedUserset.relation ?? "";
    const target = types.get(type)?.get(r);
    if (!target) return { ok: false, loop: false };
    if (v.get(type)?.has(r)) return { ok: false, loop: true };
    return hasEntrypoint(types, type, r, target.rewrite, v, memo);
  }
  if (us.tupleToUserset) {
    const ts = types.get(type)?.get(us.tupleToUserset.tupleset.relation ?? "");
    const cu = us.tupleToUserset.computedUserset.relation ?? "";
    for (const r of ts?.refs ?? []) {
      const target = types.get(r.type)?.get(cu);
      if (!target || v.get(r.type)?.has(cu)) continue;
      if (hasEntrypoint(types, r.type, cu, target.rewrite, v, memo).ok) return { ok: true, loop: false };
    }
    return { ok: false, loop: false };
  }
  if (us.union) {
    let loop = false;
    for (const c of us.union.child) {
      const r = hasEntrypoint(types, type, relation, c, v, memo);
      if (r.ok) return { ok: true, loop: false };
      loop ||= r.loop;
    }
    return { ok: false, loop };
  }
  if (us.intersection) {
    for (const c of us.intersection.child) {
      const r = hasEntrypoint(types, type, relation, c, v, memo);
      if (!r.ok) return r;
    }
    return { ok: true, loop: false };
  }
  if (us.difference) {
    const b = hasEntrypoint(types, type, relation, us.difference.base, v, memo);
    if (!b.ok) return b;
    const s = hasEntrypoint(types, type, relation, us.difference.subtract, v, memo);
    if (!s.ok) return s;
    return { ok: true, loop: false };
  }
  return { ok: false, loop: false };
}
