/**
 * Expand: one level of the userset tree of `object#relation`, in OpenFGA's UsersetTree JSON shape.
 * Direct users are the stored (and contextual) tuples the current model still allows; computed
 * relations and tuple-to-userset parents are returned as references for the caller to expand.
 * Conditions are not evaluated (Expand has no context), as upstream.
 */
import { PENDING, type TupleSource } from "./reader.ts";
import { allowedConditions, parseUser, USER_OBJECT } from "./tuples.ts";
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

export interface UsersetTreeLeaf {
  readonly users?: { readonly users: string[] };
  readonly computed?: { readonly userset: string };
  readonly tupleToUserset?: { readonly tupleset: string; readonly computed: { readonly userset: string }[] };
}

export interface UsersetTreeNode {
  readonly name: string;
  readonly leaf?: UsersetTreeLeaf;
  readonly union?: { readonly nodes: UsersetTreeNode[] };
  readonly intersection?: { readonly nodes: UsersetTreeNode[] };
  readonly difference?: { readonly base: UsersetTreeNode; readonly subtract: UsersetTreeNode };
}

export interface UsersetTree {
  readonly root: UsersetTreeNode;
}

/** Builds the tree; undefined means a read is pending (flush the view and call again). */
function build(
  src: TupleSource,
  object: string,
  def: RelationDef,
  n: RewriteNode,
): UsersetTreeNode | undefined {
  const name = `${object}#${def.name}`;
  switch (n.kind) {
    case N_THIS: {
      const tuples = src.all(object, def.name);
      if (tuples === PENDING) return undefined;
      const users: string[] = [];
      const seen = new Set<string>();
      for (const t of tuples) {
        const u = parseUser(t.key.user);
        const conds = u && allowedConditions(def, u);
        if (!u || !conds?.has(t.key.condition?.name ?? "") || seen.has(u.str)) continue;
        seen.add(u.str);
        users.push(u.str);
      }
      return { name, leaf: { users: { users } } };
    }
    case N_COMPUTED:
      return { name, leaf: { computed: { userset: `${object}#${n.relation}` } } };
    case N_TTU: {
      const tuples = src.all(object, n.tupleset);
      if (tuples === PENDING) return undefined;
      const computed: { userset: string }[] = [];
      const seen = new Set<string>();
      for (const t of tuples) {
        const u = parseUser(t.key.user);
        if (!u || u.kind !== USER_OBJECT || !n.targets.has(u.type)) continue;
        const conds = n.tuplesetDef.directTypes.get(u.type);
        if (!conds?.has(t.key.condition?.name ?? "")) continue;
        const userset = `${u.str}#${n.computed}`;
        if (seen.has(userset)) continue;
        seen.add(userset);
        computed.push({ userset });
      }
      return { name, leaf: { tupleToUserset: { tupleset: `${object}#${n.tupleset}`, computed } } };
    }
    case N_UNION:
    case N_INTERSECTION: {
      const nodes: UsersetTreeNode[] = [];
      let pending = false;
      for (const c of n.children) {
        const node = build(src, object, def, c);
        if (node) nodes.push(node);
        else pending = true;
      }
      if (pending) return undefined;
      return n.kind === N_UNION ? { name, union: { nodes } } : { name, intersection: { nodes } };
    }
    case N_EXCLUSION: {
      const base = build(src, object, def, n.base);
      const subtract = build(src, object, def, n.subtract);
      return base && subtract ? { name, difference: { base, subtract } } : undefined;
    }
  }
}

export async function expand(src: TupleSource, object: string, def: RelationDef): Promise<UsersetTree> {
  for (;;) {
    const root = build(src, object, def, def.rewrite);
    if (root) return { root };
    await src.view.flush();
  }
}
