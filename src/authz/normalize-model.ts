/**
 * Wire JSON → canonical model shape, with protobuf JSON rules: both `camelCase` and `snake_case`
 * field names, unknown fields ignored, enum numbers accepted. Malformed shapes → 2000.
 */
import { validationError } from "./errors.ts";
import type {
  AuthorizationModelInput,
  Condition,
  ConditionParamTypeRef,
  ConditionTypeName,
  RelationMetadata,
  RelationReference,
  TypeDefinition,
  Userset,
} from "./model.ts";
import { isValidRelation, isValidType } from "./tuples.ts";

const TYPE_NAMES: readonly ConditionTypeName[] = [
  "TYPE_NAME_ANY",
  "TYPE_NAME_ANY",
  "TYPE_NAME_BOOL",
  "TYPE_NAME_STRING",
  "TYPE_NAME_INT",
  "TYPE_NAME_UINT",
  "TYPE_NAME_DOUBLE",
  "TYPE_NAME_DURATION",
  "TYPE_NAME_TIMESTAMP",
  "TYPE_NAME_MAP",
  "TYPE_NAME_LIST",
  "TYPE_NAME_IPADDRESS",
];
const CONDITION_NAME_RE = /^[^*^_\s][^\s]{0,49}$/;
const MAX_REWRITE_NESTING = 64;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const pick = (o: Obj, camel: string, snake: string): unknown =>
  o[camel] !== undefined ? o[camel] : o[snake];

function bad(path: string, what: string): never {
  throw validationError(`invalid authorization model: ${path}: ${what}`);
}

/** Wire JSON → the canonical model shape (only known fields). Throws 2000 on malformed input. */
export function normalizeModel(input: unknown): AuthorizationModelInput {
  if (!isObj(input)) bad("model", "must be an object");
  const schema = pick(input, "schemaVersion", "schema_version");
  if (typeof schema !== "string" || schema === "") bad("schema_version", "is required");
  const tds = pick(input, "typeDefinitions", "type_definitions");
  if (!Array.isArray(tds) || tds.length === 0)
    bad("type_definitions", "at least one type definition is required");
  const type_definitions = tds.map((td, i) => normalizeTypeDef(td, `type_definitions[${i}]`));
  const conds = input.conditions;
  let conditions: Record<string, Condition> | undefined;
  if (conds !== undefined && conds !== null) {
    if (!isObj(conds)) bad("conditions", "must be an object");
    conditions = {};
    for (const [k, v] of Object.entries(conds)) conditions[k] = normalizeCondition(v, `conditions.${k}`);
  }
  return conditions && Object.keys(conditions).length > 0
    ? { schema_version: schema, type_definitions, conditions }
    : { schema_version: schema, type_definitions };
}

function normalizeTypeDef(td: unknown, path: string): TypeDefinition {
  if (!isObj(td)) bad(path, "must be an object");
  const type = td.type;
  if (typeof type !== "string" || !isValidType(type))
    bad(`${path}.type`, `invalid type name '${String(type)}'`);
  const relations: Record<string, Userset> = {};
  if (td.relations !== undefined && td.relations !== null) {
    if (!isObj(td.relations)) bad(`${path}.relations`, "must be an object");
    for (const [name, us] of Object.entries(td.relations)) {
      if (!isValidRelation(name)) bad(`${path}.relations`, `invalid relation name '${name}'`);
      relations[name] = normalizeUserset(us, `${type}#${name}`, 0);
    }
  }
  const md = td.metadata;
  let metadata: TypeDefinition["metadata"] = null;
  if (isObj(md)) {
    const rels: Record<string, RelationMetadata> = {};
    const mdRels = md.relations;
    if (mdRels !== undefined && mdRels !== null) {
      if (!isObj(mdRels)) bad(`${path}.metadata.relations`, "must be an object");
      for (const [name, rm] of Object.entries(mdRels)) {
        if (!isObj(rm)) bad(`${path}.metadata.relations.${name}`, "must be an object");
        const drut = pick(rm, "directlyRelatedUserTypes", "directly_related_user_types");
        const refs: RelationReference[] = [];
        if (drut !== undefined && drut !== null) {
          if (!Array.isArray(drut)) bad(`${type}#${name}`, "directly_related_user_types must be an array");
          for (const r of drut) refs.push(normalizeRef(r, `${type}#${name}`));
        }
        const entry: { -readonly [K in keyof RelationMetadata]: RelationMetadata[K] } = {
          directly_related_user_types: refs,
        };
        if (typeof rm.module === "string" && rm.module) entry.module = rm.module;
        const si = pick(rm, "sourceInfo", "source_info");
        if (isObj(si) && typeof si.file === "string") entry.source_info = { file: si.file };
        rels[name] = entry;
      }
    }
    const m: {
      relations?: Record<string, RelationMetadata>;
      module?: string;
      source_info?: { file?: string };
    } = {
      relations: rels,
    };
    if (typeof md.module === "string" && md.module) m.module = md.module;
    const si = pick(md, "sourceInfo", "source_info");
    if (isObj(si) && typeof si.file === "string") m.source_info = { file: si.file };
    metadata = m;
  }
  return { type, relations, metadata };
}

