/**
 * Keys, shards and attribute codecs of the DynamoDB AuthzStore's items. The item design and its
 * trade-offs are documented at the top of `../dynamodb.ts`.
 */
import { createHash } from "node:crypto";
import type { AttributeValue, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { StoreRecord, Tuple, TupleChange, TupleKey, TupleOperation } from "../../model.ts";
import type { TupleLookup } from "../../ports.ts";

export type Item = Record<string, AttributeValue>;

/** What the adapter's parts share: the client, the table and the read options. */
export interface TableContext {
  readonly client: DynamoDBClient;
  readonly table: string;
  /** Strongly consistent base-table reads. */
  readonly consistent: boolean;
  /** Cap on items per Query request (tests use a small one to exercise pagination). */
  readonly pageSize: number | undefined;
}

/** Tuple changes one write can apply: one TransactWriteItems action each, and DynamoDB allows 100. */
export const MAX_TUPLE_CHANGES = 100;
/** Shards of the reverse index (gsi1) per store, by user. Changing it needs a re-index. */
export const REVERSE_SHARDS = 16;
/** Shards of the change index (gsi2) per store, by tuple key. Changing it needs a re-index. */
export const CHANGE_SHARDS = 4;
/**
 * Approximate bytes of change history (`log`) a tuple item may hold before its next change first
 * moves the history to an archive item. Bounds the item (and every read of it) to about twice this
 * plus one change's condition.
 */
export const LOG_BYTES_CAP = 4096;

const shardOf = (s: string, shards: number) =>
  (createHash("sha256").update(s).digest()[0]! % shards).toString(16);

export const typeOf = (object: string) => object.slice(0, object.indexOf(":"));
const kindOf = (user: string) => (user.includes("#") ? "S" : user.endsWith(":*") ? "W" : "U");
export const tuplePk = (store: string, object: string) => `T#${store}#${object}`;
export const tupleSk = (relation: string, user: string) => `${relation}#${kindOf(user)}|${user}`;
export const reversePk = (store: string, user: string) => `R#${store}#${shardOf(user, REVERSE_SHARDS)}`;
export const reverseShardPk = (store: string, shard: number) => `R#${store}#${shard.toString(16)}`;
export const reverseSk = (k: TupleLookup) => `${k.user} ${typeOf(k.object)}#${k.relation}#${k.object}`;
export const changePk = (store: string, object: string, sk: string) =>
  `C#${store}#${shardOf(`${object}\n${sk}`, CHANGE_SHARDS)}`;
export const changeShardPk = (store: string, shard: number) => `C#${store}#${shard.toString(16)}`;
/** Archive items of one object's tuples live beside, not in, the object's tuple partition. */
export const archivePk = (store: string, object: string) => `H#${store}#${object}`;
export const archiveSk = (tupleSortKey: string, lastRevision: string) => `${tupleSortKey}#${lastRevision}`;
export const tupleKeyOf = (store: string, k: TupleLookup): Item => ({
  pk: { S: tuplePk(store, k.object) },
  sk: { S: tupleSk(k.relation, k.user) },
});
export const sameKey = (a: TupleLookup, b: TupleLookup) =>
  a.object === b.object && a.relation === b.relation && a.user === b.user;

/** Attribute names that are DynamoDB reserved words, for expressions that mention them. */
export const NAMES = { "#o": "object", "#r": "relation", "#u": "user" } as const;
/** The attributes a tuple read needs (not the history); `extra` adds key attributes for cursors. */
export const tupleProjection = (extra: readonly string[] = []) =>
  [...extra, "#o", "#r", "#u", "cond", "ts"].join(", ");

/** JSON with object keys sorted, so equal conditions serialise identically. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(",")}}`;
  }
  return JSON.stringify(v);
}
export const conditionId = (k: TupleKey) =>
  k.condition ? canonical({ name: k.condition.name, context: k.condition.context ?? {} }) : "";

export function toTuple(item: Item): Tuple {
  const cond = item.cond?.S;
  const key: TupleKey = {
    object: item.object?.S ?? "",
    relation: item.relation?.S ?? "",
    user: item.user?.S ?? "",
    ...(cond ? { condition: JSON.parse(cond) as TupleKey["condition"] } : {}),
  };
  return { key, timestamp: Number(item.ts?.N ?? "0") };
}

export function toStore(item: Item): StoreRecord {
  const deletedAt = item.deletedAt?.N;
  return {
    id: item.id?.S ?? "",
    tenantId: item.tenantId?.S ?? "",
    name: item.name?.S ?? "",
    createdAt: Number(item.createdAt?.N ?? "0"),
    updatedAt: Number(item.updatedAt?.N ?? "0"),
    ...(deletedAt === undefined ? {} : { deletedAt: Number(deletedAt) }),
  };
}

// ---- change history: `log` entries of tuple and archive items ----

/** One applied change of a tuple, as its item's `log` holds it. */
export interface LogEntry {
  readonly revision: string;
  readonly op: TupleOperation;
  /** Epoch ms of the write. */
  readonly ts: number;
  /** Canonical JSON of a written tuple's condition. */
  readonly cond?: string;
}

export const encodeEntry = (e: LogEntry): AttributeValue => ({
  M: {
    revision: { S: e.revision },
    op: { S: e.op },
    ts: { N: String(e.ts) },
    ...(e.cond ? { cond: { S: e.cond } } : {}),
  },
});

export function decodeEntries(log: AttributeValue | undefined): LogEntry[] {
  return (log?.L ?? []).map((v) => {
    const m = v.M ?? {};
    const cond = m.cond?.S;
    return {
      revision: m.revision?.S ?? "",
      op: m.op?.S === "delete" ? "delete" : "write",
      ts: Number(m.ts?.N ?? "0"),
      ...(cond ? { cond } : {}),
    };
  });
}

/** Approximate stored size of an entry (names, values, list and map overhead). */
export const entryBytes = (e: LogEntry) =>
  32 + e.revision.length + e.op.length + String(e.ts).length + (e.cond?.length ?? 0);

/** The change an entry records, keyed by the (tuple or archive) item that holds it. */
export function changeOf(item: Item, e: LogEntry): TupleChange {
  const key: TupleKey = {
    object: item.object?.S ?? "",
    relation: item.relation?.S ?? "",
    user: item.user?.S ?? "",
    ...(e.op === "write" && e.cond ? { condition: JSON.parse(e.cond) as TupleKey["condition"] } : {}),
  };
  return { key, operation: e.op, timestamp: e.ts, revision: e.revision };
}
