/**
 * DynamoDB AuthzStore on the `authz` table (pk/sk, one GSI gsi1pk/gsi1sk, see src/shared/tables.ts).
 *
 * ## Items
 * | item        | pk                       | sk                          | gsi1pk                | gsi1sk                                     |
 * |-------------|--------------------------|-----------------------------|-----------------------|--------------------------------------------|
 * | store       | `STORE#<storeId>`        | `STORE`                     | `TSTORES#<tenantId>`¹ | `<storeId>`¹                               |
 * | model       | `S#<storeId>#MODELS`     | `<modelId>`                 | –                     | –                                          |
 * | assertions  | `S#<storeId>#ASSERTIONS` | `<modelId>`                 | –                     | –                                          |
 * | changelog   | `S#<storeId>#CHANGES`    | `<last revision in item>`   | –                     | –                                          |
 * | tuple       | `T#<storeId>#<object>`   | `<relation>#<K>\|<user>`     | `R#<storeId>#<shard>` | `<user> <objectType>#<relation>#<object>`  |
 *
 * ¹ removed on soft delete, so the index is sparse and lists live stores only.
 * `K` is the user's form: `U` plain `type:id`, `W` wildcard `type:*`, `S` userset `type:id#rel`.
 * `shard` is one hex digit of SHA-256(user) (16 shards). Types and relations contain no `#` and no
 * user contains whitespace (grammar, also checked on write), so every prefix below is unambiguous.
 * Tuple attributes: `object`, `relation`, `user`, `cond` (canonical JSON of the condition), `ts`.
 * A model item holds the model JSON as one string (≤ 256 KiB, under the 400 KB item limit).
 * A changelog item holds the changes of one write (JSON list, each change with its own revision);
 * a write whose changes exceed ~300 KB spreads them over several changelog items.
 *
 * ## Access patterns
 * - getTuples: ONE BatchGetItem wave (100 keys per request, requests in parallel, UnprocessedKeys
 *   retried with backoff), keys `T#s#object` / `relation#K|user`.
 * - readTuples / readUsersetTuples: one Query per object#relation (`begins_with(sk, "rel#")` /
 *   `"rel#S|"`), all in parallel, each followed to its last page.
 * - readByUsers: one gsi1 Query per (query, user), in parallel: partition `R#s#shard(user)`,
 *   `begins_with(gsi1sk, "<user> <type>#<relation>#")`. Eventually consistent (GSI).
 * - readPage: by object (+relation, +user) → Query of the object's partition (strong); by user (+type,
 *   +relation) → one shard of gsi1; no filter → the 16 shards of gsi1 in order, the cursor
 *   remembering shard and key. Index reads are eventually consistent.
 * - write: ONE TransactWriteItems: per change a Put (`attribute_not_exists(pk)`) or Delete
 *   (`attribute_exists(pk)`), plus the changelog item(s) (`attribute_not_exists(pk)`). DynamoDB allows
 *   100 actions, so at most 99 applied tuple changes fit (see MAX_TUPLE_CHANGES). With
 *   onDuplicate/onMissing "ignore" the keys are read first (to tell identical from
 *   condition_mismatch); the transaction still carries the conditions, and a race retries.
 * - readChanges: Query `S#s#CHANGES` ascending from the cursor revision, exploding items and
 *   filtering type/start time in memory; at most 200 changelog items per call (a page may then be
 *   short but carries a cursor). headRevision: the same partition, newest item, Limit 1.
 * - stores per tenant: Query gsi1 `TSTORES#<tenantId>` (ULIDs: oldest first), name as a filter.
 *
 * ## Trade-offs
 * - Forward partitions are per object, so one Query serves object, object#relation and the Read
 *   API's object filters. The store-wide Read needs a store-level key; with one GSI and one item per
 *   tuple (a second copy would halve the per-transaction limit) the reverse index is keyed per store
 *   and sharded 16 ways by user. That caps a store's index write rate at ~16 GSI partitions (plus
 *   DynamoDB's split-for-heat); changing SHARDS needs a re-index.
 * - 100 actions per transaction: the changelog needs an item of its own (a deleted tuple leaves no
 *   item to carry its entry), so 100 tuple changes plus it do not fit: MAX_TUPLE_CHANGES = 99.
 * - Revisions are ULIDs from the writer; concurrent writers in different processes can commit
 *   slightly out of revision order, so a reader polling readChanges at the very head could skip a
 *   late commit. Callers that need exactness should read up to a horizon a few seconds behind now.
 */
