/**
 * Query endpoints: Check, BatchCheck, Expand, ListObjects, ListUsers. Each validates its input the
 * way OpenFGA does (and with the same codes), then runs the engine over one request-scoped
 * `StoreView` (so every read of the request is cached and batched together).
 */

import { createHash } from "node:crypto";
import type { Clock } from "../shared/clock.ts";
import type {
  AuthzOptions,
  BatchCheckRequest,
  BatchCheckResponse,
  BatchCheckResult,
  CheckRequest,
  CheckResponse,
  ExpandRequest,
  ExpandResponse,
  ListObjectsRequest,
  ListObjectsResponse,
  ListUser,
  ListUsersRequest,
  ListUsersResponse,
} from "./api.ts";
import type { CheckResultCache } from "./caching/check-results.ts";
import { CheckRun, ERR_CONDITION, ERR_DEPTH, type Outcome, settle, TRUE, WAIT } from "./check.ts";
import { AuthzError, invalidContinuationToken, resolutionTooComplex, validationError } from "./errors.ts";
import { expand } from "./expand.ts";
import { EXPLAIN_MAX_STEPS, explainWithin, grantingPath } from "./explain.ts";
import { listObjects } from "./list-objects.ts";
import { listUsers } from "./list-users.ts";
import type { TupleKey } from "./model.ts";
import type { ModelRegistry } from "./models.ts";
import { decodeToken, encodeToken } from "./pagination.ts";
import type { AuthzStore, SyncTupleReader } from "./ports.ts";
import { ContextualTuples, StoreView, TupleSource } from "./reader.ts";
import type { SubproblemCache, UserResults } from "./subproblem-cache.ts";
import {
  checkQueryKey,
  checkUser,
  isValidRelation,
  type ParsedUser,
  parseUser,
  splitObject,
  tupleString,
  USER_USERSET,
  validateTupleForWrite,
} from "./tuples.ts";
import type { RelationDef, TypeSystem } from "./typesystem.ts";

export interface QueryDeps {
  readonly store: AuthzStore;
  /** The store's synchronous reads, when it has them (and batched reads are not forced). */
  readonly sync: SyncTupleReader | undefined;
  /**
   * Results under the store's head revision, used only when the store tells its head synchronously
   * (`SyncTupleReader`, the embedded memory store), so a cached answer is never older than the data.
   */
  readonly cache: CheckResultCache;
  /** Cross-request sub-problem results (sync stores only). */
  readonly subproblems: SubproblemCache;
  readonly models: ModelRegistry;
  readonly clock: Clock;
  readonly options: Required<AuthzOptions>;
}

const CORRELATION_RE = /^[\w-]{1,36}$/;

function contextOf(context: unknown): Record<string, unknown> | undefined {
  if (context === undefined || context === null) return undefined;
  if (typeof context !== "object" || Array.isArray(context))
    throw validationError("context must be a JSON object");
  return context as Record<string, unknown>;
}

/** Contextual tuples are validated like writes; a failure is 2027 `invalid_tuple`. */
function contextualTuples(
  deps: QueryDeps,
  ts: TypeSystem,
  keys: readonly TupleKey[] | undefined,
): ContextualTuples | undefined {
  if (keys === undefined || keys === null) return undefined;
  if (!Array.isArray(keys)) throw validationError("contextual_tuples must be an array");
  if (keys.length > deps.options.maxContextualTuples) {
    throw validationError(`at most ${deps.options.maxContextualTuples} contextual tuples are allowed`);
  }
  if (keys.length === 0) return undefined;
  for (const k of keys) {
    const reason = validateTupleForWrite(ts, k, { maxContextBytes: deps.options.maxConditionContextBytes });
    if (reason) {
      const name = typeof k === "object" && k !== null ? tupleString(k) : String(k);
      throw new AuthzError("invalid_tuple", `Invalid tuple '${name}'. Reason: ${reason}`);
    }
  }
  return new ContextualTuples(keys);
}

function outcomeError(o: Outcome, run: CheckRun): AuthzError | undefined {
  if (o === ERR_DEPTH) return resolutionTooComplex();
  if (o === ERR_CONDITION) return validationError(run.conditionError ?? "failed to evaluate a condition");
  return undefined;
}

