/**
 * Tuple reads of the DynamoDB AuthzStore: the engine's batch reads (`TupleReader`) and the Read
 * API's partition choice. Every read skips tombstones: point reads drop items with `deleted`, base
 * table Queries filter them out, and the reverse index (gsi1) never holds them. Design: `../dynamodb.ts`.
 */
import type { QueryCommandInput } from "@aws-sdk/client-dynamodb";
import { batchGetItems, type PartitionQuery, queryAll } from "../../../shared/dynamodb.ts";
import type { Tuple } from "../../model.ts";
import type { ObjectRelationQuery, ReverseQuery, TupleFilter, TupleLookup } from "../../ports.ts";
import {
  type Item,
  NAMES,
  REVERSE_SHARDS,
  reversePk,
  reverseShardPk,
  type TableContext,
  toTuple,
  tupleKeyOf,
  tuplePk,
  tupleProjection,
  tupleSk,
} from "./items.ts";

const LIVE = "attribute_not_exists(deleted)";

/** Exact point reads: ONE BatchGetItem wave; tombstones read as absent. */
export async function getTuples(
  ctx: TableContext,
  storeId: string,
  lookups: readonly TupleLookup[],
): Promise<(Tuple | undefined)[]> {
  const keys = lookups.map((l) => tupleKeyOf(storeId, l));
  const found = await batchGetItems(ctx.client, ctx.table, keys, {
    consistentRead: ctx.consistent,
    projection: { expression: `${tupleProjection()}, deleted`, names: NAMES },
  });
  return keys.map((k) => {
    const item = found.get(`${k.pk?.S}\n${k.sk?.S}`);
    return item && item.deleted === undefined ? toTuple(item) : undefined;
  });
}

/**
 * The engine's batch Queries: one Query per distinct (partition, prefix), each followed to its end
 * (filtered pages may be empty yet carry LastEvaluatedKey), all in parallel; a batch shares them.
 */
export class PrefixQueries {
  readonly #ctx: TableContext;
  readonly #runs = new Map<string, Promise<Tuple[]>>();
  constructor(ctx: TableContext) {
    this.#ctx = ctx;
  }

  run(index: boolean, pk: string, prefix: string): Promise<Tuple[]> {
    const id = `${index}\n${pk}\n${prefix}`;
    let run = this.#runs.get(id);
    if (!run) {
      const [p, s] = index ? ["gsi1pk", "gsi1sk"] : ["pk", "sk"];
      const input: QueryCommandInput = {
        TableName: this.#ctx.table,
        ...(index ? { IndexName: "gsi1" } : { ConsistentRead: this.#ctx.consistent, FilterExpression: LIVE }),
        KeyConditionExpression: `${p} = :p AND begins_with(${s}, :s)`,
        ExpressionAttributeValues: { ":p": { S: pk }, ":s": { S: prefix } },
        ProjectionExpression: tupleProjection(),
        ExpressionAttributeNames: NAMES,
      };
      run = queryAll(this.#ctx.client, input, this.#ctx.pageSize).then((items) => items.map(toTuple));
      this.#runs.set(id, run);
    }
    return run;
  }
}

export function readUsersetTuples(
  ctx: TableContext,
  storeId: string,
  queries: readonly ObjectRelationQuery[],
) {
  const runs = new PrefixQueries(ctx);
  return Promise.all(queries.map((q) => runs.run(false, tuplePk(storeId, q.object), `${q.relation}#S|`)));
}

export function readTuples(ctx: TableContext, storeId: string, queries: readonly ObjectRelationQuery[]) {
  const runs = new PrefixQueries(ctx);
  return Promise.all(queries.map((q) => runs.run(false, tuplePk(storeId, q.object), `${q.relation}#`)));
}

export function readByUsers(ctx: TableContext, storeId: string, queries: readonly ReverseQuery[]) {
  const runs = new PrefixQueries(ctx);
  const one = (q: ReverseQuery, user: string) =>
    runs.run(true, reversePk(storeId, user), `${user} ${q.objectType}#${q.relation}#`);
  return Promise.all(queries.map(async (q) => (await Promise.all(q.users.map((u) => one(q, u)))).flat()));
}

/**
 * Picks the partition(s) for a Read API filter: the object's partition (strong, tombstones filtered
 * out), one reverse-index shard (by user) or all of them in order; the rest becomes a FilterExpression.
 */
export function readQueries(ctx: TableContext, storeId: string, f: TupleFilter): readonly PartitionQuery[] {
  const objectType = f.object?.endsWith(":") ? f.object.slice(0, -1) : undefined;
  const values: Item = {};
  const filters: string[] = [];
  const where = (attr: "#o" | "#r" | "#u", op: "=" | "begins_with", value: string) => {
    const v = `:${attr.slice(1)}`;
    values[v] = { S: value };
    filters.push(op === "=" ? `${attr} = ${v}` : `begins_with(${attr}, ${v})`);
  };
  const finish = (
    input: Omit<QueryCommandInput, "TableName">,
    keys: readonly string[],
  ): QueryCommandInput => ({
    TableName: ctx.table,
    ...input,
    ExpressionAttributeValues: { ...input.ExpressionAttributeValues, ...values },
    ExpressionAttributeNames: NAMES,
    ProjectionExpression: tupleProjection(keys),
    ...(filters.length ? { FilterExpression: filters.join(" AND ") } : {}),
  });
  if (f.object !== undefined && objectType === undefined) {
    const pk = tuplePk(storeId, f.object);
    let sk = "";
    if (f.relation !== undefined) sk = f.user !== undefined ? tupleSk(f.relation, f.user) : `${f.relation}#`;
    else if (f.user !== undefined) where("#u", "=", f.user);
    filters.push(LIVE);
    const exact = f.user !== undefined && f.relation !== undefined;
    const keyNames = ["pk", "sk"];
    const input = finish(
      {
        KeyConditionExpression: sk ? `pk = :p AND ${exact ? "sk = :s" : "begins_with(sk, :s)"}` : "pk = :p",
        ExpressionAttributeValues: { ":p": { S: pk }, ...(sk ? { ":s": { S: sk } } : {}) },
        ConsistentRead: ctx.consistent,
      },
      keyNames,
    );
    return [{ input, partition: ["pk", pk], keyNames }];
  }
  const keyNames = ["pk", "sk", "gsi1pk", "gsi1sk"];
  const index = (pk: string, prefix: string) =>
    finish(
      {
        IndexName: "gsi1",
        KeyConditionExpression: prefix ? "gsi1pk = :p AND begins_with(gsi1sk, :s)" : "gsi1pk = :p",
        ExpressionAttributeValues: { ":p": { S: pk }, ...(prefix ? { ":s": { S: prefix } } : {}) },
      },
      keyNames,
    );
  if (f.user !== undefined) {
    let prefix = `${f.user} `;
    if (objectType !== undefined) {
      prefix += `${objectType}#`;
      if (f.relation !== undefined) prefix += `${f.relation}#`;
    } else if (f.relation !== undefined) where("#r", "=", f.relation);
    const pk = reversePk(storeId, f.user);
    return [{ input: index(pk, prefix), partition: ["gsi1pk", pk], keyNames }];
  }
  if (objectType !== undefined) where("#o", "begins_with", `${objectType}:`);
  if (f.relation !== undefined) where("#r", "=", f.relation);
  return Array.from({ length: REVERSE_SHARDS }, (_, s) => {
    const pk = reverseShardPk(storeId, s);
    return { input: index(pk, ""), partition: ["gsi1pk", pk] as const, keyNames };
  });
}
