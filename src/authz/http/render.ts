/**
 * Service results → OpenFGA's response JSON, the way OpenFGA's gateway writes it: every field is
 * present even at its default (`""`, `[]`, `false`, `null` for unset messages), enums by name,
 * timestamps in UTC with `Z` and fractional seconds only when non-zero. In a `oneof` only the branch
 * that is set appears.
 */
import type {
  Assertion,
  AuthorizationModel,
  Condition,
  ListUser,
  RelationReference,
  StoreRecord,
  Tuple,
  TupleChange,
  TupleKey,
  TypeDefinition,
  Userset,
  UsersetTreeNode,
} from "../index.ts";

type Json = Record<string, unknown>;

/** RFC 3339 in UTC, `.000` dropped (protobuf JSON's Timestamp). */
export const timestamp = (ms: number): string => new Date(ms).toISOString().replace(".000Z", "Z");

export const storeJson = (s: StoreRecord): Json => ({
  id: s.id,
  name: s.name,
  created_at: timestamp(s.createdAt),
  updated_at: timestamp(s.updatedAt),
  deleted_at: s.deletedAt === undefined ? null : timestamp(s.deletedAt),
});

/** CreateStoreResponse has no `deleted_at`. */
export const createdStoreJson = (s: StoreRecord): Json => ({
  id: s.id,
  name: s.name,
  created_at: timestamp(s.createdAt),
  updated_at: timestamp(s.updatedAt),
});

export const tupleKeyJson = (k: TupleKey): Json => ({
  object: k.object,
  relation: k.relation,
  user: k.user,
  condition: k.condition ? { name: k.condition.name, context: k.condition.context ?? null } : null,
});

export const tupleJson = (t: Tuple): Json => ({
  key: tupleKeyJson(t.key),
  timestamp: timestamp(t.timestamp),
});

export const changeJson = (c: TupleChange): Json => ({
  tuple_key: tupleKeyJson(c.key),
  operation: c.operation === "write" ? "TUPLE_OPERATION_WRITE" : "TUPLE_OPERATION_DELETE",
  timestamp: timestamp(c.timestamp),
});

const objectRelation = (o: { object?: string; relation?: string } | undefined): Json => ({
  object: o?.object ?? "",
  relation: o?.relation ?? "",
});

function usersetJson(u: Userset): Json {
  if (u.this !== undefined) return { this: {} };
  if (u.computedUserset !== undefined) return { computedUserset: objectRelation(u.computedUserset) };
  if (u.tupleToUserset !== undefined) {
    return {
      tupleToUserset: {
        tupleset: objectRelation(u.tupleToUserset.tupleset),
        computedUserset: objectRelation(u.tupleToUserset.computedUserset),
      },
    };
  }
  if (u.union !== undefined) return { union: { child: u.union.child.map(usersetJson) } };
  if (u.intersection !== undefined) return { intersection: { child: u.intersection.child.map(usersetJson) } };
  if (u.difference !== undefined) {
    return {
      difference: { base: usersetJson(u.difference.base), subtract: usersetJson(u.difference.subtract) },
    };
  }
  return {};
}

const sourceInfo = (s: { file?: string } | undefined): Json | null => (s ? { file: s.file ?? "" } : null);

function relationRefJson(r: RelationReference): Json {
  const out: Json = { type: r.type };
  if (r.relation !== undefined && r.relation !== "") out.relation = r.relation;
  else if (r.wildcard !== undefined) out.wildcard = {};
  out.condition = r.condition ?? "";
  return out;
}

function typeDefinitionJson(td: TypeDefinition): Json {
  const relations: Json = {};
  for (const [name, us] of Object.entries(td.relations ?? {})) relations[name] = usersetJson(us);
  const md = td.metadata;
  let metadata: Json | null = null;
  if (md) {
    const rels: Json = {};
    for (const [name, rm] of Object.entries(md.relations ?? {})) {
      rels[name] = {
        directly_related_user_types: (rm.directly_related_user_types ?? []).map(relationRefJson),
        module: rm.module ?? "",
        source_info: sourceInfo(rm.source_info),
      };
    }
    metadata = { relations: rels, module: md.module ?? "", source_info: sourceInfo(md.source_info) };
  }
  return { type: td.type, relations, metadata };
}

function conditionJson(c: Condition): Json {
  const parameters: Json = {};
  const param = (p: { type_name: string; generic_types?: readonly unknown[] }): Json => ({
    type_name: p.type_name,
    generic_types: (p.generic_types ?? []).map((g) => param(g as typeof p)),
  });
  for (const [name, p] of Object.entries(c.parameters ?? {})) parameters[name] = param(p);
  const md = c.metadata as { module?: string; source_info?: { file?: string } } | null | undefined;
  return {
    name: c.name,
    expression: c.expression,
    parameters,
    metadata: md ? { module: md.module ?? "", source_info: sourceInfo(md.source_info) } : null,
  };
}

export function modelJson(m: AuthorizationModel): Json {
  const conditions: Json = {};
  for (const [name, c] of Object.entries(m.conditions ?? {})) conditions[name] = conditionJson(c);
  return {
    id: m.id,
    schema_version: m.schema_version,
    type_definitions: m.type_definitions.map(typeDefinitionJson),
    conditions,
  };
}

/** Expand's tree: the engine builds OpenFGA's shape; this keeps exactly the branch that is set. */
export function treeNodeJson(n: UsersetTreeNode): Json {
  const out: Json = { name: n.name };
  if (n.leaf) {
    const l = n.leaf;
    if (l.users) out.leaf = { users: { users: [...l.users.users] } };
    else if (l.computed) out.leaf = { computed: { userset: l.computed.userset } };
    else if (l.tupleToUserset) {
      out.leaf = {
        tupleToUserset: {
          tupleset: l.tupleToUserset.tupleset,
          computed: l.tupleToUserset.computed.map((c) => ({ userset: c.userset })),
        },
      };
    } else out.leaf = {};
  } else if (n.union) out.union = { nodes: n.union.nodes.map(treeNodeJson) };
  else if (n.intersection) out.intersection = { nodes: n.intersection.nodes.map(treeNodeJson) };
  else if (n.difference) {
    out.difference = { base: treeNodeJson(n.difference.base), subtract: treeNodeJson(n.difference.subtract) };
  }
  return out;
}

export const listUserJson = (u: ListUser): Json => {
  if ("object" in u) return { object: { type: u.object.type, id: u.object.id } };
  if ("userset" in u)
    return { userset: { type: u.userset.type, id: u.userset.id, relation: u.userset.relation } };
  return { wildcard: { type: u.wildcard.type } };
};

export const assertionJson = (a: Assertion): Json => ({
  tuple_key: { object: a.tuple_key.object, relation: a.tuple_key.relation, user: a.tuple_key.user },
  expectation: a.expectation,
  contextual_tuples: (a.contextual_tuples ?? []).map(tupleKeyJson),
  context: a.context ?? null,
});
