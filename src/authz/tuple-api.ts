/**
 * Tuple endpoints: Write (validated against the model, atomic through the store port), Read
 * (partial-key filter, paginated) and ReadChanges (changelog, paginated, pollable).
 */
import type { Clock } from "../shared/clock.ts";
import type { IdGenerator } from "../shared/ids.ts";
import type {
  ReadChangesRequest,
  ReadChangesResponse,
  ReadRequest,
  ReadResponse,
  WriteRequest,
  WriteResponse,
} from "./api.ts";
import { AuthzError, validationError } from "./errors.ts";
import type { TupleKey } from "./model.ts";
import type { ModelRegistry } from "./models.ts";
import { decodeToken, encodeToken, pageSize } from "./pagination.ts";
import { type AuthzStore, TupleWriteConflict } from "./ports.ts";
import { tupleString, validateTupleForDelete, validateTupleForWrite } from "./tuples.ts";

export interface TupleApiDeps {
  readonly store: AuthzStore;
  readonly models: ModelRegistry;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly maxTuplesPerWrite: number;
  readonly maxConditionContextBytes: number;
}

const invalidTuple = (k: { object: unknown; relation: unknown; user: unknown }, reason: string) =>
  validationError(
    `Invalid tuple '${String(k.object)}#${String(k.relation)}@${String(k.user)}'. Reason: ${reason}`,
  );

function cleanKey(k: TupleKey, withCondition: boolean): TupleKey {
  const key = { object: k.object, relation: k.relation, user: k.user };
  const c = k.condition;
  if (!withCondition || c === undefined || c === null) return key;
  const context = c.context;
  return context !== undefined && context !== null && Object.keys(context).length > 0
    ? { ...key, condition: { name: c.name, context } }
    : { ...key, condition: { name: c.name } };
}

export async function writeTuples(deps: TupleApiDeps, req: WriteRequest): Promise<WriteResponse> {
  const writes = req.writes?.tupleKeys ?? [];
  const deletes = req.deletes?.tupleKeys ?? [];
  if (!Array.isArray(writes) || !Array.isArray(deletes)) throw validationError("tuple_keys must be arrays");
  if (writes.length + deletes.length === 0) {
    throw new AuthzError(
      "invalid_write_input",
      "Invalid input. Make sure you provide at least one write or delete",
    );
  }
  const onDuplicate = req.writes?.onDuplicate ?? "error";
  const onMissing = req.deletes?.onMissing ?? "error";
  if (onDuplicate !== "error" && onDuplicate !== "ignore") {
    throw validationError(`invalid on_duplicate '${String(onDuplicate)}': use "error" or "ignore"`);
  }
  if (onMissing !== "error" && onMissing !== "ignore") {
    throw validationError(`invalid on_missing '${String(onMissing)}': use "error" or "ignore"`);
  }
  if (writes.length + deletes.length > deps.maxTuplesPerWrite) {
    throw new AuthzError(
      "exceeded_entity_limit",
      `The number of write operations exceeds the allowed limit of ${deps.maxTuplesPerWrite}`,
    );
  }
  const seen = new Set<string>();
  for (const k of [...writes, ...deletes]) {
    if (typeof k !== "object" || k === null) throw validationError("each tuple key must be an object");
    const s = tupleString(k);
    if (seen.has(s)) {
      throw new AuthzError(
        "cannot_allow_duplicate_tuples_in_one_request",
        `duplicate tuple in write: user: '${k.user}', relation: '${k.relation}', object: '${k.object}'`,
      );
    }
    seen.add(s);
  }
  const ts = await deps.models.resolve(req.storeId, req.authorizationModelId);
  for (const k of writes) {
    const reason = validateTupleForWrite(ts, k, { maxContextBytes: deps.maxConditionContextBytes });
    if (reason) throw invalidTuple(k, reason);
  }
  for (const k of deletes) {
    const reason = validateTupleForDelete(k);
    if (reason) throw invalidTuple(k, reason);
  }
  try {
    return await deps.store.write(
      req.storeId,
      {
        writes: writes.map((k) => cleanKey(k, true)),
        deletes: deletes.map((k) => cleanKey(k, false)),
        onDuplicate,
        onMissing,
      },
      deps.clock.now(),
      () => deps.ids.ulid(),
    );
  } catch (e) {
    if (!(e instanceof TupleWriteConflict)) throw e;
    const k = e.key;
    const who = k ? `user: '${k.user}', relation: '${k.relation}', object: '${k.object}'` : "a tuple";
    switch (e.reason) {
      case "duplicate":
        throw new AuthzError(
          "write_failed_due_to_invalid_input",
          `cannot write a tuple which already exists: ${who}: tuple to be written already existed or the tuple to be deleted did not exist`,
        );
      case "missing":
        throw new AuthzError(
          "write_failed_due_to_invalid_input",
          `cannot delete a tuple which does not exist: ${who}: tuple to be written already existed or the tuple to be deleted did not exist`,
        );
      case "condition_mismatch":
        throw new AuthzError(
          "Aborted",
          `attempted to write a tuple which already exists with a different condition: ${who}`,
        );
      default:
        throw new AuthzError(
          "Aborted",
          "transaction conflict: the tuples changed concurrently, retry the write",
        );
    }
  }
}

