/**
 * Query endpoints: check, batch-check, expand, list-objects, streamed-list-objects, list-users.
 * Each parses the wire body, authorizes the store, picks the replica and freshness
 * (consistency.ts), and calls the engine; check and batch-check go through the per-container
 * result cache when the request's freshness allows it.
 */
import { decodeTime } from "ulid";
import { json } from "../../http/router.ts";
import type { HttpRequest, HttpResponse, RequestContext } from "../../http/types.ts";
import { type CachedCheck, checkKey } from "../caching/check-results.ts";
import { AuthzError } from "../errors.ts";
import type { BatchCheckItem, BatchCheckResult, CheckItemError } from "../index.ts";
import { type QueryTarget, type ReadPolicy, readPolicy } from "./consistency.ts";
import { type AuthzHttpContext, fgaHeaders } from "./context.ts";
import {
  decodeListContinuation,
  encodeListContinuation,
  fingerprint,
  type Paged,
  pageOf,
  TRUNCATED_HEADER,
} from "./list-continuation.ts";
import { listUserJson, treeNodeJson } from "./render.ts";
import {
  batchCheckBody,
  expandBody,
  jsonBody,
  listObjectsBody,
  listUsersBody,
  parseCheckBody,
  parseWire,
} from "./wire.ts";

export const CACHE_HEADER = "x-portcullis-check-cache";

/** Whether results computed under head revision `stamp` may be cached (see `commitWindowMs`). */
function settled(a: AuthzHttpContext, stamp: string | undefined): stamp is string {
  if (stamp === undefined) return false;
  if (stamp === "" || a.commitWindowMs === 0) return true;
  try {
    return a.clock.now() - decodeTime(stamp) >= a.commitWindowMs;
  } catch {
    return false;
  }
}

interface Resolved {
  readonly storeId: string;
  readonly policy: ReadPolicy;
  readonly target: QueryTarget;
  readonly modelId: string | undefined;
}

/** Authorization, replica and model of a store-scoped query. */
async function resolve(
  a: AuthzHttpContext,
  req: HttpRequest,
  ctx: RequestContext,
  consistency: ReadPolicy["preference"] | undefined,
  modelId: string | undefined,
): Promise<Resolved> {
  const storeId = ctx.params.storeId!;
  await a.tenancy.authorizeStore(req, ctx, storeId, "authz:check");
  const policy = readPolicy(req, storeId, consistency);
  const target = await a.consistency.target(storeId, policy);
  const model = modelId || (await a.consistency.latestModel(storeId, policy, target));
  return { storeId, policy, target, modelId: model };
}

export async function check(
  a: AuthzHttpContext,
  req: HttpRequest,
  ctx: RequestContext,
): Promise<HttpResponse> {
  const body = parseCheckBody(jsonBody(req.body));
  const r = await resolve(a, req, ctx, body.consistency, body.authorization_model_id);
  const contextual = body.contextual_tuples?.tuple_keys ?? [];
  const stamp = r.target.revision;
  const cacheable =
    a.checks.enabled && settled(a, stamp) && r.modelId !== undefined && contextual.length === 0;
  const key = cacheable ? checkKey(body.tuple_key, body.context) : "";
  if (cacheable) {
    const hit = a.checks.get(r.storeId, r.modelId!, stamp!, key);
    if (hit !== undefined) return checkAnswer(body.tuple_key, hit, r.storeId, r.modelId, "hit");
  }
  const res = await r.target.service.check({
    storeId: r.storeId,
    ...(r.modelId ? { authorizationModelId: r.modelId } : {}),
    tupleKey: body.tuple_key,
    ...(contextual.length ? { contextualTuples: contextual } : {}),
    ...(body.context ? { context: body.context } : {}),
    ...(body.consistency ? { consistency: body.consistency } : {}),
    ...(a.grantingPaths ? { withPath: true } : {}),
  });
  const answer: CachedCheck = res.allowed && (res.path ?? true);
  if (cacheable) a.checks.set(r.storeId, r.modelId!, stamp!, key, answer);
  return checkAnswer(body.tuple_key, answer, r.storeId, r.modelId, cacheable ? "miss" : "bypass");
}

const ALLOWED = JSON.stringify({ allowed: true, resolution: "" });
const DENIED = JSON.stringify({ allowed: false, resolution: "" });

