/**
 * Request and response types of the authorization service. Field names are the camelCase forms of
 * OpenFGA's JSON fields; the HTTP layer renames them (snake_case, timestamps as RFC 3339, enums).
 */

import type { OpenFgaErrorName } from "./errors.ts";
import type { UsersetTree } from "./expand.ts";
import type { ExplainStep } from "./explain.ts";
import type { Assertion, AuthorizationModel, StoreRecord, Tuple, TupleChange, TupleKey } from "./model.ts";

/** OpenFGA's consistency preference; accepted by every query (see docs/AUTHZ.md). */
export type ConsistencyPreference = "UNSPECIFIED" | "MINIMIZE_LATENCY" | "HIGHER_CONSISTENCY";

/** Tunables of the engine; every default is OpenFGA's server default. */
export interface AuthzOptions {
  /** Nested dispatches before 2002 `authorization_model_resolution_too_complex`. @default 25 */
  readonly maxResolutionDepth?: number;
  /** @default 1000 */
  readonly listObjectsMaxResults?: number;
  /** @default 3000 */
  readonly listObjectsDeadlineMs?: number;
  /** @default 1000 */
  readonly listUsersMaxResults?: number;
  /** @default 3000 */
  readonly listUsersDeadlineMs?: number;
  /** @default 50 */
  readonly maxChecksPerBatchCheck?: number;
  /** Tuple changes (writes + deletes) per Write. @default 100 */
  readonly maxTuplesPerWrite?: number;
  /** Contextual tuples per query (OpenFGA's API fixes 100). @default 100 */
  readonly maxContextualTuples?: number;
  /** Serialized `condition.context` of one tuple. @default 32768 */
  readonly maxConditionContextBytes?: number;
  /** @default 100 */
  readonly maxTypesPerModel?: number;
  /** @default 262144 */
  readonly maxModelBytes?: number;
  /** Compiled models cached per container. @default 500 */
  readonly modelCacheSize?: number;
  /** How long the "latest model" of a store is cached (this container's own writes refresh it). @default 1000 */
  readonly latestModelTtlMs?: number;
  /**
   * Check results kept per container, keyed by store, model and the store's head revision; used only
   * with stores that report their revision synchronously (memory). 0 disables. @default 100000
   */
  readonly checkCacheSize?: number;
  /**
   * Sub-problem results (e.g. `team:x#member` for a user, reached over a userset or tuple-to-userset)
   * kept per container across requests, keyed by store, model and the store's head revision; used only
   * with stores that report their revision synchronously (memory). 0 disables. @default 200000
   */
  readonly subproblemCacheSize?: number;
  /** Use the batched async store reads even when the store offers synchronous ones (tests). @default false */
  readonly forceBatchedReads?: boolean;
}

interface StoreScoped {
  readonly storeId: string;
  /** The store's latest model when absent. */
  readonly authorizationModelId?: string;
  readonly consistency?: ConsistencyPreference;
}

export interface CheckTupleKey {
  readonly user: string;
  readonly relation: string;
  readonly object: string;
}

export interface CheckRequest extends StoreScoped {
  readonly tupleKey: CheckTupleKey;
  readonly contextualTuples?: readonly TupleKey[];
  readonly context?: Record<string, unknown>;
  /** Also return the path that granted access. @default false */
  readonly explain?: boolean;
  /**
   * Also return the granting path as one line (`path`) when allowed, for audit. Unlike `explain`,
   * caches stay on and no read is added: the path is absent when a hop would need one.
   * @default false
   */
  readonly withPath?: boolean;
}

export interface CheckResponse {
  readonly allowed: boolean;
  /** With `explain: true` and `allowed`: the tuples and rewrites that granted access. */
  readonly explanation?: ExplainStep;
  /** With `withPath: true` and `allowed`: the granting path, one line (see `formatExplanation`). */
  readonly path?: string;
}

export interface BatchCheckItem {
  readonly tupleKey: CheckTupleKey;
  readonly contextualTuples?: readonly TupleKey[];
  readonly context?: Record<string, unknown>;
  readonly correlationId: string;
}

export interface BatchCheckRequest extends StoreScoped {
  readonly checks: readonly BatchCheckItem[];
  /** The granting path of each allowed item, as `CheckRequest.withPath`. @default false */
  readonly withPath?: boolean;
}

