/**
 * DynamoDB client factory and table lifecycle helpers, shared by the adapters' wiring, DynamoDB Local
 * tooling (`npm run dynamodb-local`, tests) and the CLI. Table shapes come from `tables.ts` only.
 */
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import {
  type AttributeDefinition,
  type AttributeValue,
  BatchGetItemCommand,
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  waitUntilTableNotExists,
} from "@aws-sdk/client-dynamodb";
import { conflict, DomainError, validationError } from "./errors.ts";
import { type KeyDef, TABLES, type TableDef, type TableNames } from "./tables.ts";

/** Options of {@link createDynamoDbClient}. */
export interface DynamoDbClientOptions {
  /** Endpoint override, e.g. `http://127.0.0.1:8000` for DynamoDB Local; absent in AWS. */
  readonly endpoint?: string;
  /** AWS region. @default "us-east-1" with an endpoint, else the SDK's own resolution (AWS_REGION) */
  readonly region?: string;
}

/**
 * A DynamoDB client with keep-alive connections. With an `endpoint` (DynamoDB Local) it uses dummy
 * static credentials, so no AWS credentials are looked up or needed.
 */
export function createDynamoDbClient(options: DynamoDbClientOptions = {}): DynamoDBClient {
  const requestHandler = {
    httpAgent: new HttpAgent({ keepAlive: true }),
    httpsAgent: new HttpsAgent({ keepAlive: true }),
  };
  if (options.endpoint) {
    return new DynamoDBClient({
      endpoint: options.endpoint,
      region: options.region ?? "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      requestHandler,
      maxAttempts: 3,
    });
  }
  return new DynamoDBClient({ ...(options.region ? { region: options.region } : {}), requestHandler });
}

/** Options every DynamoDB store adapter takes. */
export interface TableAdapterOptions {
  /** Strongly consistent point reads and Queries on the base table. @default true */
  readonly consistentRead?: boolean;
  /** `Limit` of each Query request (tests use small pages to exercise pagination). */
  readonly queryPageSize?: number;
}

/**
 * What every DynamoDB store adapter shares: the client, its table, read consistency, the Query page
 * size and a point read.
 */
export abstract class TableAdapter {
  protected readonly client: DynamoDBClient;
  protected readonly table: string;
  protected readonly consistent: boolean;
  protected readonly pageSize: number | undefined;

  constructor(client: DynamoDBClient, tableName: string, options: TableAdapterOptions = {}) {
    this.client = client;
    this.table = tableName;
    this.consistent = options.consistentRead ?? true;
    this.pageSize = options.queryPageSize;
  }

  /** One GetItem on the table. */
  protected async getItem(
    key: Record<string, AttributeValue>,
  ): Promise<Record<string, AttributeValue> | undefined> {
    const r = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: key, ConsistentRead: this.consistent }),
    );
    return r.Item;
  }
}

/** The SDK error's `name` (e.g. `ConditionalCheckFailedException`), if any. */
export const dynamoErrorName = (e: unknown): string | undefined =>
  typeof e === "object" && e !== null && "name" in e ? String((e as { name: unknown }).name) : undefined;

function attributeDefinitions(def: TableDef): AttributeDefinition[] {
  const keys: KeyDef[] = [def.partitionKey, def.sortKey];
  for (const gsi of def.globalSecondaryIndexes) keys.push(gsi.partitionKey, gsi.sortKey);
  const seen = new Map<string, AttributeDefinition>();
  for (const k of keys) seen.set(k.name, { AttributeName: k.name, AttributeType: k.type });
  return [...seen.values()];
}

async function createTable(client: DynamoDBClient, def: TableDef, name: string): Promise<void> {
  let created = true;
  try {
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: attributeDefinitions(def),
        KeySchema: [
          { AttributeName: def.partitionKey.name, KeyType: "HASH" },
          { AttributeName: def.sortKey.name, KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: def.globalSecondaryIndexes.map((gsi) => ({
          IndexName: gsi.indexName,
          KeySchema: [
            { AttributeName: gsi.partitionKey.name, KeyType: "HASH" },
            { AttributeName: gsi.sortKey.name, KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "ALL" },
        })),
      }),
    );
  } catch (e) {
    if (dynamoErrorName(e) !== "ResourceInUseException") throw e;
    created = false;
  }
  await waitUntilTableExists({ client, maxWaitTime: 120, minDelay: 1, maxDelay: 5 }, { TableName: name });
  if (created) {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: name,
        TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true },
      }),
    );
  }
}

/**
 * Creates every table of `TABLES` (on-demand billing, GSIs projecting all attributes, TTL enabled)
 * and waits until each is active. Tables that already exist are left as they are.
 */
export async function createTables(client: DynamoDBClient, names: TableNames): Promise<void> {
  await Promise.all(TABLES.map((def) => createTable(client, def, names[def.id])));
}

