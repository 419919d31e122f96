/**
 * The compiled form of one (validated) authorization model: per type and relation a `RelationDef`
 * with its rewrite as a small tree of typed nodes whose references are already resolved to other
 * `RelationDef`s, the direct type restrictions as lookup tables (user type → allowed condition names),
 * the set of user kinds the relation can ever contain (for pruning), and the reverse edges that
 * list-objects walks. Built once per model and cached; nothing on the query path parses JSON or
 * looks names up in the model again.
 */
import { type CompiledCondition, compileConditions } from "./conditions.ts";
import { internalize } from "./intern.ts";
import type { AuthorizationModel, AuthorizationModelInput, RelationReference, Userset } from "./model.ts";
import { isValidRelation } from "./tuples.ts";

/** Rewrite node kinds (literal numbers: cheap switch on the hot path). */
export const N_THIS = 0;
export const N_COMPUTED = 1;
export const N_TTU = 2;
export const N_UNION = 3;
export const N_INTERSECTION = 4;
export const N_EXCLUSION = 5;

export interface ThisNode {
  readonly kind: typeof N_THIS;
}
export interface ComputedNode {
  readonly kind: typeof N_COMPUTED;
  readonly relation: string;
  /** Resolved target (same object type). */
  target: RelationDef;
}
export interface TtuNode {
  readonly kind: typeof N_TTU;
  readonly tupleset: string;
  readonly computed: string;
  tuplesetDef: RelationDef;
  /** Target relation per parent object type (types of the tupleset that define `computed`). */
  readonly targets: Map<string, RelationDef>;
  /** Per parent object type: its target and the conditions the tupleset allows (both must exist). */
  readonly hops: Map<string, Hop>;
}

/**
 * A precompiled edge to another object, for the evaluator's hot path: the relation resolved on the
 * other object and the condition names the stored tuple may carry.
 */
export interface Hop {
  readonly target: RelationDef;
  readonly conds: ConditionSet;
  /** The outcome of a tuple WITHOUT condition on this edge: 1 when allowed, else 0. */
  readonly plain: 0 | 1;
}
export interface SetNode {
  readonly kind: typeof N_UNION | typeof N_INTERSECTION;
  readonly children: readonly RewriteNode[];
}
export interface ExclusionNode {
  readonly kind: typeof N_EXCLUSION;
  readonly base: RewriteNode;
  readonly subtract: RewriteNode;
}
export type RewriteNode = ThisNode | ComputedNode | TtuNode | SetNode | ExclusionNode;

/** Condition names a type restriction allows; `""` stands for "no condition". */
export type ConditionSet = ReadonlySet<string>;

/** Reverse edge for list-objects: membership in `from` implies (possibly) membership in `into`. */
export interface ReverseEdge {
  readonly kind: "computed" | "ttu" | "userset";
  readonly into: RelationDef;
  /** For `ttu`: the tupleset relation on `into.type`. */
  readonly tupleset?: RelationDef;
  /** True when the edge passes through an intersection or an exclusion base: results need a check. */
  readonly approx: boolean;
}

