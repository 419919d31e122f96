/**
 * Tuple syntax and tuple validation against a model. Parsing runs once per request input (never on
 * the resolution hot path, which works on the pre-parsed `ParsedUser`). Validation returns a safe
 * reason string; callers wrap it into the error code of their endpoint (write → 2000, contextual
 * tuples → 2027).
 */
import type { TupleKey } from "./model.ts";
import type { RelationDef, TypeSystem } from "./typesystem.ts";

export const USER_OBJECT = 0;
export const USER_WILDCARD = 1;
export const USER_USERSET = 2;

/** A user string split once: `type:id`, `type:*` or `type:id#relation`. */
export interface ParsedUser {
  readonly str: string;
  readonly kind: typeof USER_OBJECT | typeof USER_WILDCARD | typeof USER_USERSET;
  readonly type: string;
  /** `*` for the wildcard. */
  readonly id: string;
  /** `type:id` (without the relation for usersets). */
  readonly object: string;
  /** `""` unless a userset. */
  readonly relation: string;
  /** The key of `RelationDef.reach` for this user: `type`, `type:*` or `type#relation`. */
  readonly reachKey: string;
  /** `type:*`: the wildcard tuple that also grants an object user. */
  readonly wildcard: string;
}

const TYPE_RE = /^[^:#@\s]{1,254}$/;
const RELATION_RE = /^[^:#@\s]{1,50}$/;
const WS_RE = /\s/;
const MAX_USER_BYTES = 512;

export const isValidType = (s: string) => TYPE_RE.test(s);
export const isValidRelation = (s: string) => RELATION_RE.test(s);

/** `type:id` → [type, id], or undefined when malformed (one `:`, no `#`, no spaces, both parts set). */
export function splitObject(object: string): [string, string] | undefined {
  if (typeof object !== "string" || object.length < 3 || object.length > 256 || WS_RE.test(object)) {
    return undefined;
  }
  const colon = object.indexOf(":");
  if (colon <= 0 || colon === object.length - 1) return undefined;
  if (object.indexOf(":", colon + 1) >= 0 || object.includes("#")) return undefined;
  const type = object.slice(0, colon);
  const id = object.slice(colon + 1);
  if (!TYPE_RE.test(type) || id === "*") return undefined;
  return [type, id];
}

export function parseUser(user: string): ParsedUser | undefined {
  if (typeof user !== "string" || user.length === 0 || WS_RE.test(user)) return undefined;
  if (Buffer.byteLength(user, "utf8") > MAX_USER_BYTES) return undefined;
  const colon = user.indexOf(":");
  if (colon <= 0 || user.indexOf(":", colon + 1) >= 0) return undefined;
  const hash = user.indexOf("#");
  if (hash >= 0 && (hash < colon || user.indexOf("#", hash + 1) >= 0)) return undefined;
  const type = user.slice(0, colon);
  if (!TYPE_RE.test(type)) return undefined;
  const id = user.slice(colon + 1, hash < 0 ? undefined : hash);
  if (id.length === 0) return undefined;
  if (hash >= 0) {
    const relation = user.slice(hash + 1);
    if (!RELATION_RE.test(relation) || id === "*") return undefined;
    return {
      str: user,
      kind: USER_USERSET,
      type,
      id,
      object: user.slice(0, hash),
      relation,
      reachKey: `${type}#${relation}`,
      wildcard: `${type}:*`,
    };
  }
  const wildcard = `${type}:*`;
  if (id === "*") {
    return {
      str: user,
      kind: USER_WILDCARD,
      type,
      id,
      object: user,
      relation: "",
      reachKey: wildcard,
      wildcard,
    };
  }
  return { str: user, kind: USER_OBJECT, type, id, object: user, relation: "", reachKey: type, wildcard };
}

export const tupleString = (k: { object: string; relation: string; user: string }) =>
  `${k.object}#${k.relation}@${k.user}`;

/** Loose validation of a query's subject/object (Check, Expand): returns a reason or undefined. */
export function checkQueryKey(
  ts: TypeSystem,
  object: string,
  relation: string,
  user: string | undefined,
): string | undefined {
  const obj = splitObject(object);
  if (!obj) return `invalid 'object' field format: '${String(object)}'`;
  if (!ts.hasType(obj[0])) return `type '${obj[0]}' not found`;
  if (typeof relation !== "string" || !isValidRelation(relation))
    return `invalid relation '${String(relation)}'`;
  if (!ts.relation(obj[0], relation)) return `relation '${obj[0]}#${relation}' not found`;
  if (user === undefined) return undefined;
  return checkUser(ts, user);
}

/** A query's user must be well formed, of a known type and (for usersets) a known relation. */
export function checkUser(ts: TypeSystem, user: string): string | undefined {
  const u = parseUser(user);
  if (!u) return `invalid 'user' field format: '${String(user)}'`;
  if (!ts.hasType(u.type)) return `type '${u.type}' not found`;
  if (u.kind === USER_USERSET && !ts.relation(u.type, u.relation)) {
    return `relation '${u.type}#${u.relation}' not found`;
  }
  return undefined;
}

export interface TupleValidationOptions {
  /** Largest serialized condition context. @default 32768 */
  readonly maxContextBytes?: number;
}

/**
 * Full validation of a tuple to be written (or sent as a contextual tuple) against the model, as
 * OpenFGA does: syntax, known type and relation, type restrictions, implicit tuples, and the
 * condition (declared, allowed by the restriction, context keys declared as parameters, size).
 * Returns a safe reason, or undefined when valid.
 */
export function validateTupleForWrite(
  ts: TypeSystem,
  key: TupleKey,
  options: TupleValidationOptions = {},
): string | undefined {
  if (typeof key !== "object" || key === null) return "tuple key is required";
  const obj = splitObject(key.object);
  if (!obj) return `invalid 'object' field format: '${String(key.object)}'`;
  const [objectType] = obj;
  if (typeof key.relation !== "string" || !isValidRelation(key.relation)) {
    return `invalid relation '${String(key.relation)}'`;
  }
  const u = parseUser(key.user);
  if (!u) return `invalid 'user' field format: '${String(key.user)}'`;
  if (!ts.hasType(objectType)) return `type '${objectType}' not found`;
  const def = ts.relation(objectType, key.relation);
  if (!def) return `relation '${objectType}#${key.relation}' not found`;
  if (!ts.hasType(u.type)) return `type '${u.type}' not found`;
  if (u.kind === USER_USERSET) {
    if (!ts.relation(u.type, u.relation)) return `relation '${u.type}#${u.relation}' not found`;
    if (u.object === key.object && u.relation === key.relation) {
      return "cannot write a tuple that is implicit (the user is the object's own userset)";
    }
  }
  const conds = allowedConditions(def, u);
  if (!conds) {
    const what =
      u.kind === USER_WILDCARD ? `${u.type}:*` : u.kind === USER_USERSET ? `${u.type}#${u.relation}` : u.type;
    return `type '${what}' is not an allowed type restriction for '${objectType}#${key.relation}'`;
  }
  const cond = key.condition;
  if (cond === undefined || cond === null) {
    if (!conds.has(""))
      return `condition is missing: '${objectType}#${key.relation}' requires one for this user type`;
    return undefined;
  }
  if (typeof cond !== "object" || typeof cond.name !== "string" || cond.name.length === 0) {
    return "invalid condition: a name is required";
  }
  const declared = ts.model.conditions?.[cond.name];
  if (!declared) return `condition '${cond.name}' is undefined`;
  if (!conds.has(cond.name)) {
    return `condition '${cond.name}' is not allowed for this user type on '${objectType}#${key.relation}'`;
  }
  if (cond.context !== undefined && cond.context !== null) {
    if (typeof cond.context !== "object" || Array.isArray(cond.context)) {
      return "invalid condition context: must be an object";
    }
    for (const p of Object.keys(cond.context)) {
      if (!declared.parameters || !Object.hasOwn(declared.parameters, p)) {
        return `found invalid context parameter: ${p}`;
      }
    }
    const max = options.maxContextBytes ?? 32 * 1024;
    if (Buffer.byteLength(JSON.stringify(cond.context), "utf8") > max) {
      return `condition context exceeds ${max} bytes`;
    }
  }
  return undefined;
}

/** The condition names a relation allows for this user (undefined: the user kind is not allowed). */
export function allowedConditions(def: RelationDef, u: ParsedUser): ReadonlySet<string> | undefined {
  if (u.kind === USER_OBJECT) return def.directTypes.get(u.type);
  if (u.kind === USER_WILDCARD) return def.wildcardTypes.get(u.type);
  return def.usersetTypes.get(u.reachKey);
}

/** Syntax-only validation for deletes (OpenFGA checks only that the user is well formed). */
export function validateTupleForDelete(key: TupleKey): string | undefined {
  if (typeof key !== "object" || key === null) return "tuple key is required";
  if (!splitObject(key.object)) return `invalid 'object' field format: '${String(key.object)}'`;
  if (typeof key.relation !== "string" || !isValidRelation(key.relation)) {
    return `invalid relation '${String(key.relation)}'`;
  }
  if (!parseUser(key.user)) return `invalid 'user' field format: '${String(key.user)}'`;
  return undefined;
}