export interface CheckItemError {
  readonly inputError?: OpenFgaErrorName;
  readonly internalError?: OpenFgaErrorName;
  readonly message: string;
}

export type BatchCheckResult =
  | { readonly allowed: boolean; readonly path?: string }
  | { readonly allowed: false; readonly error: CheckItemError };

export interface BatchCheckResponse {
  readonly result: Record<string, BatchCheckResult>;
}

export interface ExpandRequest extends StoreScoped {
  readonly tupleKey: { readonly object: string; readonly relation: string };
  readonly contextualTuples?: readonly TupleKey[];
}

export interface ExpandResponse {
  readonly tree: UsersetTree;
}

interface ListLimits {
  /** Lower the container's cap for this call. */
  readonly maxResults?: number;
  /** Lower the container's deadline for this call. */
  readonly deadlineMs?: number;
}

export interface ListObjectsRequest extends StoreScoped, ListLimits {
  readonly type: string;
  readonly relation: string;
  readonly user: string;
  readonly contextualTuples?: readonly TupleKey[];
  readonly context?: Record<string, unknown>;
  /** From a response truncated by the result cap: resumes after its objects. */
  readonly continuationToken?: string;
}

export interface ListObjectsResponse {
  readonly objects: string[];
  /** True when the result cap or the deadline stopped the search: more objects may exist. */
  readonly truncated: boolean;
  readonly truncatedBy?: "max_results" | "deadline";
  /**
   * Present when the cap truncated the result: send it back (same query) for the next objects. Pages
   * follow a deterministic order, so paging is exact while the tuples do not change (best effort when
   * they do: an object may then be missed or repeated). A deadline truncation has no token.
   */
  readonly continuationToken?: string;
}

export interface UserTypeFilter {
  readonly type: string;
  readonly relation?: string;
}

export interface ListUsersRequest extends StoreScoped, ListLimits {
  readonly object: { readonly type: string; readonly id: string };
  readonly relation: string;
  readonly userFilters: readonly UserTypeFilter[];
  readonly contextualTuples?: readonly TupleKey[];
  readonly context?: Record<string, unknown>;
}

export type ListUser =
  | { readonly object: { readonly type: string; readonly id: string } }
  | { readonly userset: { readonly type: string; readonly id: string; readonly relation: string } }
  | { readonly wildcard: { readonly type: string } };

export interface ListUsersResponse {
  readonly users: ListUser[];
  readonly truncated: boolean;
  readonly truncatedBy?: "max_results" | "deadline";
}

export interface WriteRequest {
  readonly storeId: string;
  readonly authorizationModelId?: string;
  readonly writes?: { readonly tupleKeys: readonly TupleKey[]; readonly onDuplicate?: "error" | "ignore" };
  readonly deletes?: {
    readonly tupleKeys: readonly Omit<TupleKey, "condition">[];
    readonly onMissing?: "error" | "ignore";
  };
}

export interface WriteResponse {
  /** Changelog revision after the write: a consistency token. */
  readonly revision: string;
}

interface Paged {
  /** 1–100. @default 50 */
  readonly pageSize?: number;
  readonly continuationToken?: string;
}

export interface ReadRequest extends Paged {
  readonly storeId: string;
  readonly tupleKey?: { readonly object?: string; readonly relation?: string; readonly user?: string };
  readonly consistency?: ConsistencyPreference;
}

export interface ReadResponse {
  readonly tuples: Tuple[];
  /** `""` on the last page. */
  readonly continuationToken: string;
}

export interface ReadChangesRequest extends Paged {
  readonly storeId: string;
  readonly type?: string;
  /** Epoch ms or RFC 3339; used only without a continuation token. */
  readonly startTime?: number | string;
}

export interface ReadChangesResponse {
  readonly changes: TupleChange[];
  /** Never empty once something was returned: poll with it for newer changes. */
  readonly continuationToken: string;
}

export interface ListModelsResponse {
  readonly authorizationModels: AuthorizationModel[];
  readonly continuationToken: string;
}

export interface ListStoresResponse {
  readonly stores: StoreRecord[];
  readonly continuationToken: string;
}

export type {
  Assertion,
  AuthorizationModel,
  ExplainStep,
  StoreRecord,
  Tuple,
  TupleChange,
  TupleKey,
  UsersetTree,
};
