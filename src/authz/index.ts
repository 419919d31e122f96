/**
 * Public surface of the authorization module (OpenFGA-compatible ReBAC/RBAC engine). Everything
 * else under `src/authz/` is internal.
 */
export type {
  AuthzOptions,
  BatchCheckItem,
  BatchCheckRequest,
  BatchCheckResponse,
  BatchCheckResult,
  CheckItemError,
  CheckRequest,
  CheckResponse,
  CheckTupleKey,
  ConsistencyPreference,
  ExpandRequest,
  ExpandResponse,
  ListModelsResponse,
  ListObjectsRequest,
  ListObjectsResponse,
  ListStoresResponse,
  ListUser,
  ListUsersRequest,
  ListUsersResponse,
  ReadChangesRequest,
  ReadChangesResponse,
  ReadRequest,
  ReadResponse,
  UserTypeFilter,
  WriteRequest,
  WriteResponse,
} from "./api.ts";
export { parseDsl, parseModularDsl } from "./dsl.ts";
export {
  AuthzError,
  isAuthzError,
  OPENFGA_ERRORS,
  type OpenFgaErrorName,
  openFgaHttpStatus,
} from "./errors.ts";
export type { UsersetTree, UsersetTreeLeaf, UsersetTreeNode } from "./expand.ts";
export type { ExplainStep } from "./explain.ts";
export type {
  Assertion,
  AuthorizationModel,
  AuthorizationModelInput,
  Condition,
  RelationReference,
  StoreRecord,
  Tuple,
  TupleChange,
  TupleCondition,
  TupleKey,
  TypeDefinition,
  Userset,
} from "./model.ts";
export type { AuthzStore, SyncTupleReader, TupleReader, TupleWriter } from "./ports.ts";
export { AuthzService, type AuthzServiceDeps, createAuthzService } from "./service.ts";
export { validateModel } from "./validate-model.ts";