/** Parsed users by user string (parsing is pure and requests repeat users); bounded, cleared when full. */
const parsedUsers = new Map<string, ParsedUser>();

/**
 * The hot path of Check's input validation: accepts only what `checkQueryKey` accepts (printable
 * ASCII objects, known type and relation, a well-formed user of a known type) and returns the
 * relation; undefined means "not sure": the caller runs the full validation for its exact message.
 */
function fastCheckKey(
  ts: TypeSystem,
  object: string,
  relation: string,
  user: string,
): RelationDef | undefined {
  if (typeof object !== "string" || typeof relation !== "string" || typeof user !== "string")
    return undefined;
  const n = object.length;
  if (n < 3 || n > 256) return undefined;
  let colon = -1;
  for (let i = 0; i < n; i++) {
    const c = object.charCodeAt(i);
    if (c <= 32 || c >= 127 || c === 35 /* # */) return undefined;
    if (c === 58 /* : */) {
      if (colon >= 0) return undefined;
      colon = i;
    } else if (c === 64 /* @ */ && colon < 0) return undefined;
  }
  if (colon <= 0 || colon === n - 1 || colon > 254) return undefined;
  if (colon === n - 2 && object.charCodeAt(n - 1) === 42 /* * */) return undefined;
  const def = ts.relation(object.slice(0, colon), relation);
  if (def === undefined || !def.validName) return undefined;
  let u = parsedUsers.get(user);
  if (u === undefined) {
    u = parseUser(user);
    if (u === undefined) return undefined;
    if (parsedUsers.size >= 10_000) parsedUsers.clear();
    parsedUsers.set(user, u);
  }
  if (!ts.hasType(u.type)) return undefined;
  if (u.kind === USER_USERSET && ts.relation(u.type, u.relation) === undefined) return undefined;
  return def;
}

interface PreparedCheck {
  readonly run: CheckRun;
  readonly object: string;
  readonly def: RelationDef;
}

function prepareCheck(
  deps: QueryDeps,
  ts: TypeSystem,
  view: StoreView,
  tupleKey: CheckRequest["tupleKey"],
  ctxKeys: readonly TupleKey[] | undefined,
  context: unknown,
  cacheable: boolean,
): PreparedCheck {
  if (typeof tupleKey !== "object" || tupleKey === null) throw validationError("tuple_key is required");
  const { object, relation, user } = tupleKey;
  let def = fastCheckKey(ts, object, relation, user);
  let u: ParsedUser;
  if (def !== undefined) u = parsedUsers.get(user)!;
  else {
    const reason = checkQueryKey(ts, object, relation, user);
    if (reason) throw validationError(`Invalid tuple '${object}#${relation}@${user}'. Reason: ${reason}`);
    u = parseUser(user)!;
    def = ts.relation(splitObject(object)![0], relation)!;
  }
  const ctx = contextualTuples(deps, ts, ctxKeys);
  const ctxObj = contextOf(context);
  const shared = cacheable && ctx === undefined ? sharedResults(deps, view, ts, u.str) : undefined;
  const run = new CheckRun(
    ts,
    new TupleSource(view, ctx),
    u,
    ctxObj,
    deps.options.maxResolutionDepth,
    shared,
  );
  return { run, object, def };
}

/**
 * The user's cross-request sub-problem results, for stores that tell their head revision
 * synchronously (the whole check then runs before any write can move it).
 */
function sharedResults(
  deps: QueryDeps,
  view: StoreView,
  ts: TypeSystem,
  user: string,
): UserResults | undefined {
  const sync = view.sync;
  if (sync === undefined || !deps.subproblems.enabled) return undefined;
  return deps.subproblems.forUser(view.storeId, ts.id, sync.headRevisionSync(view.storeId) ?? "", user);
}

/**
 * Check. With a cached model and a synchronous store the whole call runs synchronously and returns
 * an already-settled promise: no awaits on the hot path.
 */