/** Deletes every table of `TABLES` under `names` and waits until they are gone; missing ones are fine. */
export async function deleteTables(client: DynamoDBClient, names: TableNames): Promise<void> {
  await Promise.all(
    TABLES.map(async (def) => {
      const TableName = names[def.id];
      try {
        await client.send(new DeleteTableCommand({ TableName }));
      } catch (e) {
        if (dynamoErrorName(e) !== "ResourceNotFoundException") throw e;
        return;
      }
      await waitUntilTableNotExists({ client, maxWaitTime: 120, minDelay: 1, maxDelay: 5 }, { TableName });
    }),
  );
}

/** Names of all tables the endpoint has (follows pagination); also a cheap liveness probe. */
export async function listTableNames(client: DynamoDBClient): Promise<string[]> {
  const out: string[] = [];
  let start: string | undefined;
  do {
    const r = await client.send(new ListTablesCommand(start ? { ExclusiveStartTableName: start } : {}));
    out.push(...(r.TableNames ?? []));
    start = r.LastEvaluatedTableName;
  } while (start);
  return out;
}

// ---- Helpers for adapters: error names, opaque cursors, paginated queries ----

/** Cancellation reason codes of a `TransactionCanceledException`, positional; undefined for other errors. */
export function cancellationCodes(e: unknown): (string | undefined)[] | undefined {
  if (dynamoErrorName(e) !== "TransactionCanceledException") return undefined;
  const reasons = (e as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.map((r) => r.Code);
}

/** One action's outcome in a cancelled transaction: its code and, when asked for, the item as it was. */
export interface CancellationReason {
  readonly code: string | undefined;
  /** The item before the transaction, for actions with `ReturnValuesOnConditionCheckFailure: "ALL_OLD"`. */
  readonly item: Record<string, AttributeValue> | undefined;
}

/** Cancellation reasons of a `TransactionCanceledException`, positional; undefined for other errors. */
export function cancellationReasons(e: unknown): CancellationReason[] | undefined {
  if (dynamoErrorName(e) !== "TransactionCanceledException") return undefined;
  const reasons =
    (e as { CancellationReasons?: { Code?: string; Item?: Record<string, AttributeValue> }[] })
      .CancellationReasons ?? [];
  return reasons.map((r) => ({ code: r.Code, item: r.Item }));
}

/** One single-partition Query of a (possibly multi-partition) paginated read. */
export interface PartitionQuery {
  /** TableName, IndexName, KeyConditionExpression, values, FilterExpression, ScanIndexForward... */
  readonly input: QueryCommandInput;
  /** The partition key attribute and value this query targets (cursors are checked against it). */
  readonly partition: readonly [name: string, value: string];
  /** Attributes of an item that form its ExclusiveStartKey (table keys, plus index keys on an index). */
  readonly keyNames: readonly string[];
}

type Item = Record<string, AttributeValue>;

interface CursorState {
  /** Index of the partition query to continue with. */
  readonly p: number;
  /** ExclusiveStartKey (string attributes only). */
  readonly k: Record<string, string>;
}

const invalidCursor = () => validationError("Invalid continuation token.");

function decodeCursor(cursor: string, queries: readonly PartitionQuery[]): CursorState {
  let state: unknown;
  try {
    state = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalidCursor();
  }
  const s = state as Partial<CursorState> | null;
  if (!s || typeof s.p !== "number" || typeof s.k !== "object" || s.k === null) throw invalidCursor();
  const q = queries[s.p];
  if (!q) throw invalidCursor();
  for (const name of q.keyNames) if (typeof s.k[name] !== "string") throw invalidCursor();
  // A cursor can only move within the partition the caller asked for.
  if (s.k[q.partition[0]] !== q.partition[1]) throw invalidCursor();
  return { p: s.p, k: s.k };
}

function encodeCursor(p: number, item: Item, keyNames: readonly string[]): string {
  const k: Record<string, string> = {};
  for (const name of keyNames) k[name] = item[name]?.S ?? "";
  return Buffer.from(JSON.stringify({ p, k }), "utf8").toString("base64url");
}

/**
 * One page of items over a sequence of single-partition queries, read in order (partition 0 fully,
 * then 1, ...). Reads one item past `limit` so a cursor is returned only when more items exist.
 * `pageSize` caps each Query request (tests use it to exercise pagination).
 */
export async function queryPage(
  client: DynamoDBClient,
  queries: readonly PartitionQuery[],
  options: { limit: number; cursor?: string; pageSize?: number },
): Promise<{ items: Item[]; cursor?: string }> {
  const limit = Math.max(1, Math.floor(options.limit));
  const start = options.cursor === undefined ? { p: 0, k: undefined } : decodeCursor(options.cursor, queries);
  const found: { p: number; item: Item }[] = [];
  for (let p = start.p; p < queries.length && found.length <= limit; p++) {
    const q = queries[p]!;
    let esk: Item | undefined =
      p === start.p && start.k
        ? Object.fromEntries(Object.entries(start.k).map(([n, v]) => [n, { S: v }]))
        : undefined;
    do {
      const want = limit + 1 - found.length;
      const r: QueryCommandOutput = await client.send(
        new QueryCommand({
          ...q.input,
          Limit: Math.min(want, options.pageSize ?? want),
          ...(esk ? { ExclusiveStartKey: esk } : {}),
        }),
      );
      for (const item of r.Items ?? []) found.push({ p, item });
      esk = r.LastEvaluatedKey;
    } while (esk && found.length <= limit);
  }
  if (found.length <= limit) return { items: found.map((f) => f.item) };
  const page = found.slice(0, limit);
  const last = page.at(-1)!;
  return {
    items: page.map((f) => f.item),
    cursor: encodeCursor(last.p, last.item, queries[last.p]!.keyNames),
  };
}

/** Every item of one Query, following LastEvaluatedKey to the end. */
export async function queryAll(
  client: DynamoDBClient,
  input: QueryCommandInput,
  pageSize?: number,
): Promise<Item[]> {
  const out: Item[] = [];
  let esk: Item | undefined;
  do {
    const r: QueryCommandOutput = await client.send(
      new QueryCommand({
        ...input,
        ...(pageSize ? { Limit: pageSize } : {}),
        ...(esk ? { ExclusiveStartKey: esk } : {}),
      }),
    );
    out.push(...(r.Items ?? []));
    esk = r.LastEvaluatedKey;
  } while (esk);
  return out;
}

/**
 * Every page of one Query handed to `onPage` as it arrives (so a caller that keeps only a summary
 * needs bounded memory), following LastEvaluatedKey to the end. Filtered pages may be empty.
 */
export async function queryEach(
  client: DynamoDBClient,
  input: QueryCommandInput,
  onPage: (items: Item[]) => void,
  pageSize?: number,
): Promise<void> {
  let esk: Item | undefined;
  do {
    const r: QueryCommandOutput = await client.send(
      new QueryCommand({
        ...input,
        ...(pageSize ? { Limit: pageSize } : {}),
        ...(esk ? { ExclusiveStartKey: esk } : {}),
      }),
    );
    onPage(r.Items ?? []);
    esk = r.LastEvaluatedKey;
  } while (esk);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const keyId = (k: Item) => `${k.pk?.S}\n${k.sk?.S}`;

/**
 * Point-reads `keys` (pk/sk) of one table as ONE wave: duplicates removed, 100 keys per BatchGetItem,
 * the requests in parallel, UnprocessedKeys retried with backoff. Returns found items by `pk\nsk`.
 */
export async function batchGetItems(
  client: DynamoDBClient,
  table: string,
  keys: readonly Item[],
  options: { consistentRead: boolean; projection?: { expression: string; names?: Record<string, string> } },
): Promise<Map<string, Item>> {
  const unique = [...new Map(keys.map((k) => [keyId(k), k])).values()];
  const found = new Map<string, Item>();
  const one = async (chunk: Item[]) => {
    let pending = chunk;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 8) throw new DomainError("unavailable", "The store is busy; try again.");
      if (attempt > 0) await sleep(Math.min(1000, 25 * 2 ** attempt));
      const r = await client.send(
        new BatchGetItemCommand({
          RequestItems: {
            [table]: {
              Keys: pending,
              ConsistentRead: options.consistentRead,
              ...(options.projection
                ? {
                    ProjectionExpression: `pk, sk, ${options.projection.expression}`,
                    ...(options.projection.names
                      ? { ExpressionAttributeNames: options.projection.names }
                      : {}),
                  }
                : {}),
            },
          },
        }),
      );
      for (const item of r.Responses?.[table] ?? []) found.set(keyId(item), item);
      pending = r.UnprocessedKeys?.[table]?.Keys ?? [];
    }
  };
  const chunks: Item[][] = [];
  for (let i = 0; i < unique.length; i += 100) chunks.push(unique.slice(i, i + 100));
  await Promise.all(chunks.map(one));
  return found;
}

/** PutItem that only creates: an existing item with the same key becomes a `conflict` with `detail`. */
export async function putIfAbsent(
  client: DynamoDBClient,
  table: string,
  item: Item,
  detail: string,
): Promise<void> {
  try {
    await client.send(
      new PutItemCommand({ TableName: table, Item: item, ConditionExpression: "attribute_not_exists(pk)" }),
    );
  } catch (e) {
    if (dynamoErrorName(e) === "ConditionalCheckFailedException") throw conflict(detail);
    throw e;
  }
}