import { createHash } from "node:crypto";
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import {
  batchGetItems,
  cancellationCodes,
  dynamoErrorName,
  type PartitionQuery,
  putIfAbsent,
  queryAll,
  queryPage,
} from "../../shared/dynamodb.ts";
import { validationError } from "../../shared/errors.ts";
import type { Assertion, AuthorizationModel, StoreRecord, Tuple, TupleChange, TupleKey } from "../model.ts";
import {
  type AuthzStore,
  type ObjectRelationQuery,
  type Page,
  type ReverseQuery,
  type TupleFilter,
  type TupleLookup,
  TupleWriteConflict,
  type WriteRequest,
} from "../ports.ts";

type Item = Record<string, AttributeValue>;

/** Applied tuple changes one write can hold: 100 transaction actions minus the changelog item. */
export const MAX_TUPLE_CHANGES = 99;
const SHARDS = 16;
const CHANGELOG_ITEM_BYTES = 300_000;
const CHANGES_SCAN_BUDGET = 200;

const typeOf = (object: string) => object.slice(0, object.indexOf(":"));
const kindOf = (user: string) => (user.includes("#") ? "S" : user.endsWith(":*") ? "W" : "U");
const shardOf = (user: string) => (createHash("sha256").update(user).digest()[0]! % SHARDS).toString(16);
const tuplePk = (store: string, object: string) => `T#${store}#${object}`;
const tupleSk = (relation: string, user: string) => `${relation}#${kindOf(user)}|${user}`;
const reversePk = (store: string, user: string) => `R#${store}#${shardOf(user)}`;
const tupleKeyOf = (store: string, k: TupleLookup): Item => ({
  pk: { S: tuplePk(store, k.object) },
  sk: { S: tupleSk(k.relation, k.user) },
});
const sameKey = (a: TupleLookup, b: TupleLookup) =>
  a.object === b.object && a.relation === b.relation && a.user === b.user;

/** JSON with object keys sorted, so equal conditions serialise identically. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(",")}}`;
  }
  return JSON.stringify(v);
}
const conditionId = (k: TupleKey) =>
  k.condition ? canonical({ name: k.condition.name, context: k.condition.context ?? {} }) : "";

function toTuple(item: Item): Tuple {
  const cond = item.cond?.S;
  const key: TupleKey = {
    object: item.object?.S ?? "",
    relation: item.relation?.S ?? "",
    user: item.user?.S ?? "",
    ...(cond ? { condition: JSON.parse(cond) as TupleKey["condition"] } : {}),
  };
  return { key, timestamp: Number(item.ts?.N ?? "0") };
}

function toStore(item: Item): StoreRecord {
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

/** Options of {@link DynamoDbAuthzStore}. */
export interface DynamoDbAuthzStoreOptions {
  /** Strongly consistent base-table reads (tuples, changelog head). @default true */
  readonly consistentRead?: boolean;
  /** Cap on items per Query request (tests use a small one to exercise pagination). */
  readonly queryPageSize?: number;
}