export function check(deps: QueryDeps, req: CheckRequest): Promise<CheckResponse> {
  const ts = deps.models.cached(req.storeId, req.authorizationModelId);
  if (ts === undefined) {
    return deps.models.resolve(req.storeId, req.authorizationModelId).then((t) => checkCached(deps, t, req));
  }
  try {
    return Promise.resolve(checkCached(deps, ts, req));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** The per-container result cache in front of `checkWith` (memory store only; contextual tuples, `explain` and `HIGHER_CONSISTENCY` bypass it). */
function checkCached(
  deps: QueryDeps,
  ts: TypeSystem,
  req: CheckRequest,
): CheckResponse | Promise<CheckResponse> {
  const { sync, cache } = deps;
  const tk = req.tupleKey;
  if (
    sync === undefined ||
    !cache.enabled ||
    req.explain ||
    req.consistency === "HIGHER_CONSISTENCY" ||
    (req.contextualTuples !== undefined &&
      req.contextualTuples !== null &&
      req.contextualTuples.length > 0) ||
    typeof tk !== "object" ||
    tk === null
  ) {
    return checkWith(deps, ts, req);
  }
  const revision = sync.headRevisionSync(req.storeId) ?? "";
  let key = `${tk.object}#${tk.relation}@${tk.user}`;
  if (req.context !== undefined && req.context !== null) key += `\u0000${JSON.stringify(req.context)}`;
  const hit = cache.get(req.storeId, ts.id, revision, key);
  if (hit !== undefined)
    return hit === false
      ? NOT_ALLOWED
      : req.withPath && hit !== true
        ? { allowed: true, path: hit }
        : ALLOWED;
  const r = checkWith(deps, ts, req);
  if (r instanceof Promise) return r;
  cache.set(req.storeId, ts.id, revision, key, r.allowed && (r.path ?? true));
  return r;
}

function checkWith(
  deps: QueryDeps,
  ts: TypeSystem,
  req: CheckRequest,
): CheckResponse | Promise<CheckResponse> {
  const view = new StoreView(req.storeId, deps.store, { forceBatched: deps.options.forceBatchedReads });
  const cacheable = !req.explain && req.consistency !== "HIGHER_CONSISTENCY";
  const { run, object, def } = prepareCheck(
    deps,
    ts,
    view,
    req.tupleKey,
    req.contextualTuples,
    req.context,
    cacheable,
  );
  const r = run.root(object, def);
  if (r === WAIT)
    return settle(view, () => run.root(object, def)).then((o) => finishCheck(run, view, object, def, o, req));
  return finishCheck(run, view, object, def, r, req);
}

function finishCheck(
  run: CheckRun,
  view: StoreView,
  object: string,
  def: RelationDef,
  r: Outcome,
  req: CheckRequest,
): CheckResponse | Promise<CheckResponse> {
  const err = outcomeError(r, run);
  if (err) throw err;
  if (r !== TRUE) return NOT_ALLOWED;
  if (!req.explain) {
    const path = req.withPath ? grantingPath(run, object, def) : undefined;
    return path === undefined ? ALLOWED : { allowed: true, path };
  }
  const explainLater = async (): Promise<CheckResponse> => {
    for (;;) {
      const explanation = explainWithin(run, object, def, EXPLAIN_MAX_STEPS);
      if (explanation || !view.hasPending)
        return explanation ? { allowed: true, explanation } : { allowed: true };
      await view.flush();
    }
  };
  const explanation = explainWithin(run, object, def, EXPLAIN_MAX_STEPS);
  return explanation ? { allowed: true, explanation } : view.hasPending ? explainLater() : { allowed: true };
}

const ALLOWED: CheckResponse = Object.freeze({ allowed: true });
const NOT_ALLOWED: CheckResponse = Object.freeze({ allowed: false });

export async function batchCheck(deps: QueryDeps, req: BatchCheckRequest): Promise<BatchCheckResponse> {
  const checks = req.checks;
  const max = deps.options.maxChecksPerBatchCheck;
  if (!Array.isArray(checks) || checks.length === 0)
    throw validationError("checks must contain at least one item");
  if (checks.length > max) {
    throw validationError(`batchCheck received ${checks.length} checks, the maximum allowed is ${max}`);
  }
  const ids = new Set<string>();
  for (const c of checks) {
    const id = c?.correlationId;
    if (typeof id !== "string" || !CORRELATION_RE.test(id)) {
      throw validationError(`invalid correlation_id '${String(id)}': 1-36 word characters or '-'`);
    }
    if (ids.has(id)) throw validationError(`duplicate correlation_id '${id}'`);
    ids.add(id);
  }
  const ts = await deps.models.resolve(req.storeId, req.authorizationModelId);
  const view = new StoreView(req.storeId, deps.store, { forceBatched: deps.options.forceBatchedReads });
  const cacheable = req.consistency !== "HIGHER_CONSISTENCY";
  // Keyed by caller-chosen correlation ids: no prototype ("__proto__" is a valid id).
  const result: Record<string, BatchCheckResult> = Object.create(null);
  const open: { id: string; p: PreparedCheck }[] = [];
  for (const c of checks) {
    try {
      open.push({
        id: c.correlationId,
        p: prepareCheck(deps, ts, view, c.tupleKey, c.contextualTuples, c.context, cacheable),
      });
    } catch (e) {
      if (!(e instanceof AuthzError)) throw e;
      result[c.correlationId] = { allowed: false, error: { inputError: e.openfgaName, message: e.detail } };
    }
  }
  let waiting = open;
  while (waiting.length > 0) {
    const next: typeof open = [];
    for (const item of waiting) {
      const { run, object, def } = item.p;
      const r = run.root(object, def);
      if (r === WAIT) {
        next.push(item);
        continue;
      }
      const err = outcomeError(r, run);
      const path = r === TRUE && req.withPath ? grantingPath(run, object, def) : undefined;
      result[item.id] = err
        ? { allowed: false, error: { inputError: err.openfgaName, message: err.detail } }
        : path === undefined
          ? { allowed: r === TRUE }
          : { allowed: true, path };
    }
    if (next.length > 0) await view.flush();
    waiting = next;
  }
  return { result };
}

export async function expandQuery(deps: QueryDeps, req: ExpandRequest): Promise<ExpandResponse> {
  const ts = await deps.models.resolve(req.storeId, req.authorizationModelId);
  const tk = req.tupleKey;
  if (typeof tk !== "object" || tk === null) throw validationError("tuple_key is required");
  const reason = checkQueryKey(ts, tk.object, tk.relation, undefined);
  if (reason) throw validationError(reason);
  const ctx = contextualTuples(deps, ts, req.contextualTuples);
  const view = new StoreView(req.storeId, deps.store, { forceBatched: deps.options.forceBatchedReads });
  const def = ts.relation(splitObject(tk.object)![0], tk.relation)!;
  return { tree: await expand(new TupleSource(view, ctx), tk.object, def) };
}

function limit(requested: number | undefined, configured: number): number {
  if (requested === undefined || requested === null) return configured;
  if (!Number.isInteger(requested) || requested < 1)
    throw validationError("limits must be positive integers");
  return Math.min(requested, configured);
}

export async function listObjectsQuery(
  deps: QueryDeps,
  req: ListObjectsRequest,
): Promise<ListObjectsResponse> {
  const started = deps.clock.now();
  const ts = await deps.models.resolve(req.storeId, req.authorizationModelId);
  if (typeof req.type !== "string" || !ts.hasType(req.type)) {
    throw new AuthzError("type_not_found", `type '${String(req.type)}' not found`);
  }
  const target = typeof req.relation === "string" ? ts.relation(req.type, req.relation) : undefined;
  if (!target)
    throw new AuthzError("relation_not_found", `relation '${req.type}#${String(req.relation)}' not found`);
  const reason = checkUser(ts, req.user);
  if (reason) throw validationError(`invalid user '${String(req.user)}': ${reason}`);
  const ctx = contextualTuples(deps, ts, req.contextualTuples);
  const context = contextOf(req.context);
  const view = new StoreView(req.storeId, deps.store, { forceBatched: deps.options.forceBatchedReads });
  // A continuation is bound to the model and the whole query (user, target, context, contextual tuples).
  const bound = createHash("sha256")
    .update(
      JSON.stringify([
        ts.id,
        req.type,
        req.relation,
        req.user,
        req.context ?? null,
        req.contextualTuples ?? [],
      ]),
    )
    .digest("base64url")
    .slice(0, 22);
  const token = decodeToken(req.continuationToken);
  const skip = token ? Number(token.c) : 0;
  if (token && (token.f !== bound || !Number.isSafeInteger(skip) || skip < 0))
    throw invalidContinuationToken();
  const out = await listObjects({
    ts,
    src: new TupleSource(view, ctx),
    user: parseUser(req.user)!,
    target,
    context,
    maxDepth: deps.options.maxResolutionDepth,
    maxResults: limit(req.maxResults, deps.options.listObjectsMaxResults),
    skip,
    deadline: started + limit(req.deadlineMs, deps.options.listObjectsDeadlineMs),
    now: () => deps.clock.now(),
  });
  const { objects, truncated, truncatedBy, nextSkip } = out;
  if (nextSkip !== undefined && objects.length > 0) {
    return {
      objects,
      truncated,
      truncatedBy: "max_results",
      continuationToken: encodeToken({ c: String(nextSkip), f: bound }),
    };
  }
  return truncatedBy ? { objects, truncated, truncatedBy } : { objects, truncated };
}

function toListUser(s: string): ListUser {
  const u = parseUser(s)!;
  if (u.kind === 1) return { wildcard: { type: u.type } };
  if (u.kind === 2) return { userset: { type: u.type, id: u.id, relation: u.relation } };
  return { object: { type: u.type, id: u.id } };
}

export async function listUsersQuery(deps: QueryDeps, req: ListUsersRequest): Promise<ListUsersResponse> {
  const started = deps.clock.now();
  const ts = await deps.models.resolve(req.storeId, req.authorizationModelId);
  const obj = req.object;
  if (typeof obj !== "object" || obj === null || typeof obj.type !== "string" || typeof obj.id !== "string") {
    throw validationError("object must be {type, id}");
  }
  const object = `${obj.type}:${obj.id}`;
  if (!splitObject(object)) throw validationError(`invalid object '${object}'`);
  if (!ts.hasType(obj.type)) throw new AuthzError("type_not_found", `type '${obj.type}' not found`);
  const def = typeof req.relation === "string" ? ts.relation(obj.type, req.relation) : undefined;
  if (!def)
    throw new AuthzError("relation_not_found", `relation '${obj.type}#${String(req.relation)}' not found`);
  const filters = req.userFilters;
  if (!Array.isArray(filters) || filters.length !== 1) {
    throw validationError("user_filters must contain exactly one filter");
  }
  const f = filters[0]!;
  if (typeof f?.type !== "string" || !ts.hasType(f.type)) {
    throw new AuthzError("type_not_found", `type '${String(f?.type)}' not found`);
  }
  if (f.relation !== undefined && f.relation !== "") {
    if (!isValidRelation(f.relation) || !ts.relation(f.type, f.relation)) {
      throw new AuthzError("relation_not_found", `relation '${f.type}#${f.relation}' not found`);
    }
  }
  const ctx = contextualTuples(deps, ts, req.contextualTuples);
  const context = contextOf(req.context);
  const view = new StoreView(req.storeId, deps.store, { forceBatched: deps.options.forceBatchedReads });
  const out = await listUsers({
    ts,
    src: new TupleSource(view, ctx),
    object,
    def,
    filter: f.relation ? { type: f.type, relation: f.relation } : { type: f.type },
    context,
    maxDepth: deps.options.maxResolutionDepth,
    maxResults: limit(req.maxResults, deps.options.listUsersMaxResults),
    deadline: started + limit(req.deadlineMs, deps.options.listUsersDeadlineMs),
    now: () => deps.clock.now(),
  });
  const users = out.users.map(toListUser);
  return out.truncatedBy
    ? { users, truncated: out.truncated, truncatedBy: out.truncatedBy }
    : { users, truncated: out.truncated };
}