/** What a check decided, for the audit decorator (`HttpResponse.meta`). */
export interface CheckMeta {
  readonly tuple_key: { readonly user: string; readonly relation: string; readonly object: string };
  readonly allowed: boolean;
  /** The granting path when allowed and known. */
  readonly path?: string;
  readonly cache: "hit" | "miss" | "bypass";
  readonly store_id: string;
  /** The model the check ran against. */
  readonly model_id: string | undefined;
}

/** `json(200, {allowed, resolution: ""}, {...fgaHeaders(…), [CACHE_HEADER]: cache})`, built directly. */
function checkAnswer(
  tupleKey: CheckMeta["tuple_key"],
  answer: CachedCheck,
  storeId: string,
  modelId: string | undefined,
  cache: CheckMeta["cache"],
): HttpResponse {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "cache-control": "no-store",
    "openfga-store-id": storeId,
  };
  if (modelId) headers["openfga-authorization-model-id"] = modelId;
  headers[CACHE_HEADER] = cache;
  const allowed = answer !== false;
  const meta: CheckMeta = {
    tuple_key: tupleKey,
    allowed,
    path: typeof answer === "string" ? answer : undefined,
    cache,
    store_id: storeId,
    model_id: modelId,
  };
  return { statusCode: 200, headers, body: allowed ? ALLOWED : DENIED, meta };
}

const CORRELATION_RE = /^[\w\d-]{1,36}$/;

function itemErrorJson(e: CheckItemError): Record<string, unknown> {
  return e.internalError
    ? { error: { internal_error: e.internalError, message: e.message } }
    : { error: { input_error: e.inputError ?? "validation_error", message: e.message } };
}

export async function batchCheck(
  a: AuthzHttpContext,
  req: HttpRequest,
  ctx: RequestContext,
): Promise<HttpResponse> {
  const body = parseWire(batchCheckBody, jsonBody(req.body), "BatchCheckRequest");
  const max = a.settings.maxChecksPerBatch;
  // The whole request is refused (400) on these, before anything is answered from the cache.
  if (body.checks.length === 0)
    throw new AuthzError("validation_error", "checks must contain at least one item");
  if (body.checks.length > max) {
    throw new AuthzError(
      "validation_error",
      `batchCheck received ${body.checks.length} checks, the maximum allowed is ${max}`,
    );
  }
  const ids = new Set<string>();
  for (const c of body.checks) {
    if (!CORRELATION_RE.test(c.correlation_id)) {
      throw new AuthzError("validation_error", "invalid correlation_id: 1-36 word characters or '-'");
    }
    if (ids.has(c.correlation_id))
      throw new AuthzError("validation_error", `duplicate correlation_id '${c.correlation_id}'`);
    ids.add(c.correlation_id);
  }
  const r = await resolve(a, req, ctx, body.consistency, body.authorization_model_id);
  const stamp = r.target.revision;
  const cacheOk = a.checks.enabled && settled(a, stamp) && r.modelId !== undefined;
  // Keyed by caller-chosen correlation ids: no prototype ("__proto__" is a valid id).
  const out: Record<string, unknown> = Object.create(null);
  /** Granting paths of allowed items, by correlation id (audit reasons, `meta`). */
  const paths: Record<string, string> = Object.create(null);
  const todo: BatchCheckItem[] = [];
  for (const c of body.checks) {
    const contextual = c.contextual_tuples?.tuple_keys ?? [];
    if (cacheOk && contextual.length === 0) {
      const hit = a.checks.get(r.storeId, r.modelId!, stamp!, checkKey(c.tuple_key, c.context));
      if (hit !== undefined) {
        out[c.correlation_id] = { allowed: hit !== false };
        if (typeof hit === "string") paths[c.correlation_id] = hit;
        continue;
      }
    }
    todo.push({
      tupleKey: c.tuple_key,
      correlationId: c.correlation_id,
      ...(contextual.length ? { contextualTuples: contextual } : {}),
      ...(c.context ? { context: c.context } : {}),
    });
  }
  if (todo.length > 0) {
    const res = await r.target.service.batchCheck({
      storeId: r.storeId,
      ...(r.modelId ? { authorizationModelId: r.modelId } : {}),
      checks: todo,
      ...(body.consistency ? { consistency: body.consistency } : {}),
      ...(a.grantingPaths ? { withPath: true } : {}),
    });
    for (const item of todo) {
      const one: BatchCheckResult | undefined = res.result[item.correlationId];
      if (one === undefined) continue;
      if ("error" in one) out[item.correlationId] = itemErrorJson(one.error);
      else {
        out[item.correlationId] = { allowed: one.allowed };
        if (one.path !== undefined) paths[item.correlationId] = one.path;
        if (cacheOk && !item.contextualTuples) {
          const answer: CachedCheck = one.allowed && (one.path ?? true);
          a.checks.set(r.storeId, r.modelId!, stamp!, checkKey(item.tupleKey, item.context), answer);
        }
      }
    }
  }
  return { ...json(200, { result: out }, fgaHeaders(r.storeId, r.modelId)), meta: { paths } };
}

