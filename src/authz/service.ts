/**
 * The authorization service: stores, models, tuples, queries and assertions behind one object,
 * wired from an `AuthzStore` plus clock and id generator. Everything it throws to callers is an
 * `AuthzError` (OpenFGA code + safe message) or, for store/infrastructure failures, whatever the
 * adapter threw (the edge maps unknown errors to a generic 500).
 */
import { type Clock, systemClock } from "../shared/clock.ts";
import { type IdGenerator, ulidGenerator } from "../shared/ids.ts";
import type {
  AuthzOptions,
  BatchCheckRequest,
  BatchCheckResponse,
  CheckRequest,
  CheckResponse,
  ExpandRequest,
  ExpandResponse,
  ListModelsResponse,
  ListObjectsRequest,
  ListObjectsResponse,
  ListStoresResponse,
  ListUsersRequest,
  ListUsersResponse,
  ReadChangesRequest,
  ReadChangesResponse,
  ReadRequest,
  ReadResponse,
  WriteRequest,
  WriteResponse,
} from "./api.ts";
import { CheckResultCache } from "./caching/check-results.ts";
import { AuthzError, validationError } from "./errors.ts";
import type { Assertion, AuthorizationModel, StoreRecord, TupleKey } from "./model.ts";
import { ModelRegistry } from "./models.ts";
import { decodeToken, encodeToken, pageSize } from "./pagination.ts";
import { type AuthzStore, isSyncTupleReader } from "./ports.ts";
import {
  batchCheck,
  check,
  expandQuery,
  listObjectsQuery,
  listUsersQuery,
  type QueryDeps,
} from "./queries.ts";
import { SubproblemCache } from "./subproblem-cache.ts";
import { readChanges, readTuples, type TupleApiDeps, writeTuples } from "./tuple-api.ts";
import { checkQueryKey, tupleString, validateTupleForWrite } from "./tuples.ts";

export interface AuthzServiceDeps {
  readonly store: AuthzStore;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default ulidGenerator */
  readonly ids?: IdGenerator;
  readonly options?: AuthzOptions;
}

const DEFAULTS: Required<AuthzOptions> = {
  maxResolutionDepth: 25,
  listObjectsMaxResults: 1000,
  listObjectsDeadlineMs: 3000,
  listUsersMaxResults: 1000,
  listUsersDeadlineMs: 3000,
  maxChecksPerBatchCheck: 50,
  maxTuplesPerWrite: 100,
  maxContextualTuples: 100,
  maxConditionContextBytes: 32 * 1024,
  maxTypesPerModel: 100,
  maxModelBytes: 256 * 1024,
  modelCacheSize: 500,
  latestModelTtlMs: 1000,
  checkCacheSize: 100_000,
  subproblemCacheSize: 200_000,
  forceBatchedReads: false,
};

const STORE_NAME_RE = /^[a-zA-Z0-9\s.\-/^_&@]{3,64}$/;

export class AuthzService {
  readonly #store: AuthzStore;
  readonly #clock: Clock;
  readonly #ids: IdGenerator;
  readonly #models: ModelRegistry;
  readonly #q: QueryDeps;
  readonly #t: TupleApiDeps;
  /** The effective options (defaults applied). */
  readonly options: Required<AuthzOptions>;