export interface RelationDef {
  readonly type: string;
  readonly name: string;
  /** Index of the relation within its type (0 … typeSize-1): per-object memo slots. */
  ord: number;
  /** Index of the relation within the model (dense, 0 …): keys the sub-problem cache. */
  uid: number;
  /** Number of relations of `type`. */
  typeSize: number;
  /** `#name`, for building `object#relation` keys without extra concatenations. */
  readonly hashName: string;
  /** The name passes the query grammar for relations (`isValidRelation`): checked once here. */
  readonly validName: boolean;
  rewrite: RewriteNode;
  /** The rewrite contains `this`. */
  readonly assignable: boolean;
  readonly restrictions: readonly RelationReference[];
  /** Object user types allowed directly (`[user]`), with their condition names. */
  readonly directTypes: Map<string, Set<string>>;
  /** Wildcards allowed directly (`[user:*]`), by user type. */
  readonly wildcardTypes: Map<string, Set<string>>;
  /** Usersets allowed directly (`[group#member]`), keyed `group#member`. */
  readonly usersetTypes: Map<string, Set<string>>;
  /** The same, keyed by the userset's resolved relation. */
  readonly usersetDefs: Map<RelationDef, Set<string>>;
  /** User kinds this relation can ever hold: `type` (objects), `type:*` (wildcard user), `type#rel`. */
  readonly reach: Set<string>;
  /** Reverse edges leaving this relation (list-objects). */
  readonly out: ReverseEdge[];
  /**
   * Hot-path tables indexed by the typesystem's user-kind id (`TypeSystem.kindOf`): whether the
   * relation can hold that kind at all (`reach`), and the conditions of the direct type restriction
   * that admits the user's own tuple (`[user]` for `user:x`, `[user:*]` for `user:*`,
   * `[group#member]` for `group:x#member`) and, for object users, the wildcard tuple `type:*`.
   */
  reachable: Uint8Array;
  directByKind: (ConditionSet | undefined)[];
  wildcardByKind: (ConditionSet | undefined)[];
  /** Userset restrictions by `type#relation`, precompiled. */
  readonly usersetHops: Map<string, Hop>;
  /** The relation is the tupleset of at least one tuple-to-userset. */
  isTupleset: boolean;
  /** `this` sits under an intersection or an exclusion base: direct hits need a check (list-objects). */
  thisApprox: boolean;
}

export interface TypeInfo {
  readonly name: string;
  readonly relations: Map<string, RelationDef>;
}

export class TypeSystem {
  readonly model: AuthorizationModel;
  readonly id: string;
  readonly types: ReadonlyMap<string, TypeInfo>;
  readonly conditions: ReadonlyMap<string, CompiledCondition>;
  /** Object user type → relations that accept that type (or its wildcard) directly. */
  readonly directEntries: ReadonlyMap<string, readonly RelationDef[]>;
  /** User kinds (`type`, `type:*`, `type#relation`) → dense ids for the hot-path tables. */
  readonly #kinds = new Map<string, number>();
  readonly #relevance = new Map<RelationDef, ReadonlySet<RelationDef>>();

  constructor(model: AuthorizationModel, compiled?: ReadonlyMap<string, CompiledCondition>) {
    this.model = model;
    this.id = model.id;
    this.conditions = compiled ?? compileConditions(model.conditions);
    const types = new Map<string, TypeInfo>();
    let uid = 0;
    for (const td of model.type_definitions) {
      const relations = new Map<string, RelationDef>();
      const names = Object.keys(td.relations ?? {});
      const type = internalize(td.type);
      names.forEach((name, ord) => {
        const restrictions = td.metadata?.relations?.[name]?.directly_related_user_types ?? [];
        const def = newRelationDef(type, internalize(name), restrictions);
        def.ord = ord;
        def.uid = uid++;
        def.typeSize = names.length;
        relations.set(name, def);
      });
      types.set(type, { name: type, relations });
    }
    this.types = types;
    for (const t of types.values()) {
      for (const def of t.relations.values()) {
        for (const [key, conds] of def.usersetTypes) {
          const [ut, ur] = key.split("#") as [string, string];
          const target = types.get(ut)?.relations.get(ur);
          if (target) def.usersetDefs.set(target, conds);
        }
      }
    }
    for (const td of model.type_definitions) {
      for (const [name, us] of Object.entries(td.relations ?? {})) {
        const def = types.get(td.type)!.relations.get(name)!;
        def.rewrite = this.#compile(def, us);
      }
    }
    this.#computeReach();
    const entries = new Map<string, RelationDef[]>();
    for (const t of types.values()) {
      for (const def of t.relations.values()) {
        this.#edges(def, def.rewrite, false);
        const seen = new Set<string>([...def.directTypes.keys(), ...def.wildcardTypes.keys()]);
        for (const u of seen) {
          const list = entries.get(u);
          if (list) list.push(def);
          else entries.set(u, [def]);
        }
      }
    }
    this.directEntries = entries;
    this.#compileHotPath();
  }

  /** The dense id of a user kind (`ParsedUser.reachKey`), or -1 when the model has no such kind. */
  kindOf(reachKey: string): number {
    return this.#kinds.get(reachKey) ?? -1;
  }

