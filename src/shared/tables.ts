/**
 * DynamoDB table definitions: the ONE place that says which tables exist, their keys, indexes and
 * TTL attribute. Used by the CDK stacks (`lib/`), by local table creation (DynamoDB Local, tests)
 * and by the adapters (attribute names). Access patterns per table are in docs/ARCHITECTURE.md.
 */
export type KeyType = "S" | "N" | "B";

export interface KeyDef {
  readonly name: string;
  readonly type: KeyType;
}

export interface IndexDef {
  readonly indexName: string;
  readonly partitionKey: KeyDef;
  readonly sortKey: KeyDef;
}

export interface TableDef {
  /** Logical id: the table's name suffix and the env var `TABLE_<ID>` in Lambda. */
  readonly id: TableId;
  readonly partitionKey: KeyDef;
  readonly sortKey: KeyDef;
  readonly globalSecondaryIndexes: readonly IndexDef[];
  /** Epoch-seconds attribute DynamoDB TTL deletes by; readers still check it (TTL is lazy). */
  readonly ttlAttribute: string;
}

export type TableId = "platform" | "authz" | "audit";

const pk: KeyDef = { name: "pk", type: "S" };
const sk: KeyDef = { name: "sk", type: "S" };
const gsi1: IndexDef = {
  indexName: "gsi1",
  partitionKey: { name: "gsi1pk", type: "S" },
  sortKey: { name: "gsi1sk", type: "S" },
};

/** Sparse change index of the authz table: tuple history by store shard and latest revision. */
const gsi2: IndexDef = {
  indexName: "gsi2",
  partitionKey: { name: "gsi2pk", type: "S" },
  sortKey: { name: "gsi2sk", type: "S" },
};

export const TTL_ATTRIBUTE = "expires_at";

/** Tenants, API keys, OAuth clients, users, sessions, keys: everything but tuples and audit. */
export const platformTable: TableDef = {
  id: "platform",
  partitionKey: pk,
  sortKey: sk,
  globalSecondaryIndexes: [gsi1],
  ttlAttribute: TTL_ATTRIBUTE,
};

/** Authorization stores, models, tuples (forward key + reverse index gsi1, change history gsi2). */
export const authzTable: TableDef = {
  id: "authz",
  partitionKey: pk,
  sortKey: sk,
  globalSecondaryIndexes: [gsi1, gsi2],
  ttlAttribute: TTL_ATTRIBUTE,
};

/** Audit events per tenant, by time, with secondary lookups. */
export const auditTable: TableDef = {
  id: "audit",
  partitionKey: pk,
  sortKey: sk,
  globalSecondaryIndexes: [gsi1],
  ttlAttribute: TTL_ATTRIBUTE,
};

export const TABLES: readonly TableDef[] = [platformTable, authzTable, auditTable];

/** Physical table name for a logical table, given a deployment prefix (e.g. `portcullis-prod`). */
export const tableName = (prefix: string, id: TableId): string => `${prefix}-${id}`;

/** Names of the physical tables, resolved once per container. */
export type TableNames = Readonly<Record<TableId, string>>;

export const tableNames = (prefix: string): TableNames => ({
  platform: tableName(prefix, "platform"),
  authz: tableName(prefix, "authz"),
  audit: tableName(prefix, "audit"),
});
