/**
 * DynamoDB OAuth stores on the `platform` table.
 *
 * | item          | pk                 | sk        | gsi1pk / gsi1sk                    | TTL (`expires_at`) |
 * |---------------|--------------------|-----------|------------------------------------|--------------------|
 * | client        | `CLIENT#<id>`      | `CLIENT`  | `TENANT#<tenantId>#CLIENTS` / `<id>` | –                |
 * | used assertion| `JTI#<client>:<h>` | `JTI`     | –                                  | assertion expiry   |
 * | revoked token | `REVOKED#<jti>`    | `REVOKED` | –                                  | token expiry       |
 *
 * Access patterns: authenticate a client = GetItem; list a tenant's clients = Query gsi1 (admin,
 * eventually consistent); one-time `jti` = conditional PutItem (new, or the old entry expired);
 * revocation check = GetItem. TTL deletes expired entries lazily, so readers compare `exp_ms`.
 */
import { type AttributeValue, DeleteItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { dynamoErrorName, queryPage, TableAdapter } from "../../shared/dynamodb.ts";
import { conflict, notFound } from "../../shared/errors.ts";
import type { Page } from "../../tenants/model.ts";
import type { OAuthClient } from "../model.ts";
import type { ClientStore, ReplayCache, RevocationList } from "../ports.ts";

type Item = Record<string, AttributeValue>;

const clientKey = (id: string): Item => ({ pk: { S: `CLIENT#${id}` }, sk: { S: "CLIENT" } });
const tenantIndex = (tenantId: string) => `TENANT#${tenantId}#CLIENTS`;
const ttl = (ms: number) => ({ N: String(Math.ceil(ms / 1000)) });

function toItem(c: OAuthClient): Item {
  return {
    ...clientKey(c.clientId),
    gsi1pk: { S: tenantIndex(c.tenantId) },
    gsi1sk: { S: c.clientId },
    tenantId: { S: c.tenantId },
    client: { S: JSON.stringify(c) },
  };
}

const toClient = (item: Item): OAuthClient => JSON.parse(item.client?.S ?? "{}") as OAuthClient;

/** OAuth stores on DynamoDB; see the item design at the top of this file. */
export class DynamoDbOAuthStore extends TableAdapter implements ClientStore, ReplayCache, RevocationList {
  async #put(item: Item, condition: string, values?: Item): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: item,
          ConditionExpression: condition,
          ...(values ? { ExpressionAttributeValues: values } : {}),
        }),
      );
      return true;
    } catch (e) {
      if (dynamoErrorName(e) === "ConditionalCheckFailedException") return false;
      throw e;
    }
  }

  async createClient(client: OAuthClient): Promise<void> {
    if (!(await this.#put(toItem(client), "attribute_not_exists(pk)")))
      throw conflict("Client already exists.");
  }

  async getClient(clientId: string): Promise<OAuthClient | undefined> {
    const item = await this.getItem(clientKey(clientId));
    return item && toClient(item);
  }

  async listClients(
    tenantId: string,
    options: { limit: number; cursor?: string },
  ): Promise<Page<OAuthClient>> {
    const gsi1pk = tenantIndex(tenantId);
    const r = await queryPage(
      this.client,
      [
        {
          input: {
            TableName: this.table,
            IndexName: "gsi1",
            KeyConditionExpression: "gsi1pk = :p",
            ExpressionAttributeValues: { ":p": { S: gsi1pk } },
          },
          partition: ["gsi1pk", gsi1pk],
          keyNames: ["pk", "sk", "gsi1pk", "gsi1sk"],
        },
      ],
      { ...options, ...(this.pageSize ? { pageSize: this.pageSize } : {}) },
    );
    return { items: r.items.map(toClient), ...(r.cursor ? { cursor: r.cursor } : {}) };
  }

  async updateClient(client: OAuthClient): Promise<void> {
    const ok = await this.#put(toItem(client), "attribute_exists(pk) AND tenantId = :t", {
      ":t": { S: client.tenantId },
    });
    if (!ok) throw notFound("Client not found.");
  }

  async deleteClient(tenantId: string, clientId: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: clientKey(clientId),
          ConditionExpression: "attribute_exists(pk) AND tenantId = :t",
          ExpressionAttributeValues: { ":t": { S: tenantId } },
        }),
      );
    } catch (e) {
      if (dynamoErrorName(e) === "ConditionalCheckFailedException") throw notFound("Client not found.");
      throw e;
    }
  }

  useOnce(key: string, expiresAt: number, now: number): Promise<boolean> {
    return this.#put(
      {
        pk: { S: `JTI#${key}` },
        sk: { S: "JTI" },
        exp_ms: { N: String(expiresAt) },
        expires_at: ttl(expiresAt),
      },
      "attribute_not_exists(pk) OR exp_ms <= :now",
      { ":now": { N: String(now) } },
    );
  }

  async revoke(jti: string, expiresAt: number): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          pk: { S: `REVOKED#${jti}` },
          sk: { S: "REVOKED" },
          exp_ms: { N: String(expiresAt) },
          expires_at: ttl(expiresAt),
        },
      }),
    );
  }

  async isRevoked(jti: string, now: number): Promise<boolean> {
    const item = await this.getItem({ pk: { S: `REVOKED#${jti}` }, sk: { S: "REVOKED" } });
    return item !== undefined && Number(item.exp_ms?.N ?? 0) > now;
  }
}
