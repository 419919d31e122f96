import type { Assertion, AuthorizationModel, StoreRecord, Tuple, TupleChange, TupleKey } from "./model.ts";

export interface Page<T> {
  readonly items: T[];
  /** Opaque adapter cursor for the next page; absent on the last page. */
  readonly cursor?: string;
}

/** Filter of the Read API: object may be a bare type (`document:`) when user is given. */
export interface TupleFilter {
  readonly object?: string;
  readonly relation?: string;
  readonly user?: string;
}

/** Forward lookup of one object#relation partition. */
export interface ObjectRelationQuery {
  readonly object: string;
  readonly relation: string;
}

/** Exact tuple lookup (condition not part of the key). */
export interface TupleLookup {
  readonly object: string;
  readonly relation: string;
  readonly user: string;
}

/** Reverse lookup: tuples of `objectType`#`relation` whose user is one of `users`. */
export interface ReverseQuery {
  readonly objectType: string;
  readonly relation: string;
  /** Exact user strings: `type:id`, `type:*` or `type:id#relation`. */
  readonly users: readonly string[];
}

/**
 * The reads the engine makes while resolving. Every method takes a BATCH of lookups and is one
 * store round trip (memory: none; DynamoDB: one BatchGetItem or one wave of parallel Queries), so
 * the engine can gather the reads of one resolution step and issue them together.
 * Results are positional: `result[i]` answers `queries[i]`.
 */
export interface TupleReader {
  /** Exact point reads (the user may be `type:*`). */
  getTuples(storeId: string, lookups: readonly TupleLookup[]): Promise<(Tuple | undefined)[]>;
  /** Tuples of object#relation whose user is a userset `type:id#relation`. */
  readUsersetTuples(storeId: string, queries: readonly ObjectRelationQuery[]): Promise<Tuple[][]>;
  /** All tuples of object#relation (any user form). */
  readTuples(storeId: string, queries: readonly ObjectRelationQuery[]): Promise<Tuple[][]>;
  /** Reverse index, for list-objects. */
  readByUsers(storeId: string, queries: readonly ReverseQuery[]): Promise<Tuple[][]>;
}

/** One object's tuples, as a synchronous (in-memory) store indexes them. */
export interface ObjectTuples {
  /** The tuple `object#relation@user` (user: `type:id`, `type:*` or `type:id#relation`), if stored. */
  get(relation: string, user: string): Tuple | undefined;
  /** The tuples of `object#relation` whose user is a userset, in a stable order. */
  usersets(relation: string): readonly Tuple[];
  /** Every tuple of `object#relation`, in a stable order. */
  tuples(relation: string): Iterable<Tuple>;
}

/**
 * Optional capability of stores that hold tuples in process memory: synchronous reads, so the
 * engine resolves a whole check without a promise. `readObjectSync` returns one object's index
 * (undefined when the object has no tuples); the engine fetches it once per object per request and
 * resolves every relation of the object from it, so the index should answer `get` from one hash table
 * per object (few cache misses). The engine never mutates or retains what it gets. Results must equal
 * the `TupleReader` methods'; the engine detects the capability with `isSyncTupleReader`.
 */
export interface SyncTupleReader {
  readObjectSync(storeId: string, object: string): ObjectTuples | undefined;
  /** `headRevision`, synchronously: keys the engine's per-container check cache. */
  headRevisionSync(storeId: string): string | undefined;
  readByUsersSync(
    storeId: string,
    objectType: string,
    relation: string,
    users: readonly string[],
  ): readonly Tuple[];
}

export const isSyncTupleReader = (r: object): r is SyncTupleReader =>
  typeof (r as Partial<SyncTupleReader>).readObjectSync === "function" &&
  typeof (r as Partial<SyncTupleReader>).headRevisionSync === "function" &&
  typeof (r as Partial<SyncTupleReader>).readByUsersSync === "function";

export interface WriteRequest {
  readonly writes: readonly TupleKey[];
  readonly deletes: readonly TupleKey[];
  /** "ignore": writing an identical existing tuple is a no-op (a different condition still conflicts). */
  readonly onDuplicate: "error" | "ignore";
  /** "ignore": deleting a missing tuple is a no-op. */
  readonly onMissing: "error" | "ignore";
}

/** Why a write was refused; the service maps these to OpenFGA codes. */
export type WriteConflictReason = "duplicate" | "missing" | "condition_mismatch" | "concurrent";

/**
 * Atomic writer: all changes of one request apply or none do (DynamoDB: one TransactWriteItems,
 * at most 100 tuple changes). Each applied change appends to the store's changelog with a fresh
 * revision; the returned revision is the last one (or the current head when nothing changed).
 * Refusals throw `TupleWriteConflict`.
 */
export interface TupleWriter {
  write(
    storeId: string,
    request: WriteRequest,
    at: number,
    revisions: () => string,
  ): Promise<{ revision: string }>;
}

export class TupleWriteConflict extends Error {
  readonly reason: WriteConflictReason;
  readonly key: TupleKey | undefined;
  constructor(reason: WriteConflictReason, key?: TupleKey) {
    super(`tuple write conflict: ${reason}`);
    this.name = "TupleWriteConflict";
    this.reason = reason;
    this.key = key;
  }
}

/**
 * Everything the authorization module persists. Contract: test/contract/authz-store.suite.ts,
 * run against every adapter.
 */
export interface AuthzStore extends TupleReader, TupleWriter {
  createStore(store: StoreRecord): Promise<void>;
  getStore(id: string): Promise<StoreRecord | undefined>;
  /** Stores of one tenant, oldest first, soft-deleted ones excluded; optional exact name filter. */
  listStores(
    tenantId: string,
    options: { limit: number; cursor?: string; name?: string },
  ): Promise<Page<StoreRecord>>;
  /** Soft delete; no-op when missing or already deleted. */
  deleteStore(id: string, at: number): Promise<void>;

  /** Models are immutable; `conflict` DomainError when the id exists. */
  writeModel(storeId: string, model: AuthorizationModel, at: number): Promise<void>;
  getModel(storeId: string, modelId: string): Promise<AuthorizationModel | undefined>;
  /** Newest first. */
  listModels(storeId: string, options: { limit: number; cursor?: string }): Promise<Page<AuthorizationModel>>;

  /** The Read API: stored tuples matching the filter, in a stable order, paginated. */
  readPage(
    storeId: string,
    filter: TupleFilter,
    options: { limit: number; cursor?: string },
  ): Promise<Page<Tuple>>;
  /** Changelog, oldest first; `objectType` filters by the object's type; `after` is a revision. */
  readChanges(
    storeId: string,
    options: { limit: number; cursor?: string; objectType?: string; startTime?: number },
  ): Promise<Page<TupleChange>>;
  /** The newest changelog revision of the store, or undefined when nothing was written yet. */
  headRevision(storeId: string): Promise<string | undefined>;

  writeAssertions(storeId: string, modelId: string, assertions: readonly Assertion[]): Promise<void>;
  readAssertions(storeId: string, modelId: string): Promise<Assertion[]>;
}