export async function expand(
  a: AuthzHttpContext,
  req: HttpRequest,
  ctx: RequestContext,
): Promise<HttpResponse> {
  const body = parseWire(expandBody, jsonBody(req.body), "ExpandRequest");
  const r = await resolve(a, req, ctx, body.consistency, body.authorization_model_id);
  const contextual = body.contextual_tuples?.tuple_keys ?? [];
  const res = await r.target.service.expand({
    storeId: r.storeId,
    ...(r.modelId ? { authorizationModelId: r.modelId } : {}),
    tupleKey: body.tuple_key,
    ...(contextual.length ? { contextualTuples: contextual } : {}),
    ...(body.consistency ? { consistency: body.consistency } : {}),
  });
  return json(200, { tree: { root: treeNodeJson(res.tree.root) } }, fgaHeaders(r.storeId, r.modelId));
}

/** Runs a list search for one page (see list-continuation.ts). */
async function listPage<T>(
  a: AuthzHttpContext,
  r: Resolved,
  explicitModel: string | undefined,
  token: string | undefined,
  print: string,
  search: (
    modelId: string | undefined,
    maxResults: number,
  ) => Promise<{ found: T[]; truncatedBy?: "max_results" | "deadline" }>,
  page: number,
): Promise<{ paged: Paged<T>; modelId: string | undefined }> {
  let modelId = r.modelId;
  let offset = 0;
  if (token) {
    const c = decodeListContinuation(token, print);
    if (explicitModel && explicitModel !== c.modelId) {
      throw new AuthzError(
        "invalid_continuation_token",
        "Invalid continuation token: it was issued for another model.",
      );
    }
    // A continuation runs against the model of its first page.
    modelId = c.modelId;
    offset = c.offset;
  }
  const scan = a.settings.listScanLimit;
  const res = await search(modelId, Math.min(offset + page + 1, scan));
  return { paged: pageOf(res.found, res.truncatedBy, offset, page, scan), modelId };
}

function truncation(
  paged: Paged<unknown>,
  modelId: string | undefined,
  print: string,
): { headers: Record<string, string>; fields: Record<string, unknown> } {
  if (!paged.truncatedBy) return { headers: {}, fields: {} };
  const fields: Record<string, unknown> = { truncated_by: paged.truncatedBy };
  if (paged.nextOffset !== undefined && modelId) {
    fields.continuation_token = encodeListContinuation({ modelId, offset: paged.nextOffset }, print);
  }
  return { headers: { [TRUNCATED_HEADER]: paged.truncatedBy }, fields };
}

/**
 * One list-objects search. The engine pages it: on a cut by the result cap it returns a token
 * that resumes after the objects returned (deterministic order); a cut by the deadline has none
 * (the same search would stop at the same place again).
 */
async function runListObjects(
  a: AuthzHttpContext,
  req: HttpRequest,
  ctx: RequestContext,
  maxResults: number,
): Promise<{ r: Resolved; objects: string[]; truncatedBy?: "max_results" | "deadline"; token?: string }> {
  const body = parseWire(listObjectsBody, jsonBody(req.body), "ListObjectsRequest");
  const r = await resolve(a, req, ctx, body.consistency, body.authorization_model_id);
  const contextual = body.contextual_tuples?.tuple_keys ?? [];
  const res = await r.target.service.listObjects({
    storeId: r.storeId,
    ...(r.modelId ? { authorizationModelId: r.modelId } : {}),
    type: body.type,
    relation: body.relation,
    user: body.user,
    ...(contextual.length ? { contextualTuples: contextual } : {}),
    ...(body.context ? { context: body.context } : {}),
    ...(body.consistency ? { consistency: body.consistency } : {}),
    ...(body.continuation_token ? { continuationToken: body.continuation_token } : {}),
    maxResults,
  });
  if (res.truncatedBy) a.metrics.count(`list_objects_truncated_${res.truncatedBy}`);
  return {
    r,
    objects: res.objects,
    ...(res.truncatedBy ? { truncatedBy: res.truncatedBy } : {}),
    ...(res.continuationToken ? { token: res.continuationToken } : {}),
  };
}