  #compileHotPath(): void {
    const kinds = this.#kinds;
    for (const t of this.types.values()) {
      kinds.set(internalize(t.name), kinds.size);
      kinds.set(internalize(`${t.name}:*`), kinds.size);
      for (const r of t.relations.keys()) kinds.set(internalize(`${t.name}#${r}`), kinds.size);
    }
    for (const t of this.types.values()) {
      for (const def of t.relations.values()) {
        def.reachable = new Uint8Array(kinds.size);
        def.directByKind = new Array(kinds.size).fill(undefined);
        def.wildcardByKind = new Array(kinds.size).fill(undefined);
        for (const [key, id] of kinds) {
          if (def.reach.has(key)) def.reachable[id] = 1;
          const hash = key.indexOf("#");
          if (hash >= 0) def.directByKind[id] = def.usersetTypes.get(key);
          else if (key.endsWith(":*")) def.directByKind[id] = def.wildcardTypes.get(key.slice(0, -2));
          else {
            def.directByKind[id] = def.directTypes.get(key);
            def.wildcardByKind[id] = def.wildcardTypes.get(key);
          }
        }
        for (const [target, conds] of def.usersetDefs) {
          def.usersetHops.set(internalize(`${target.type}#${target.name}`), {
            target,
            conds,
            plain: conds.has("") ? 1 : 0,
          });
        }
      }
    }
  }

  relation(type: string, relation: string): RelationDef | undefined {
    return this.types.get(type)?.relations.get(relation);
  }

  hasType(type: string): boolean {
    return this.types.has(type);
  }

  /** Relations from which `target` can be reached over reverse edges (including `target`). */
  relevantTo(target: RelationDef): ReadonlySet<RelationDef> {
    let set = this.#relevance.get(target);
    if (set) return set;
    const into = new Map<RelationDef, RelationDef[]>();
    for (const t of this.types.values()) {
      for (const def of t.relations.values()) {
        for (const e of def.out) {
          const l = into.get(e.into);
          if (l) l.push(def);
          else into.set(e.into, [def]);
        }
      }
    }
    const s = new Set<RelationDef>([target]);
    const stack = [target];
    for (let d = stack.pop(); d; d = stack.pop()) {
      for (const from of into.get(d) ?? []) {
        if (!s.has(from)) {
          s.add(from);
          stack.push(from);
        }
      }
    }
    set = s;
    this.#relevance.set(target, set);
    return set;
  }

  #compile(def: RelationDef, us: Userset): RewriteNode {
    if (us.this) return { kind: N_THIS };
    if (us.computedUserset) {
      const relation = us.computedUserset.relation ?? "";
      return { kind: N_COMPUTED, relation, target: this.#rel(def.type, relation) };
    }
    if (us.tupleToUserset) {
      const tupleset = us.tupleToUserset.tupleset.relation ?? "";
      const computed = us.tupleToUserset.computedUserset.relation ?? "";
      const tuplesetDef = this.#rel(def.type, tupleset);
      tuplesetDef.isTupleset = true;
      const targets = new Map<string, RelationDef>();
      const hops = new Map<string, Hop>();
      for (const [parentType, conds] of tuplesetDef.directTypes) {
        const t = this.relation(parentType, computed);
        if (t) {
          targets.set(parentType, t);
          hops.set(internalize(parentType), { target: t, conds, plain: conds.has("") ? 1 : 0 });
        }
      }
      return { kind: N_TTU, tupleset, computed, tuplesetDef, targets, hops };
    }
    if (us.union) return { kind: N_UNION, children: us.union.child.map((c) => this.#compile(def, c)) };
    if (us.intersection) {
      return { kind: N_INTERSECTION, children: us.intersection.child.map((c) => this.#compile(def, c)) };
    }
    if (us.difference) {
      return {
        kind: N_EXCLUSION,
        base: this.#compile(def, us.difference.base),
        subtract: this.#compile(def, us.difference.subtract),
      };
    }
    throw new Error(`invalid rewrite in ${def.type}#${def.name}`);
  }

  #rel(type: string, relation: string): RelationDef {
    const r = this.relation(type, relation);
    if (!r) throw new Error(`undefined relation ${type}#${relation}`);
    return r;
  }

  /** Fixed point of the user kinds each relation can hold (over-approximation). */
  #computeReach(): void {
    const all = [...this.types.values()].flatMap((t) => [...t.relations.values()]);
    for (const def of all) def.reach.add(`${def.type}#${def.name}`);
    let changed = true;
    while (changed) {
      changed = false;
      for (const def of all) {
        const before = def.reach.size;
        this.#reachOf(def, def.rewrite, def.reach);
        if (def.reach.size !== before) changed = true;
      }
    }
  }

  #reachOf(def: RelationDef, node: RewriteNode, out: Set<string>): void {
    switch (node.kind) {
      case N_THIS:
        for (const u of def.directTypes.keys()) out.add(u);
        for (const u of def.wildcardTypes.keys()) {
          out.add(u);
          out.add(`${u}:*`);
        }
        for (const us of def.usersetTypes.keys()) {
          out.add(us);
          const [t, r] = us.split("#") as [string, string];
          const target = this.relation(t, r);
          if (target) for (const k of target.reach) out.add(k);
        }
        return;
      case N_COMPUTED:
        for (const k of node.target.reach) out.add(k);
        return;
      case N_TTU:
        for (const t of node.targets.values()) for (const k of t.reach) out.add(k);
        return;
      case N_UNION:
      case N_INTERSECTION:
        for (const c of node.children) this.#reachOf(def, c, out);
        return;
      case N_EXCLUSION:
        this.#reachOf(def, node.base, out);
        return;
    }
  }

  #edges(def: RelationDef, node: RewriteNode, approx: boolean): void {
    switch (node.kind) {
      case N_THIS:
        if (approx) def.thisApprox = true;
        for (const us of def.usersetTypes.keys()) {
          const [t, r] = us.split("#") as [string, string];
          const from = this.relation(t, r);
          if (from) from.out.push({ kind: "userset", into: def, approx });
        }
        return;
      case N_COMPUTED:
        node.target.out.push({ kind: "computed", into: def, approx });
        return;
      case N_TTU:
        for (const from of node.targets.values()) {
          from.out.push({ kind: "ttu", into: def, tupleset: node.tuplesetDef, approx });
        }
        return;
      case N_UNION:
        for (const c of node.children) this.#edges(def, c, approx);
        return;
      case N_INTERSECTION:
        for (const c of node.children) this.#edges(def, c, true);
        return;
      case N_EXCLUSION:
        this.#edges(def, node.base, true);
        return;
    }
  }
}