export async function readTuples(deps: TupleApiDeps, req: ReadRequest): Promise<ReadResponse> {
  const limit = pageSize(req.pageSize);
  const tk = req.tupleKey;
  const filter: { object?: string; relation?: string; user?: string } = {};
  if (tk !== undefined && tk !== null && (tk.object || tk.relation || tk.user)) {
    const object = tk.object ?? "";
    const colon = object.indexOf(":");
    const type = colon > 0 ? object.slice(0, colon) : "";
    const id = colon > 0 ? object.slice(colon + 1) : "";
    if (type === "" || (id === "" && !tk.user)) {
      throw validationError(
        "the 'tuple_key' field was provided but the object type field is required and both the object id and user cannot be empty",
      );
    }
    filter.object = object;
    if (tk.relation) filter.relation = tk.relation;
    if (tk.user) filter.user = tk.user;
  }
  const bound = JSON.stringify(filter);
  const token = decodeToken(req.continuationToken);
  if (token && token.f !== bound)
    throw new AuthzError("invalid_continuation_token", "Invalid continuation token.");
  const page = await deps.store.readPage(req.storeId, filter, token ? { limit, cursor: token.c } : { limit });
  return {
    tuples: page.items,
    continuationToken: page.cursor === undefined ? "" : encodeToken({ c: page.cursor, f: bound }),
  };
}

function parseStartTime(v: number | string | undefined, now: number): number | undefined {
  if (v === undefined || v === "") return undefined;
  const ms = typeof v === "number" ? v : Date.parse(v);
  if (!Number.isFinite(ms)) throw new AuthzError("invalid_start_time", "invalid start_time: use RFC 3339");
  if (ms > now) throw new AuthzError("invalid_start_time", "start_time cannot be in the future");
  return ms;
}

export async function readChanges(deps: TupleApiDeps, req: ReadChangesRequest): Promise<ReadChangesResponse> {
  const limit = pageSize(req.pageSize);
  const type = req.type ?? "";
  const token = decodeToken(req.continuationToken);
  if (token && (token.f ?? "") !== type) {
    throw new AuthzError(
      "query_string_type_continuation_token_mismatch",
      "the type in the querystring and the continuation token don't match",
    );
  }
  const startTime = token ? undefined : parseStartTime(req.startTime, deps.clock.now());
  const page = await deps.store.readChanges(req.storeId, {
    limit,
    ...(token ? { cursor: token.c } : {}),
    ...(type ? { objectType: type } : {}),
    ...(startTime !== undefined ? { startTime } : {}),
  });
  const last = page.items.at(-1)?.revision;
  const cursor = page.cursor ?? last;
  return {
    changes: page.items,
    continuationToken:
      cursor !== undefined
        ? encodeToken(type ? { c: cursor, f: type } : { c: cursor })
        : (req.continuationToken ?? ""),
  };
}