  constructor(deps: AuthzServiceDeps) {
    this.#store = deps.store;
    this.#clock = deps.clock ?? systemClock;
    this.#ids = deps.ids ?? ulidGenerator;
    const options = { ...DEFAULTS };
    for (const [k, v] of Object.entries(deps.options ?? {})) {
      if (v !== undefined) (options as Record<string, unknown>)[k] = v;
    }
    this.options = options;
    this.#models = new ModelRegistry(this.#store, this.#clock, this.#ids, {
      maxTypes: options.maxTypesPerModel,
      maxBytes: options.maxModelBytes,
      cacheSize: options.modelCacheSize,
      latestModelTtlMs: options.latestModelTtlMs,
    });
    this.#q = {
      store: this.#store,
      sync: !options.forceBatchedReads && isSyncTupleReader(this.#store) ? this.#store : undefined,
      cache: new CheckResultCache(options.checkCacheSize),
      subproblems: new SubproblemCache(options.subproblemCacheSize),
      models: this.#models,
      clock: this.#clock,
      options,
    };
    this.#t = {
      store: this.#store,
      models: this.#models,
      clock: this.#clock,
      ids: this.#ids,
      maxTuplesPerWrite: options.maxTuplesPerWrite,
      maxConditionContextBytes: options.maxConditionContextBytes,
    };
  }

  // ---- stores ----

  async createStore(input: { tenantId: string; name: string }): Promise<StoreRecord> {
    if (typeof input.name !== "string" || !STORE_NAME_RE.test(input.name)) {
      throw validationError("invalid store name: 3-64 letters, digits, spaces or . - / ^ _ & @");
    }
    const now = this.#clock.now();
    const store: StoreRecord = {
      id: this.#ids.ulid(),
      tenantId: input.tenantId,
      name: input.name,
      createdAt: now,
      updatedAt: now,
    };
    await this.#store.createStore(store);
    return store;
  }

  /** A live store, or 404 `store_id_not_found`. */
  async getStore(storeId: string): Promise<StoreRecord> {
    const s = await this.#store.getStore(storeId);
    if (!s || s.deletedAt !== undefined)
      throw new AuthzError("store_id_not_found", `store '${storeId}' not found`);
    return s;
  }

  async listStores(
    tenantId: string,
    req: { pageSize?: number; continuationToken?: string; name?: string } = {},
  ): Promise<ListStoresResponse> {
    const limit = pageSize(req.pageSize);
    const token = decodeToken(req.continuationToken);
    const page = await this.#store.listStores(tenantId, {
      limit,
      ...(token ? { cursor: token.c } : {}),
      ...(req.name ? { name: req.name } : {}),
    });
    return { stores: page.items, continuationToken: page.cursor ? encodeToken({ c: page.cursor }) : "" };
  }

  /** Soft delete; deleting a missing store is not an error. */
  async deleteStore(storeId: string): Promise<void> {
    await this.#store.deleteStore(storeId, this.#clock.now());
  }

  // ---- models ----

  /** Validates and stores a model given as JSON (wire shape, schema 1.1/1.2). */
  writeAuthorizationModel(storeId: string, model: unknown): Promise<{ authorizationModelId: string }> {
    return this.#models.write(storeId, model);
  }

  /** Parses the OpenFGA DSL, then `writeAuthorizationModel`. */
  writeAuthorizationModelDsl(storeId: string, dsl: string): Promise<{ authorizationModelId: string }> {
    return this.#models.writeDsl(storeId, dsl);
  }

  readAuthorizationModel(storeId: string, modelId: string): Promise<AuthorizationModel> {
    return this.#models.read(storeId, modelId);
  }

  /** Newest first. */
  async readAuthorizationModels(
    storeId: string,
    req: { pageSize?: number; continuationToken?: string } = {},
  ): Promise<ListModelsResponse> {
    const limit = pageSize(req.pageSize);
    const token = decodeToken(req.continuationToken);
    const page = await this.#store.listModels(storeId, token ? { limit, cursor: token.c } : { limit });
    return {
      authorizationModels: page.items,
      continuationToken: page.cursor ? encodeToken({ c: page.cursor }) : "",
    };
  }

  // ---- tuples ----

  write(req: WriteRequest): Promise<WriteResponse> {
    return writeTuples(this.#t, req);
  }

  read(req: ReadRequest): Promise<ReadResponse> {
    return readTuples(this.#t, req);
  }

  readChanges(req: ReadChangesRequest): Promise<ReadChangesResponse> {
    return readChanges(this.#t, req);
  }

  // ---- queries ----

  check(req: CheckRequest): Promise<CheckResponse> {
    return check(this.#q, req);
  }

  batchCheck(req: BatchCheckRequest): Promise<BatchCheckResponse> {
    return batchCheck(this.#q, req);
  }

  expand(req: ExpandRequest): Promise<ExpandResponse> {
    return expandQuery(this.#q, req);
  }

  listObjects(req: ListObjectsRequest): Promise<ListObjectsResponse> {
    return listObjectsQuery(this.#q, req);
  }

  listUsers(req: ListUsersRequest): Promise<ListUsersResponse> {
    return listUsersQuery(this.#q, req);
  }

  // ---- assertions ----

  async writeAssertions(storeId: string, modelId: string, assertions: readonly Assertion[]): Promise<void> {
    if (!Array.isArray(assertions)) throw validationError("assertions must be an array");
    if (assertions.length > 100) {
      throw new AuthzError("assertions_too_many_items", "at most 100 assertions are allowed per model");
    }
    const ts = await this.#models.resolve(storeId, modelId);
    for (const a of assertions) {
      const k = a?.tuple_key;
      if (typeof k !== "object" || k === null) throw validationError("each assertion needs a tuple_key");
      const reason = checkQueryKey(ts, k.object, k.relation, k.user);
      if (reason) throw validationError(`Invalid tuple '${tupleString(k)}'. Reason: ${reason}`);
      if (typeof a.expectation !== "boolean")
        throw validationError("each assertion needs a boolean expectation");
      const ctx: readonly TupleKey[] = a.contextual_tuples ?? [];
      if (ctx.length > 20) throw validationError("at most 20 contextual tuples per assertion");
      for (const c of ctx) {
        const r = validateTupleForWrite(ts, c, { maxContextBytes: this.options.maxConditionContextBytes });
        if (r) throw validationError(`Invalid tuple '${tupleString(c)}'. Reason: ${r}`);
      }
    }
    if (Buffer.byteLength(JSON.stringify(assertions), "utf8") > 64 * 1024) {
      throw validationError("assertions exceed 64 KB");
    }
    await this.#store.writeAssertions(storeId, ts.id, assertions);
  }

  async readAssertions(
    storeId: string,
    modelId: string,
  ): Promise<{ authorizationModelId: string; assertions: Assertion[] }> {
    const ts = await this.#models.resolve(storeId, modelId);
    return { authorizationModelId: ts.id, assertions: await this.#store.readAssertions(storeId, ts.id) };
  }
}

/** The module's factory: the one way to get an `AuthzService`. */
export function createAuthzService(deps: AuthzServiceDeps): AuthzService {
  return new AuthzService(deps);
}