function newRelationDef(type: string, name: string, restrictions: readonly RelationReference[]): RelationDef {
  const directTypes = new Map<string, Set<string>>();
  const wildcardTypes = new Map<string, Set<string>>();
  const usersetTypes = new Map<string, Set<string>>();
  for (const r of restrictions) {
    const map = r.wildcard ? wildcardTypes : r.relation ? usersetTypes : directTypes;
    const key = internalize(r.relation && !r.wildcard ? `${r.type}#${r.relation}` : r.type);
    const set = map.get(key);
    if (set) set.add(r.condition ?? "");
    else map.set(key, new Set([r.condition ?? ""]));
  }
  return {
    type,
    name,
    ord: 0,
    uid: 0,
    typeSize: 1,
    hashName: `#${name}`,
    validName: isValidRelation(name),
    rewrite: { kind: N_THIS },
    assignable: restrictions.length > 0,
    restrictions,
    directTypes,
    wildcardTypes,
    usersetTypes,
    usersetDefs: new Map(),
    reach: new Set(),
    reachable: new Uint8Array(0),
    directByKind: [],
    wildcardByKind: [],
    usersetHops: new Map(),
    out: [],
    isTupleset: false,
    thisApprox: false,
  };
}

/** Structural helper for validation: does the rewrite contain `this` anywhere? */
export function rewriteHasThis(us: Userset): boolean {
  if (us.this) return true;
  if (us.union) return us.union.child.some(rewriteHasThis);
  if (us.intersection) return us.intersection.child.some(rewriteHasThis);
  if (us.difference) return rewriteHasThis(us.difference.base) || rewriteHasThis(us.difference.subtract);
  return false;
}

/** Builds a typesystem for a model that has already passed `validateModel`. */
export function buildTypeSystem(
  model: AuthorizationModel,
  compiled?: ReadonlyMap<string, CompiledCondition>,
): TypeSystem {
  return new TypeSystem(model, compiled);
}

export type { AuthorizationModelInput };