/** The truncation notice: a header, and body fields OpenFGA does not have (the SDK ignores them). */
function notice(
  truncatedBy: "max_results" | "deadline" | undefined,
  token: string | undefined,
): { headers: Record<string, string>; fields: Record<string, string> } {
  if (!truncatedBy) return { headers: {}, fields: {} };
  return {
    headers: { [TRUNCATED_HEADER]: truncatedBy },
    fields: token ? { truncated_by: truncatedBy, continuation_token: token } : { truncated_by: truncatedBy },
  };
}

export async function listObjects(
  a: AuthzHttpContext,
  req: HttpRequest,
  ctx: RequestContext,
): Promise<HttpResponse> {
  const { r, objects, truncatedBy, token } = await runListObjects(a, req, ctx, a.settings.listMaxResults);
  const n = notice(truncatedBy, token);
  return json(200, { objects, ...n.fields }, { ...fgaHeaders(r.storeId, r.modelId), ...n.headers });
}

/**
 * Streamed list-objects: one `{"result":{"object":…}}` line per object. There is no result cap
 * (only the scan limit and the deadline); a truncation adds the header and one last line
 * `{"portcullis_truncated":{"truncated_by":…,"continuation_token":…}}`, which the SDK skips. API
 * Gateway HTTP APIs buffer Lambda responses, so the lines arrive together.
 */
export async function streamedListObjects(
  a: AuthzHttpContext,
  req: HttpRequest,
  ctx: RequestContext,
): Promise<HttpResponse> {
  const { r, objects, truncatedBy, token } = await runListObjects(a, req, ctx, a.settings.listScanLimit);
  const n = notice(truncatedBy, token);
  const lines = objects.map((object) => JSON.stringify({ result: { object } }));
  if (truncatedBy) lines.push(JSON.stringify({ portcullis_truncated: n.fields }));
  return {
    statusCode: 200,
    headers: {
      // As OpenFGA's gateway: JSON objects, one per line.
      "content-type": "application/json",
      "cache-control": "no-store",
      ...fgaHeaders(r.storeId, r.modelId),
      ...n.headers,
    },
    body: lines.length ? `${lines.join("\n")}\n` : "",
  };
}

export async function listUsers(
  a: AuthzHttpContext,
  req: HttpRequest,
  ctx: RequestContext,
): Promise<HttpResponse> {
  const body = parseWire(listUsersBody, jsonBody(req.body), "ListUsersRequest");
  const r = await resolve(a, req, ctx, body.consistency, body.authorization_model_id);
  const contextual = body.contextual_tuples ?? [];
  const print = fingerprint([
    "users",
    r.storeId,
    body.object,
    body.relation,
    body.user_filters,
    contextual,
    body.context ?? null,
  ]);
  const { paged, modelId } = await listPage(
    a,
    r,
    body.authorization_model_id,
    body.continuation_token,
    print,
    async (model, maxResults) => {
      const filter = body.user_filters[0]!;
      const res = await r.target.service.listUsers({
        storeId: r.storeId,
        ...(model ? { authorizationModelId: model } : {}),
        object: body.object,
        relation: body.relation,
        userFilters: [
          filter.relation ? { type: filter.type, relation: filter.relation } : { type: filter.type },
        ],
        ...(contextual.length ? { contextualTuples: contextual } : {}),
        ...(body.context ? { context: body.context } : {}),
        ...(body.consistency ? { consistency: body.consistency } : {}),
        maxResults,
      });
      return res.truncatedBy ? { found: res.users, truncatedBy: res.truncatedBy } : { found: res.users };
    },
    a.settings.listMaxResults,
  );
  const t = truncation(paged, modelId, print);
  if (t.headers[TRUNCATED_HEADER]) a.metrics.count(`list_users_truncated_${paged.truncatedBy}`);
  return json(
    200,
    { users: paged.items.map(listUserJson), ...t.fields },
    { ...fgaHeaders(r.storeId, modelId), ...t.headers },
  );
}
