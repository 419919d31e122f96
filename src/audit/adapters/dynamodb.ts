/**
 * DynamoDB audit store on the `audit` table (pk/sk, gsi1pk/gsi1sk, TTL `expires_at`).
 *
 * | item  | pk              | sk                    | gsi1pk                          | gsi1sk          |
 * |-------|-----------------|-----------------------|---------------------------------|-----------------|
 * | event | `TENANT#<t>`    | `EVT#<time>#<id>`     | `TENANT#<t>#ACTOR#<actor>`      | `<time>#<id>`   |
 *
 * Access patterns: a tenant's events newest first in a time range = Query pk with `sk BETWEEN`,
 * `ScanIndexForward: false`; by actor = the same on gsi1; type/resource/decision are filters.
 * Idempotent by event id: the key holds time and id, and PutItem is conditional on the item not
 * existing (a redelivered event counts as a duplicate). Expired items are filtered (TTL is lazy).
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  PutItemCommand,
  type QueryCommandInput,
} from "@aws-sdk/client-dynamodb";
import type { Clock } from "../../shared/clock.ts";
import { dynamoErrorName, type PartitionQuery, queryPage } from "../../shared/dynamodb.ts";
import { TTL_ATTRIBUTE } from "../../shared/tables.ts";
import { type AuditEvent, auditEventSchema } from "../events.ts";
import type { AuditFilter, AuditPage, AuditStore } from "../ports.ts";
import { eventSortKey, expiresAt } from "../query-filter.ts";

type Item = Record<string, AttributeValue>;

export interface DynamoDbAuditStoreOptions {
  readonly retentionDays: number;
  readonly clock: Clock;
  /** Concurrent PutItem requests of one `put`. @default 16 */
  readonly concurrency?: number;
  /** Cap on items per Query request (tests exercise pagination with a small one). */
  readonly queryPageSize?: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class DynamoDbAuditStore implements AuditStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #o: DynamoDbAuditStoreOptions;

  constructor(client: DynamoDBClient, tableName: string, options: DynamoDbAuditStoreOptions) {
    this.#client = client;
    this.#table = tableName;
    this.#o = options;
  }

  async put(events: readonly AuditEvent[]): Promise<{ written: number; duplicates: number }> {
    let written = 0;
    let duplicates = 0;
    let next = 0;
    const worker = async () => {
      while (next < events.length) {
        const e = events[next++]!;
        try {
          await this.#client.send(
            new PutItemCommand({
              TableName: this.#table,
              Item: this.#item(e),
              ConditionExpression: "attribute_not_exists(pk)",
            }),
          );
          written++;
        } catch (err) {
          if (dynamoErrorName(err) !== "ConditionalCheckFailedException") throw err;
          duplicates++;
        }
      }
    };
    const n = Math.min(this.#o.concurrency ?? 16, events.length);
    await Promise.all(Array.from({ length: n }, worker));
    return { written, duplicates };
  }

  #item(e: AuditEvent): Item {
    const key = eventSortKey(e);
    return {
      pk: { S: `TENANT#${e.tenant}` },
      sk: { S: `EVT#${key}` },
      gsi1pk: { S: `TENANT#${e.tenant}#ACTOR#${e.actor}` },
      gsi1sk: { S: key },
      type: { S: e.type },
      resource: { S: e.resource },
      decision: { S: e.decision },
      event: { S: JSON.stringify(e) },
      [TTL_ATTRIBUTE]: { N: String(expiresAt(e, this.#o.retentionDays)) },
    };
  }

  async query(
    tenant: string,
    filter: AuditFilter,
    page: { limit: number; cursor?: string },
  ): Promise<AuditPage> {
    const names: Record<string, string> = { "#ttl": TTL_ATTRIBUTE };
    const values: Item = { ":now": { N: String(Math.floor(this.#o.clock.now() / 1000)) } };
    const filters = ["#ttl > :now"];
    const eq = (attr: string, v: string | undefined) => {
      if (v === undefined) return;
      names[`#${attr}`] = attr;
      values[`:${attr}`] = { S: v };
      filters.push(`#${attr} = :${attr}`);
    };
    eq("type", filter.type);
    eq("resource", filter.resource);
    eq("decision", filter.decision);
    const lo = filter.from === undefined ? "0" : iso(filter.from);
    const hi = `${filter.to === undefined ? "9999" : iso(filter.to)}#~`;
    const byActor = filter.actor !== undefined;
    const pkName = byActor ? "gsi1pk" : "pk";
    const skName = byActor ? "gsi1sk" : "sk";
    const prefix = byActor ? "" : "EVT#";
    const partition = byActor ? `TENANT#${tenant}#ACTOR#${filter.actor}` : `TENANT#${tenant}`;
    names["#p"] = pkName;
    names["#s"] = skName;
    values[":p"] = { S: partition };
    values[":lo"] = { S: `${prefix}${lo}` };
    values[":hi"] = { S: `${prefix}${hi}` };
    const input: QueryCommandInput = {
      TableName: this.#table,
      ...(byActor ? { IndexName: "gsi1" } : {}),
      KeyConditionExpression: "#p = :p AND #s BETWEEN :lo AND :hi",
      FilterExpression: filters.join(" AND "),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ScanIndexForward: false,
    };
    const q: PartitionQuery = {
      input,
      partition: [pkName, partition],
      keyNames: byActor ? ["pk", "sk", "gsi1pk", "gsi1sk"] : ["pk", "sk"],
    };
    const r = await queryPage(this.#client, [q], {
      limit: page.limit,
      ...(page.cursor !== undefined ? { cursor: page.cursor } : {}),
      ...(this.#o.queryPageSize ? { pageSize: this.#o.queryPageSize } : {}),
    });
    return {
      items: r.items.map((i) => auditEventSchema.parse(JSON.parse(i.event?.S ?? "null"))),
      ...(r.cursor ? { cursor: r.cursor } : {}),
    };
  }
}
