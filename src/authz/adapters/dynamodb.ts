/**
 * DynamoDB AuthzStore on the `authz` table (pk/sk; GSIs gsi1 and gsi2, see src/shared/tables.ts).
 * The parts live in `./dynamodb/`: `items.ts` (keys, codecs), `tuple-reader.ts`, `tuple-writer.ts`,
 * `changelog.ts`; this class wires them and holds stores, models and assertions.
 *
 * ## Items
 * | item       | pk                       | sk                           | indexes     |
 * |------------|--------------------------|------------------------------|-------------|
 * | store      | `STORE#<storeId>`        | `STORE`                      | gsi1¹       |
 * | model      | `S#<storeId>#MODELS`     | `<modelId>`                  | –           |
 * | assertions | `S#<storeId>#ASSERTIONS` | `<modelId>`                  | –           |
 * | tuple      | `T#<storeId>#<object>`   | `<relation>#<K>\|<user>`     | gsi1², gsi2 |
 * | archive    | `H#<storeId>#<object>`   | `<tuple sk>#<last revision>` | gsi2        |
 *
 * - gsi1 (pk / sk): store `TSTORES#<tenantId>` / `<storeId>`; tuple `R#<storeId>#<rshard>` /
 *   `<user> <objectType>#<relation>#<object>`.
 * - gsi2 (pk / sk): tuple and archive `C#<storeId>#<cshard>` / the revision of the newest entry the
 *   item's history ever had (a tuple: its latest change; an archive: its last entry).
 *
 * ¹ removed on soft delete, so the index is sparse and lists live stores only.
 * ² removed when the tuple is deleted (tombstone), so gsi1 holds live tuples only.
 * `K` is the user's form: `U` plain `type:id`, `W` wildcard `type:*`, `S` userset `type:id#rel`.
 * `rshard` is one hex digit of SHA-256(user) (16 shards); `cshard` is SHA-256(object, tuple sk) mod 4.
 * Types and relations contain no `#` and no user contains whitespace (grammar, also checked on
 * write), so every prefix below is unambiguous. A model item holds the model JSON as one string
 * (≤ 256 KiB, under the 400 KB item limit).
 *
 * A tuple item is the tuple's whole life, one item per key ever written:
 * - live: `object`, `relation`, `user`, `cond` (canonical JSON of the condition), `ts` (written at);
 * - tombstone (deleted): `deleted` = the delete's revision, `ts` = deleted at; no `cond`, no gsi1 keys;
 * - both: `log`, the key's change history: a list of `{revision, op, ts, cond?}` (`cond` on writes),
 *   oldest first; `logb`, its approximate size in bytes; `gsi2sk`, the newest entry's revision;
 *   `archived`, the last revision moved to an archive item (absent until the first archive).
 * An archive item holds one moved `log` (entries after its `prev` up to its last revision) plus
 * `object`, `relation`, `user`, so it reads like the tuple's history.
 *
 * ## Access patterns
 * - getTuples: ONE BatchGetItem wave (100 keys per request, requests in parallel, UnprocessedKeys
 *   retried with backoff), keys `T#s#object` / `relation#K|user`; items with `deleted` are absent.
 * - readTuples / readUsersetTuples: one Query per object#relation (`begins_with(sk, "rel#")` /
 *   `"rel#S|"`, FilterExpression `attribute_not_exists(deleted)`), all in parallel, each followed
 *   to its last page (a filtered page may be empty and still carry LastEvaluatedKey).
 * - readByUsers: one gsi1 Query per (query, user), in parallel: partition `R#s#shard(user)`,
 *   `begins_with(gsi1sk, "<user> <type>#<relation>#")`. Eventually consistent (GSI); no tombstones.
 * - readPage: by object (+relation, +user) → Query of the object's partition (strong, tombstones
 *   filtered); by user (+type, +relation) → one shard of gsi1; no filter → the 16 shards of gsi1 in
 *   order, the cursor remembering shard and key. Index reads are eventually consistent.
 * - write: ONE TransactWriteItems, ONE UpdateItem per tuple change, so 100 changes fit
 *   (MAX_TUPLE_CHANGES). A write SETs the tuple attributes, gsi1 and gsi2 keys and REMOVEs `deleted`,
 *   condition `attribute_not_exists(pk) OR attribute_exists(deleted)`; a delete SETs `deleted`, REMOVEs
 *   `cond` and the gsi1 keys, condition `attribute_exists(pk) AND attribute_not_exists(deleted)`. Both
 *   append their entry (`log = list_append(if_not_exists(log, []), [entry])`), add to `logb`, set
 *   `gsi2sk` to their revision and require `logb < LOG_BYTES_CAP`. The conditions make duplicate and
 *   missing detection race-free. A refused condition returns the old item (ALL_OLD), which tells
 *   duplicate/missing from "history full": then the item's log is archived (below) and the write
 *   retried. With onDuplicate/onMissing "ignore" the keys are read first (identical write = no-op,
 *   other condition = condition_mismatch); the transaction still carries the conditions, and a race
 *   plans again (3 attempts, then "concurrent").
 * - archive (rare: once per ~4 KB of one key's history): ONE TransactWriteItems of 2 actions: Put the
 *   archive item (`attribute_not_exists(pk)`), and on the tuple item SET `log = []`, `logb = 0`,
 *   `archived = <last revision>`, condition `gsi2sk = <latest revision read>` (unchanged since read).
 * - readChanges after revision R: Query gsi2 `C#s#<shard>`, `gsi2sk > R`, ascending, the 4 shards in
 *   parallel and each to its end; explode each item's `log` entries after R, keep the `limit`
 *   earliest (bounded memory, duplicates by revision dropped), filter type (FilterExpression on
 *   `object`) and start time (in memory). Then, for tuple items whose `archived` > R, walk the archive
 *   chain (`prev`) back to R; links the index does not show yet (it is updated per item, after the
 *   commit) are read with a strong GetItem, normally none. Cursor: the last revision returned plus a
 *   tag bound to the store (a tagged cursor of another store is refused; a bare revision, the service's
 *   end-of-stream token, positions within this store only). headRevision: the newest item of each gsi2
 *   shard (4 parallel Queries, Limit 1). Both are eventually consistent (GSI).
 * - stores per tenant: Query gsi1 `TSTORES#<tenantId>` (ULIDs: oldest first), name as a filter.
 *
 * ## Trade-offs
 * - Forward partitions are per object, so one Query serves object, object#relation and the Read
 *   API's object filters. The store-wide Read needs a store-level key; with one item per tuple the
 *   reverse index is keyed per store and sharded 16 ways by user, which caps a store's index write
 *   rate at ~16 GSI partitions (plus DynamoDB's split-for-heat); changing the shard count needs a
 *   re-index. The same holds for gsi2 with 4 shards (a single `C#<store>` partition would cap a
 *   store at ~1000 tuple changes per second; 4 shards cost 4 small Queries per readChanges/head).
 * - One action per change means no separate changelog item: each change lives in its key's item,
 *   and a deleted tuple stays as a tombstone so its history (and the next write's) has a home.
 *   Tombstones are never collected: storage grows with the keys ever written, not the live tuples,
 *   like OpenFGA's changelog table. Every read skips them (filter or sparse index), and a Query that
 *   filters them still pays read capacity for them.
 * - readChanges pays for the tail, not the page: an item is indexed under its latest revision only,
 *   so an entry older than its item's newest one is found only by reading every item changed after
 *   the cursor. A page costs O(items changed after the cursor) in read capacity and time (memory is
 *   O(limit)): cheap for consumers that poll near the head, the OpenFGA watch pattern; replaying a
 *   large store from the beginning re-reads the store per page. Consumers should keep their cursor.
 * - Nothing of the history is lost: a tuple item holds at most ~LOG_BYTES_CAP (4 KiB, ~60 plain
 *   changes) plus one change of log; the next change first moves the log to an archive item. This
 *   keeps every read of a churned key cheap (reads project away `log`, but capacity counts the whole
 *   item, and gsi1/gsi2 copy it: ALL projection) and far from the 400 KB item limit (the largest item
 *   is ~2 × 32 KiB condition + 4 KiB log + keys). Archives are never collected either.
 * - Global tables replicate per item, last writer wins: two regions changing the same tuple within
 *   the replication delay keep one region's item, so the other's change and its history entry are
 *   lost (with a changelog item per write the entry survived, but the tuple state was LWW too).
 * - Items written before this design (tuples without `log`, changelog items `S#<store>#CHANGES`) are
 *   not part of read-changes or headRevision; such data would need a backfill of `log` and gsi2 keys.
 * - gsi2 and gsi1 are eventually consistent, and revisions are ULIDs from the writer: concurrent
 *   writers in different processes can commit slightly out of revision order, and the index shows a
 *   commit a moment later. A reader polling readChanges at the very head could skip a late commit,
 *   and headRevision (and a no-op write's returned revision) can lag. Callers that need exactness
 *   should read up to a horizon a few seconds behind now.
 */