/** AuthzStore on DynamoDB; the item design is documented at the top of this file. */
export class DynamoDbAuthzStore implements AuthzStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #consistent: boolean;
  readonly #pageSize: number | undefined;

  constructor(client: DynamoDBClient, tableName: string, options: DynamoDbAuthzStoreOptions = {}) {
    this.#client = client;
    this.#table = tableName;
    this.#consistent = options.consistentRead ?? true;
    this.#pageSize = options.queryPageSize;
  }

  #page(queries: readonly PartitionQuery[], options: { limit: number; cursor?: string }) {
    return queryPage(this.#client, queries, {
      ...options,
      ...(this.#pageSize ? { pageSize: this.#pageSize } : {}),
    });
  }

  #queryAll(input: Omit<QueryCommandInput, "TableName">): Promise<Item[]> {
    return queryAll(this.#client, { TableName: this.#table, ...input }, this.#pageSize);
  }

  // ---- stores ----

  async createStore(store: StoreRecord): Promise<void> {
    const live = store.deletedAt === undefined;
    const item: Item = {
      pk: { S: `STORE#${store.id}` },
      sk: { S: "STORE" },
      ...(live ? { gsi1pk: { S: `TSTORES#${store.tenantId}` }, gsi1sk: { S: store.id } } : {}),
      id: { S: store.id },
      tenantId: { S: store.tenantId },
      name: { S: store.name },
      createdAt: { N: String(store.createdAt) },
      updatedAt: { N: String(store.updatedAt) },
      ...(live ? {} : { deletedAt: { N: String(store.deletedAt) } }),
    };
    await putIfAbsent(this.#client, this.#table, item, "Store already exists.");
  }

  async getStore(id: string): Promise<StoreRecord | undefined> {
    const item = await this.#get({ pk: { S: `STORE#${id}` }, sk: { S: "STORE" } });
    return item && toStore(item);
  }

  async listStores(
    tenantId: string,
    options: { limit: number; cursor?: string; name?: string },
  ): Promise<Page<StoreRecord>> {
    const gsi1pk = `TSTORES#${tenantId}`;
    const named = options.name !== undefined;
    const r = await this.#page(
      [
        {
          input: {
            TableName: this.#table,
            IndexName: "gsi1",
            KeyConditionExpression: "gsi1pk = :p",
            ExpressionAttributeValues: {
              ":p": { S: gsi1pk },
              ...(named ? { ":n": { S: options.name! } } : {}),
            },
            ...(named ? { FilterExpression: "#n = :n", ExpressionAttributeNames: { "#n": "name" } } : {}),
          },
          partition: ["gsi1pk", gsi1pk],
          keyNames: ["pk", "sk", "gsi1pk", "gsi1sk"],
        },
      ],
      options,
    );
    return { items: r.items.map(toStore), ...(r.cursor ? { cursor: r.cursor } : {}) };
  }

  async deleteStore(id: string, at: number): Promise<void> {
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { pk: { S: `STORE#${id}` }, sk: { S: "STORE" } },
          UpdateExpression: "SET deletedAt = :at, updatedAt = :at REMOVE gsi1pk, gsi1sk",
          ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(deletedAt)",
          ExpressionAttributeValues: { ":at": { N: String(at) } },
        }),
      );
    } catch (e) {
      if (dynamoErrorName(e) !== "ConditionalCheckFailedException") throw e;
    }
  }

  // ---- models and assertions ----

  async writeModel(storeId: string, model: AuthorizationModel, at: number): Promise<void> {
    await putIfAbsent(
      this.#client,
      this.#table,
      {
        pk: { S: `S#${storeId}#MODELS` },
        sk: { S: model.id },
        model: { S: JSON.stringify(model) },
        createdAt: { N: String(at) },
      },
      "Model already exists.",
    );
  }

  async getModel(storeId: string, modelId: string): Promise<AuthorizationModel | undefined> {
    const item = await this.#get({ pk: { S: `S#${storeId}#MODELS` }, sk: { S: modelId } });
    return item?.model?.S ? (JSON.parse(item.model.S) as AuthorizationModel) : undefined;
  }

  async listModels(
    storeId: string,
    options: { limit: number; cursor?: string },
  ): Promise<Page<AuthorizationModel>> {
    const pk = `S#${storeId}#MODELS`;
    const r = await this.#page(
      [
        {
          input: {
            TableName: this.#table,
            KeyConditionExpression: "pk = :p",
            ExpressionAttributeValues: { ":p": { S: pk } },
            ScanIndexForward: false,
            ConsistentRead: this.#consistent,
          },
          partition: ["pk", pk],
          keyNames: ["pk", "sk"],
        },
      ],
      options,
    );
    const items = r.items.map((i) => JSON.parse(i.model?.S ?? "{}") as AuthorizationModel);
    return { items, ...(r.cursor ? { cursor: r.cursor } : {}) };
  }

  async writeAssertions(storeId: string, modelId: string, assertions: readonly Assertion[]): Promise<void> {
    await this.#client.send(
      new PutItemCommand({
        TableName: this.#table,
        Item: {
          pk: { S: `S#${storeId}#ASSERTIONS` },
          sk: { S: modelId },
          assertions: { S: JSON.stringify(assertions) },
        },
      }),
    );
  }

  async readAssertions(storeId: string, modelId: string): Promise<Assertion[]> {
    const item = await this.#get({ pk: { S: `S#${storeId}#ASSERTIONS` }, sk: { S: modelId } });
    return item?.assertions?.S ? (JSON.parse(item.assertions.S) as Assertion[]) : [];
  }

  // ---- TupleReader: each method is one wave of requests ----

  async getTuples(storeId: string, lookups: readonly TupleLookup[]): Promise<(Tuple | undefined)[]> {
    const keys = lookups.map((l) => tupleKeyOf(storeId, l));
    const found = await batchGetItems(this.#client, this.#table, keys, {
      consistentRead: this.#consistent,
      projection: {
        expression: "#o, #r, #u, cond, ts",
        names: { "#o": "object", "#r": "relation", "#u": "user" },
      },
    });
    return keys.map((k) => {
      const item = found.get(`${k.pk?.S}\n${k.sk?.S}`);
      return item && toTuple(item);
    });
  }

  /** One Query per distinct (partition, prefix), followed to its end; `runs` shares them in a batch. */
  #prefixQuery(
    runs: Map<string, Promise<Tuple[]>>,
    index: boolean,
    pk: string,
    prefix: string,
  ): Promise<Tuple[]> {
    const id = `${index}\n${pk}\n${prefix}`;
    let run = runs.get(id);
    if (!run) {
      const [p, s] = index ? ["gsi1pk", "gsi1sk"] : ["pk", "sk"];
      run = this.#queryAll({
        ...(index ? { IndexName: "gsi1" } : { ConsistentRead: this.#consistent }),
        KeyConditionExpression: `${p} = :p AND begins_with(${s}, :s)`,
        ExpressionAttributeValues: { ":p": { S: pk }, ":s": { S: prefix } },
      }).then((items) => items.map(toTuple));
      runs.set(id, run);
    }
    return run;
  }

  readUsersetTuples(storeId: string, queries: readonly ObjectRelationQuery[]): Promise<Tuple[][]> {
    const runs = new Map<string, Promise<Tuple[]>>();
    return Promise.all(
      queries.map((q) => this.#prefixQuery(runs, false, tuplePk(storeId, q.object), `${q.relation}#S|`)),
    );
  }

  readTuples(storeId: string, queries: readonly ObjectRelationQuery[]): Promise<Tuple[][]> {
    const runs = new Map<string, Promise<Tuple[]>>();
    return Promise.all(
      queries.map((q) => this.#prefixQuery(runs, false, tuplePk(storeId, q.object), `${q.relation}#`)),
    );
  }

  readByUsers(storeId: string, queries: readonly ReverseQuery[]): Promise<Tuple[][]> {
    const runs = new Map<string, Promise<Tuple[]>>();
    const one = (q: ReverseQuery, user: string) =>
      this.#prefixQuery(runs, true, reversePk(storeId, user), `${user} ${q.objectType}#${q.relation}#`);
    return Promise.all(queries.map(async (q) => (await Promise.all(q.users.map((u) => one(q, u)))).flat()));
  }

  // ---- Read API, changelog ----

  async readPage(
    storeId: string,
    filter: TupleFilter,
    options: { limit: number; cursor?: string },
  ): Promise<Page<Tuple>> {
    const r = await this.#page(this.#readQueries(storeId, filter), options);
    return { items: r.items.map(toTuple), ...(r.cursor ? { cursor: r.cursor } : {}) };
  }

  /** Picks the partition(s) for a Read filter; remaining criteria become a FilterExpression. */
  #readQueries(storeId: string, f: TupleFilter): readonly PartitionQuery[] {
    const objectType = f.object?.endsWith(":") ? f.object.slice(0, -1) : undefined;
    const names: Record<string, string> = {};
    const values: Item = {};
    const filters: string[] = [];
    const where = (attr: string, op: "=" | "begins_with", value: string) => {
      names[`#${attr}`] = attr;
      values[`:${attr}`] = { S: value };
      filters.push(op === "=" ? `#${attr} = :${attr}` : `begins_with(#${attr}, :${attr})`);
    };
    const finish = (input: Omit<QueryCommandInput, "TableName">): QueryCommandInput => ({
      TableName: this.#table,
      ...input,
      ExpressionAttributeValues: { ...input.ExpressionAttributeValues, ...values },
      ...(filters.length ? { FilterExpression: filters.join(" AND "), ExpressionAttributeNames: names } : {}),
    });
    if (f.object !== undefined && objectType === undefined) {
      const pk = tuplePk(storeId, f.object);
      let sk = "";
      if (f.relation !== undefined)
        sk = f.user !== undefined ? tupleSk(f.relation, f.user) : `${f.relation}#`;
      else if (f.user !== undefined) where("user", "=", f.user);
      const exact = f.user !== undefined && f.relation !== undefined;
      const input = finish({
        KeyConditionExpression: sk ? `pk = :p AND ${exact ? "sk = :s" : "begins_with(sk, :s)"}` : "pk = :p",
        ExpressionAttributeValues: { ":p": { S: pk }, ...(sk ? { ":s": { S: sk } } : {}) },
        ConsistentRead: this.#consistent,
      });
      return [{ input, partition: ["pk", pk], keyNames: ["pk", "sk"] }];
    }
    const keyNames = ["pk", "sk", "gsi1pk", "gsi1sk"];
    const index = (pk: string, prefix: string) =>
      finish({
        IndexName: "gsi1",
        KeyConditionExpression: prefix ? "gsi1pk = :p AND begins_with(gsi1sk, :s)" : "gsi1pk = :p",
        ExpressionAttributeValues: { ":p": { S: pk }, ...(prefix ? { ":s": { S: prefix } } : {}) },
      });
    if (f.user !== undefined) {
      let prefix = `${f.user} `;
      if (objectType !== undefined) {
        prefix += `${objectType}#`;
        if (f.relation !== undefined) prefix += `${f.relation}#`;
      } else if (f.relation !== undefined) where("relation", "=", f.relation);
      const pk = reversePk(storeId, f.user);
      return [{ input: index(pk, prefix), partition: ["gsi1pk", pk], keyNames }];
    }
    if (objectType !== undefined) where("object", "begins_with", `${objectType}:`);
    if (f.relation !== undefined) where("relation", "=", f.relation);
    return Array.from({ length: SHARDS }, (_, s) => {
      const pk = `R#${storeId}#${s.toString(16)}`;
      return { input: index(pk, ""), partition: ["gsi1pk", pk] as const, keyNames };
    });
  }

  async readChanges(
    storeId: string,
    options: { limit: number; cursor?: string; objectType?: string; startTime?: number },
  ): Promise<Page<TupleChange>> {
    const after = options.cursor;
    if (after !== undefined && !/^[0-9A-Za-z]{1,64}$/.test(after))
      throw validationError("Invalid continuation token.");
    const limit = Math.max(1, Math.floor(options.limit));
    const keep = (c: TupleChange) =>
      (after === undefined || c.revision > after) &&
      (options.objectType === undefined || typeOf(c.key.object) === options.objectType) &&
      (after !== undefined || options.startTime === undefined || c.timestamp >= options.startTime);
    const out: TupleChange[] = [];
    let esk: Item | undefined;
    let scanned = 0;
    let lastScanned: string | undefined;
    let more = false;
    do {
      const r = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: after === undefined ? "pk = :p" : "pk = :p AND sk > :a",
          ExpressionAttributeValues: {
            ":p": { S: `S#${storeId}#CHANGES` },
            ...(after === undefined ? {} : { ":a": { S: after } }),
          },
          ConsistentRead: this.#consistent,
          ...(this.#pageSize ? { Limit: this.#pageSize } : {}),
          ...(esk ? { ExclusiveStartKey: esk } : {}),
        }),
      );
      const items = r.Items ?? [];
      for (const [i, item] of items.entries()) {
        scanned++;
        lastScanned = item.sk?.S;
        out.push(...(JSON.parse(item.changes?.S ?? "[]") as TupleChange[]).filter(keep));
        more = i < items.length - 1;
        if (out.length > limit || scanned >= CHANGES_SCAN_BUDGET) break;
      }
      esk = r.LastEvaluatedKey;
      more ||= esk !== undefined;
    } while (esk && out.length <= limit && scanned < CHANGES_SCAN_BUDGET);
    if (out.length > limit) return { items: out.slice(0, limit), cursor: out[limit - 1]!.revision };
    // Scan budget spent with more to read: hand back a cursor past what was examined.
    if (more && lastScanned) return { items: out, cursor: lastScanned };
    return { items: out };
  }

  async headRevision(storeId: string): Promise<string | undefined> {
    const r = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        KeyConditionExpression: "pk = :p",
        ExpressionAttributeValues: { ":p": { S: `S#${storeId}#CHANGES` } },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: this.#consistent,
        ProjectionExpression: "sk",
      }),
    );
    return r.Items?.[0]?.sk?.S;
  }

  // ---- TupleWriter ----

  async write(
    storeId: string,
    request: WriteRequest,
    at: number,
    revisions: () => string,
  ): Promise<{ revision: string }> {
    const all = [...request.deletes, ...request.writes];
    for (const [i, k] of all.entries()) {
      if (/\s/.test(k.object + k.relation + k.user) || !k.object.includes(":")) {
        throw validationError("Tuple keys must be `type:id` objects without whitespace.");
      }
      if (all.findIndex((o) => sameKey(o, k)) !== i)
        throw validationError("A tuple appears twice in one write.");
    }
    const preRead = request.onDuplicate === "ignore" || request.onMissing === "ignore";
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = preRead ? await this.getTuples(storeId, all) : [];
      const plan: { key: TupleKey; op: "delete" | "write" }[] = [];
      request.deletes.forEach((k, i) => {
        if (preRead && !existing[i]) {
          if (request.onMissing === "error") throw new TupleWriteConflict("missing", k);
        } else plan.push({ key: { object: k.object, relation: k.relation, user: k.user }, op: "delete" });
      });
      request.writes.forEach((k, i) => {
        const found = existing[request.deletes.length + i];
        if (!found) plan.push({ key: k, op: "write" });
        else if (request.onDuplicate === "error") throw new TupleWriteConflict("duplicate", k);
        else if (conditionId(found.key) !== conditionId(k))
          throw new TupleWriteConflict("condition_mismatch", k);
      });
      if (plan.length === 0) return { revision: (await this.headRevision(storeId)) ?? "" };
      const changes: TupleChange[] = plan.map((p) => ({
        key: p.key,
        operation: p.op,
        timestamp: at,
        revision: revisions(),
      }));
      const actions = [
        ...plan.map((p) => this.#tupleAction(storeId, p.key, p.op, at)),
        ...this.#changelog(storeId, changes),
      ];
      if (actions.length > 100) {
        throw validationError(`A write can apply at most ${MAX_TUPLE_CHANGES} tuple changes on this store.`);
      }
      try {
        await this.#client.send(new TransactWriteItemsCommand({ TransactItems: actions }));
        return { revision: changes.at(-1)!.revision };
      } catch (e) {
        const codes = cancellationCodes(e);
        if (!codes) throw e;
        const failed = codes.indexOf("ConditionalCheckFailed");
        const step = plan[failed];
        // Without a pre-read the condition that failed is the answer; with one, state changed: retry.
        if (step && !preRead)
          throw new TupleWriteConflict(step.op === "delete" ? "missing" : "duplicate", step.key);
        if (failed >= plan.length) throw new TupleWriteConflict("concurrent");
        if (!step && !codes.includes("TransactionConflict")) throw e;
      }
    }
    throw new TupleWriteConflict("concurrent");
  }

  #tupleAction(storeId: string, key: TupleKey, op: "delete" | "write", at: number): TransactWriteItem {
    const Key = tupleKeyOf(storeId, key);
    if (op === "delete") {
      return { Delete: { TableName: this.#table, Key, ConditionExpression: "attribute_exists(pk)" } };
    }
    const cond = key.condition ? canonical(key.condition) : "";
    const Item: Item = {
      ...Key,
      gsi1pk: { S: reversePk(storeId, key.user) },
      gsi1sk: { S: `${key.user} ${typeOf(key.object)}#${key.relation}#${key.object}` },
      object: { S: key.object },
      relation: { S: key.relation },
      user: { S: key.user },
      ts: { N: String(at) },
      ...(cond ? { cond: { S: cond } } : {}),
    };
    return { Put: { TableName: this.#table, Item, ConditionExpression: "attribute_not_exists(pk)" } };
  }

  /** Changelog item(s) of one write: as few as fit under the item size limit, keyed by last revision. */
  #changelog(storeId: string, changes: TupleChange[]): TransactWriteItem[] {
    const groups: TupleChange[][] = [[]];
    let size = 0;
    for (const c of changes) {
      const n = Buffer.byteLength(JSON.stringify(c));
      if (size + n > CHANGELOG_ITEM_BYTES && groups.at(-1)!.length > 0) {
        groups.push([]);
        size = 0;
      }
      groups.at(-1)!.push(c);
      size += n;
    }
    return groups.map((g) => ({
      Put: {
        TableName: this.#table,
        Item: {
          pk: { S: `S#${storeId}#CHANGES` },
          sk: { S: g.at(-1)!.revision },
          changes: { S: JSON.stringify(g) },
        },
        ConditionExpression: "attribute_not_exists(pk)",
      },
    }));
  }

  async #get(Key: Item): Promise<Item | undefined> {
    const r = await this.#client.send(
      new GetItemCommand({ TableName: this.#table, Key, ConsistentRead: this.#consistent }),
    );
    return r.Item;
  }
}