function normalizeRef(r: unknown, path: string): RelationReference {
  if (!isObj(r) || typeof r.type !== "string" || !isValidType(r.type)) {
    bad(path, "each directly related user type needs a valid 'type'");
  }
  const out: { type: string; relation?: string; wildcard?: Record<string, never>; condition?: string } = {
    type: r.type,
  };
  if (r.relation !== undefined && r.relation !== null && r.relation !== "") {
    if (typeof r.relation !== "string" || !isValidRelation(r.relation))
      bad(path, "invalid relation in a type restriction");
    out.relation = r.relation;
  }
  if (r.wildcard !== undefined && r.wildcard !== null) out.wildcard = {};
  if (r.condition !== undefined && r.condition !== null && r.condition !== "") {
    if (typeof r.condition !== "string") bad(path, "condition must be a string");
    out.condition = r.condition;
  }
  return out;
}

function normalizeObjectRelation(v: unknown, path: string): { object: string; relation: string } {
  if (!isObj(v)) bad(path, "must be an object");
  const relation = v.relation;
  if (typeof relation !== "string" || relation === "") bad(path, "relation is required");
  return { object: typeof v.object === "string" ? v.object : "", relation };
}

function normalizeUserset(us: unknown, path: string, depth: number): Userset {
  if (depth > MAX_REWRITE_NESTING) bad(path, "rewrite nested too deeply");
  if (!isObj(us)) bad(path, "rewrite must be an object");
  const present = [
    "this",
    ["computedUserset", "computed_userset"],
    ["tupleToUserset", "tuple_to_userset"],
    "union",
    "intersection",
    "difference",
  ].filter((k) => (Array.isArray(k) ? pick(us, k[0]!, k[1]!) : us[k]) !== undefined);
  if (present.length !== 1)
    bad(
      path,
      "a rewrite must set exactly one of this, computedUserset, tupleToUserset, union, intersection, difference",
    );
  if (us.this !== undefined) return { this: {} };
  const cu = pick(us, "computedUserset", "computed_userset");
  if (cu !== undefined) return { computedUserset: normalizeObjectRelation(cu, path) };
  const ttu = pick(us, "tupleToUserset", "tuple_to_userset");
  if (ttu !== undefined) {
    if (!isObj(ttu)) bad(path, "tupleToUserset must be an object");
    return {
      tupleToUserset: {
        tupleset: normalizeObjectRelation(ttu.tupleset, `${path} tupleset`),
        computedUserset: normalizeObjectRelation(
          pick(ttu, "computedUserset", "computed_userset"),
          `${path} computedUserset`,
        ),
      },
    };
  }
  for (const op of ["union", "intersection"] as const) {
    const v = us[op];
    if (v === undefined) continue;
    if (!isObj(v) || !Array.isArray(v.child) || v.child.length === 0) bad(path, `${op} needs children`);
    const child = v.child.map((c) => normalizeUserset(c, path, depth + 1));
    return op === "union" ? { union: { child } } : { intersection: { child } };
  }
  const d = us.difference;
  if (!isObj(d)) bad(path, "difference must be an object");
  return {
    difference: {
      base: normalizeUserset(d.base, path, depth + 1),
      subtract: normalizeUserset(d.subtract, path, depth + 1),
    },
  };
}

function normalizeParamType(v: unknown, path: string, depth: number): ConditionParamTypeRef {
  if (!isObj(v) || depth > 5) bad(path, "invalid parameter type");
  let name = pick(v, "typeName", "type_name");
  if (typeof name === "number") name = TYPE_NAMES[name];
  if (typeof name !== "string" || !TYPE_NAMES.includes(name as ConditionTypeName)) {
    bad(path, `unknown parameter type '${String(name)}'`);
  }
  const gen = pick(v, "genericTypes", "generic_types");
  const generic_types = Array.isArray(gen) ? gen.map((g) => normalizeParamType(g, path, depth + 1)) : [];
  if (generic_types.length > 5) bad(path, "at most 5 generic types");
  return generic_types.length
    ? { type_name: name as ConditionTypeName, generic_types }
    : { type_name: name as ConditionTypeName };
}

function normalizeCondition(v: unknown, path: string): Condition {
  if (!isObj(v)) bad(path, "must be an object");
  const { name, expression } = v;
  if (typeof name !== "string" || !CONDITION_NAME_RE.test(name)) bad(path, "invalid condition name");
  if (typeof expression !== "string" || expression.trim() === "") bad(path, "expression is required");
  if (Buffer.byteLength(expression, "utf8") > 512) bad(path, "expression longer than 512 bytes");
  const parameters: Record<string, ConditionParamTypeRef> = {};
  if (v.parameters !== undefined && v.parameters !== null) {
    if (!isObj(v.parameters)) bad(path, "parameters must be an object");
    const entries = Object.entries(v.parameters);
    if (entries.length > 25) bad(path, "at most 25 parameters");
    for (const [p, t] of entries) parameters[p] = normalizeParamType(t, `${path}.${p}`, 0);
  }
  const out: Condition = { name, expression, parameters };
  return v.metadata !== undefined && v.metadata !== null ? { ...out, metadata: v.metadata } : out;
}