import {
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { dynamoErrorName, type PartitionQuery, putIfAbsent, queryPage } from "../../shared/dynamodb.ts";
import type { Assertion, AuthorizationModel, StoreRecord, Tuple, TupleChange } from "../model.ts";
import type {
  AuthzStore,
  ObjectRelationQuery,
  Page,
  ReverseQuery,
  TupleFilter,
  TupleLookup,
  WriteRequest,
} from "../ports.ts";
import * as changelog from "./dynamodb/changelog.ts";
import { type Item, type TableContext, toStore, toTuple } from "./dynamodb/items.ts";
import * as reader from "./dynamodb/tuple-reader.ts";
import { writeTuples } from "./dynamodb/tuple-writer.ts";

export { CHANGE_SHARDS, LOG_BYTES_CAP, MAX_TUPLE_CHANGES } from "./dynamodb/items.ts";

/** Options of {@link DynamoDbAuthzStore}. */
export interface DynamoDbAuthzStoreOptions {
  /** Strongly consistent base-table reads (tuples, stores, models). @default true */
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
  readonly #ctx: TableContext;

  constructor(client: DynamoDBClient, tableName: string, options: DynamoDbAuthzStoreOptions = {}) {
    this.#client = client;
    this.#table = tableName;
    this.#consistent = options.consistentRead ?? true;
    this.#pageSize = options.queryPageSize;
    this.#ctx = { client, table: tableName, consistent: this.#consistent, pageSize: this.#pageSize };
  }

  #page(queries: readonly PartitionQuery[], options: { limit: number; cursor?: string }) {
    return queryPage(this.#client, queries, {
      ...options,
      ...(this.#pageSize ? { pageSize: this.#pageSize } : {}),
    });
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

  getTuples(storeId: string, lookups: readonly TupleLookup[]): Promise<(Tuple | undefined)[]> {
    return reader.getTuples(this.#ctx, storeId, lookups);
  }

  readUsersetTuples(storeId: string, queries: readonly ObjectRelationQuery[]): Promise<Tuple[][]> {
    return reader.readUsersetTuples(this.#ctx, storeId, queries);
  }

  readTuples(storeId: string, queries: readonly ObjectRelationQuery[]): Promise<Tuple[][]> {
    return reader.readTuples(this.#ctx, storeId, queries);
  }

  readByUsers(storeId: string, queries: readonly ReverseQuery[]): Promise<Tuple[][]> {
    return reader.readByUsers(this.#ctx, storeId, queries);
  }

  // ---- Read API, changelog ----

  async readPage(
    storeId: string,
    filter: TupleFilter,
    options: { limit: number; cursor?: string },
  ): Promise<Page<Tuple>> {
    const r = await this.#page(reader.readQueries(this.#ctx, storeId, filter), options);
    return { items: r.items.map(toTuple), ...(r.cursor ? { cursor: r.cursor } : {}) };
  }

  readChanges(
    storeId: string,
    options: { limit: number; cursor?: string; objectType?: string; startTime?: number },
  ): Promise<Page<TupleChange>> {
    return changelog.readChanges(this.#ctx, storeId, options);
  }

  headRevision(storeId: string): Promise<string | undefined> {
    return changelog.headRevision(this.#ctx, storeId);
  }

  // ---- TupleWriter ----

  write(
    storeId: string,
    request: WriteRequest,
    at: number,
    revisions: () => string,
  ): Promise<{ revision: string }> {
    return writeTuples(this.#ctx, this, storeId, request, at, revisions);
  }

  async #get(Key: Item): Promise<Item | undefined> {
    const r = await this.#client.send(
      new GetItemCommand({ TableName: this.#table, Key, ConsistentRead: this.#consistent }),
    );
    return r.Item;
  }
}
