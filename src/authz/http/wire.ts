/**
 * Request parsing with OpenFGA's (protobuf JSON) rules: a field may be sent under its JSON name
 * (`tuple_key`) or its lowerCamelCase name (`tupleKey`); unknown fields are ignored; `null` means
 * unset; enums come as names or numbers. Field rules are OpenFGA's request validation (lengths,
 * patterns, item counts); a violation is 400 `validation_error` naming the field, never echoing its
 * value. Semantic checks (types and relations of the model, conditions, limits that depend on the
 * model) stay with the engine, which reports them with OpenFGA's codes.
 */
import { z } from "zod";
import { AuthzError } from "../errors.ts";
import type { ConsistencyPreference } from "../index.ts";

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** A protobuf message: alias names accepted, nulls dropped, unknown fields stripped. */
function message<T extends z.ZodRawShape>(shape: T) {
  const aliases = Object.keys(shape)
    .map((k) => [camel(k), k] as const)
    .filter(([a, k]) => a !== k);
  return z.preprocess((v) => {
    if (!isPlain(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = x;
    for (const [alias, name] of aliases) {
      if (out[name] === undefined && out[alias] !== undefined) out[name] = out[alias];
    }
    return out;
  }, z.object(shape));
}

const pattern = (re: RegExp) => z.string().regex(re, `value does not match regex pattern "${re.source}"`);
const maxBytes = (n: number) => (s: string) => Buffer.byteLength(s, "utf8") <= n;

/** `google.protobuf.Struct`: any JSON object. */
const struct = z.record(z.string(), z.unknown());

const ULID_RE = /^[ABCDEFGHJKMNPQRSTVWXYZ0-9]{26}$/;
export const isStoreId = (s: string) => ULID_RE.test(s);

const modelId = z
  .string()
  .refine((s) => s === "" || ULID_RE.test(s), `value does not match regex pattern "${ULID_RE.source}"`);

const CONSISTENCY: Record<string, ConsistencyPreference> = {
  UNSPECIFIED: "UNSPECIFIED",
  MINIMIZE_LATENCY: "MINIMIZE_LATENCY",
  HIGHER_CONSISTENCY: "HIGHER_CONSISTENCY",
  "0": "UNSPECIFIED",
  "100": "MINIMIZE_LATENCY",
  "200": "HIGHER_CONSISTENCY",
};
const consistency = z
  .union([z.string(), z.number()])
  .refine(
    (v) => String(v) in CONSISTENCY,
    "value must be one of UNSPECIFIED, MINIMIZE_LATENCY, HIGHER_CONSISTENCY",
  )
  .transform((v) => CONSISTENCY[String(v)]!);

const OBJECT_RE = /^[^\s]{2,256}$/;
const RELATION_RE = /^[^:#@\s]{1,50}$/;
const USER_RE = /^[^\s]{2,512}$/;
const object = pattern(OBJECT_RE).refine(maxBytes(256), "value length must be at most 256 bytes");
const relation = pattern(RELATION_RE);
const user = pattern(USER_RE).refine(maxBytes(512), "value length must be at most 512 bytes");
const typeName = pattern(/^[^:#@\s]{1,254}$/);

const condition = message({ name: pattern(/^[^\s]{2,256}$/), context: struct.optional() });

export const tupleKey = message({ object, relation, user, condition: condition.optional() });
const tupleKeyWithoutCondition = message({ object, relation, user });
const checkTupleKey = message({ user, relation, object });

const MAX_CONTEXTUAL = 100;
const contextualTuples = message({ tuple_keys: z.array(tupleKey).max(MAX_CONTEXTUAL) });

export const createStoreBody = message({ name: z.string() });

export const writeBody = message({
  writes: message({
    tuple_keys: z.array(tupleKey).min(1),
    on_duplicate: z.string().optional(),
  }).optional(),
  deletes: message({
    tuple_keys: z.array(tupleKeyWithoutCondition).min(1),
    on_missing: z.string().optional(),
  }).optional(),
  authorization_model_id: modelId.optional(),
});

export const readBody = message({
  tuple_key: message({
    object: pattern(/^[^\s]{0,256}$/).optional(),
    relation: pattern(/^[^:#@\s]{0,50}$/).optional(),
    user: pattern(/^[^\s]{0,512}$/).optional(),
  }).optional(),
  page_size: z.number().int().optional(),
  continuation_token: z.string().optional(),
  consistency: consistency.optional(),
});

export const checkBody = message({
  tuple_key: checkTupleKey,
  contextual_tuples: contextualTuples.optional(),
  authorization_model_id: modelId.optional(),
  trace: z.boolean().optional(),
  context: struct.optional(),
  consistency: consistency.optional(),
});

export type CheckBody = z.output<typeof checkBody>;

/**
 * `parseWire(checkBody, value, "CheckRequest")`, with a fast path for the usual body (the hot path
 * of the API): `tuple_key` with `user`, `relation` and `object`, and optionally
 * `authorization_model_id`, all strings that pass the schema's own rules. It returns what the schema
 * returns for them; anything else (other fields, nulls, camelCase names, invalid values) goes
 * through the schema, so results and errors are the schema's.
 */
export function parseCheckBody(value: unknown): CheckBody {
  if (isPlain(value)) {
    const tk = value.tuple_key;
    const modelId = value.authorization_model_id;
    const fields = modelId === undefined ? 1 : 2;
    if (
      Object.keys(value).length === fields &&
      isPlain(tk) &&
      (modelId === undefined || validModelId(modelId))
    ) {
      const { user: u, relation: r, object: o } = tk;
      if (
        Object.keys(tk).length === 3 &&
        typeof u === "string" &&
        USER_RE.test(u) &&
        maxBytes(512)(u) &&
        typeof r === "string" &&
        RELATION_RE.test(r) &&
        typeof o === "string" &&
        OBJECT_RE.test(o) &&
        maxBytes(256)(o)
      ) {
        const tuple_key = { user: u, relation: r, object: o };
        return modelId === undefined ? { tuple_key } : { tuple_key, authorization_model_id: modelId };
      }
    }
  }
  return parseWire(checkBody, value, "CheckRequest");
}

const validModelId = (v: unknown): v is string => typeof v === "string" && (v === "" || ULID_RE.test(v));

export const batchCheckBody = message({
  checks: z.array(
    message({
      tuple_key: checkTupleKey,
      contextual_tuples: contextualTuples.optional(),
      context: struct.optional(),
      correlation_id: z.string(),
    }),
  ),
  authorization_model_id: modelId.optional(),
  consistency: consistency.optional(),
});

export const expandBody = message({
  tuple_key: message({ relation, object }),
  authorization_model_id: modelId.optional(),
  consistency: consistency.optional(),
  contextual_tuples: contextualTuples.optional(),
});

export const listObjectsBody = message({
  authorization_model_id: modelId.optional(),
  type: typeName,
  relation,
  user: z.string().min(1).refine(maxBytes(512), "value length must be at most 512 bytes"),
  contextual_tuples: contextualTuples.optional(),
  context: struct.optional(),
  consistency: consistency.optional(),
  /** Portcullis: continue a truncated result (the token a previous page returned). */
  continuation_token: z.string().max(2048).optional(),
});

export const listUsersBody = message({
  authorization_model_id: modelId.optional(),
  object: message({ type: typeName, id: z.string().min(1).max(256) }),
  relation,
  user_filters: z.array(message({ type: typeName, relation: z.string().optional() })).length(1),
  contextual_tuples: z.array(tupleKey).max(MAX_CONTEXTUAL).optional(),
  context: struct.optional(),
  consistency: consistency.optional(),
  continuation_token: z.string().max(2048).optional(),
});

export const writeAssertionsBody = message({
  assertions: z
    .array(
      message({
        tuple_key: checkTupleKey,
        expectation: z.boolean(),
        contextual_tuples: z.array(tupleKey).max(20).optional(),
        context: struct.optional(),
      }),
    )
    .max(100),
});

/** Query strings are strings: page_size must be an integer. */
const pageSizeParam = z
  .string()
  .regex(/^-?\d{1,9}$/, "type mismatch, page_size must be an integer")
  .transform(Number)
  .optional();

export const listQuery = z.object({
  page_size: pageSizeParam,
  continuation_token: z.string().optional(),
  name: z.string().optional(),
});

export const changesQuery = z.object({
  type: z.string().optional(),
  page_size: pageSizeParam,
  continuation_token: z.string().optional(),
  start_time: z.string().optional(),
});

/** Zod issues → one OpenFGA-style message: `invalid CheckRequest.tuple_key.user: <rule>`. */
function messageOf(what: string, error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => {
      const path = i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
      return `invalid ${what}${path}: ${i.message}`;
    })
    .join("; ");
}

/** Validates `value`; 400 `validation_error` on failure. */
export function parseWire<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new AuthzError("validation_error", messageOf(what, r.error));
  return r.data;
}

/**
 * The JSON body (any content type, as OpenFGA's gateway reads it; an empty body is `{}`).
 * Malformed JSON is 400 `validation_error`.
 */
export function jsonBody(body: string | undefined): unknown {
  if (body === undefined || body.trim() === "") return {};
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new AuthzError("validation_error", "the request body is not valid JSON");
  }
}
