/**
 * DynamoDB TenantStore on the `platform` table (pk/sk, gsi1pk/gsi1sk).
 *
 * Items:
 * | item          | pk                     | sk              | gsi1pk    | gsi1sk      |
 * |---------------|------------------------|-----------------|-----------|-------------|
 * | tenant        | `TENANT#<id>`          | `TENANT`        | `TENANTS` | `<id>`      |
 * | API key       | `TENANT#<tenantId>`    | `APIKEY#<keyId>`| –         | –           |
 * | key-hash link | `APIKEYHASH#<keyHash>` | `APIKEYHASH`    | –         | –           |
 *
 * Access patterns: get tenant = GetItem; list tenants = Query gsi1 `TENANTS` (ids are ULIDs, so
 * oldest first; eventually consistent, admin-only and low volume, so one index partition is fine);
 * list a tenant's keys = Query `TENANT#<id>` with `begins_with(sk, "APIKEY#")`; authenticate = one
 * GetItem on the key-hash item, which carries a full copy of the key record. Key and hash items are
 * written and revoked together in one TransactWriteItems, so they never disagree.
 */
import {
  type AttributeValue,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { cancellationCodes, dynamoErrorName, queryPage, TableAdapter } from "../../shared/dynamodb.ts";
import { conflict, notFound } from "../../shared/errors.ts";
import type { ApiKeyRecord, Page, Tenant } from "../model.ts";
import type { TenantStore } from "../ports.ts";

type Item = Record<string, AttributeValue>;

const tenantKey = (id: string): Item => ({ pk: { S: `TENANT#${id}` }, sk: { S: "TENANT" } });
const apiKeyKey = (tenantId: string, keyId: string): Item => ({
  pk: { S: `TENANT#${tenantId}` },
  sk: { S: `APIKEY#${keyId}` },
});
const hashKey = (keyHash: string): Item => ({ pk: { S: `APIKEYHASH#${keyHash}` }, sk: { S: "APIKEYHASH" } });

const str = (item: Item, name: string): string => item[name]?.S ?? "";
const num = (item: Item, name: string): number | undefined =>
  item[name]?.N === undefined ? undefined : Number(item[name].N);

function toTenant(item: Item): Tenant {
  const deletedAt = num(item, "deletedAt");
  return {
    id: str(item, "id"),
    name: str(item, "name"),
    createdAt: num(item, "createdAt") ?? 0,
    ...(deletedAt === undefined ? {} : { deletedAt }),
  };
}

function toApiKey(item: Item): ApiKeyRecord {
  const revokedAt = num(item, "revokedAt");
  return {
    id: str(item, "id"),
    tenantId: str(item, "tenantId"),
    name: str(item, "name"),
    keyHash: str(item, "keyHash"),
    prefix: str(item, "prefix"),
    createdAt: num(item, "createdAt") ?? 0,
    ...(revokedAt === undefined ? {} : { revokedAt }),
  };
}

function apiKeyAttributes(key: ApiKeyRecord): Item {
  return {
    id: { S: key.id },
    tenantId: { S: key.tenantId },
    name: { S: key.name },
    keyHash: { S: key.keyHash },
    prefix: { S: key.prefix },
    createdAt: { N: String(key.createdAt) },
    ...(key.revokedAt === undefined ? {} : { revokedAt: { N: String(key.revokedAt) } }),
  };
}

/** TenantStore on DynamoDB; see the item design at the top of this file. */
export class DynamoDbTenantStore extends TableAdapter implements TenantStore {
  async createTenant(tenant: Tenant): Promise<void> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            ...tenantKey(tenant.id),
            gsi1pk: { S: "TENANTS" },
            gsi1sk: { S: tenant.id },
            id: { S: tenant.id },
            name: { S: tenant.name },
            createdAt: { N: String(tenant.createdAt) },
            ...(tenant.deletedAt === undefined ? {} : { deletedAt: { N: String(tenant.deletedAt) } }),
          },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    } catch (e) {
      if (dynamoErrorName(e) === "ConditionalCheckFailedException") throw conflict("Tenant already exists.");
      throw e;
    }
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    const item = await this.getItem(tenantKey(id));
    return item && toTenant(item);
  }

  async listTenants(options: { limit: number; cursor?: string }): Promise<Page<Tenant>> {
    const r = await queryPage(
      this.client,
      [
        {
          input: {
            TableName: this.table,
            IndexName: "gsi1",
            KeyConditionExpression: "gsi1pk = :p",
            ExpressionAttributeValues: { ":p": { S: "TENANTS" } },
          },
          partition: ["gsi1pk", "TENANTS"],
          keyNames: ["pk", "sk", "gsi1pk", "gsi1sk"],
        },
      ],
      { ...options, ...(this.pageSize ? { pageSize: this.pageSize } : {}) },
    );
    return { items: r.items.map(toTenant), ...(r.cursor ? { cursor: r.cursor } : {}) };
  }

  async markTenantDeleted(id: string, deletedAt: number): Promise<Tenant> {
    try {
      const r = await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: tenantKey(id),
          UpdateExpression: "SET deletedAt = if_not_exists(deletedAt, :d)",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeValues: { ":d": { N: String(deletedAt) } },
          ReturnValues: "ALL_NEW",
        }),
      );
      return toTenant(r.Attributes ?? {});
    } catch (e) {
      if (dynamoErrorName(e) === "ConditionalCheckFailedException") throw notFound("Tenant not found.");
      throw e;
    }
  }

  async createApiKey(key: ApiKeyRecord): Promise<void> {
    const attributes = apiKeyAttributes(key);
    try {
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { ...apiKeyKey(key.tenantId, key.id), ...attributes },
                ConditionExpression: "attribute_not_exists(pk)",
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: { ...hashKey(key.keyHash), ...attributes },
                ConditionExpression: "attribute_not_exists(pk)",
              },
            },
          ],
        }),
      );
    } catch (e) {
      const codes = cancellationCodes(e);
      if (codes?.includes("ConditionalCheckFailed")) throw conflict("API key already exists.");
      if (codes?.includes("TransactionConflict")) throw conflict("API key is being written concurrently.");
      throw e;
    }
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const item = await this.getItem(hashKey(keyHash));
    return item && toApiKey(item);
  }

  async getApiKey(tenantId: string, keyId: string): Promise<ApiKeyRecord | undefined> {
    const item = await this.getItem(apiKeyKey(tenantId, keyId));
    return item && toApiKey(item);
  }

  async listApiKeys(
    tenantId: string,
    options: { limit: number; cursor?: string },
  ): Promise<Page<ApiKeyRecord>> {
    const pk = `TENANT#${tenantId}`;
    const r = await queryPage(
      this.client,
      [
        {
          input: {
            TableName: this.table,
            KeyConditionExpression: "pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues: { ":p": { S: pk }, ":s": { S: "APIKEY#" } },
            ConsistentRead: this.consistent,
          },
          partition: ["pk", pk],
          keyNames: ["pk", "sk"],
        },
      ],
      { ...options, ...(this.pageSize ? { pageSize: this.pageSize } : {}) },
    );
    return { items: r.items.map(toApiKey), ...(r.cursor ? { cursor: r.cursor } : {}) };
  }

  async revokeApiKey(tenantId: string, keyId: string, revokedAt: number): Promise<ApiKeyRecord> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const item = await this.getItem(apiKeyKey(tenantId, keyId));
      if (!item) throw notFound("API key not found.");
      const current = toApiKey(item);
      if (current.revokedAt !== undefined) return current;
      const update = {
        TableName: this.table,
        UpdateExpression: "SET revokedAt = :r",
        ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(revokedAt)",
        ExpressionAttributeValues: { ":r": { N: String(revokedAt) } },
      };
      try {
        await this.client.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              { Update: { ...update, Key: apiKeyKey(tenantId, keyId) } },
              { Update: { ...update, Key: hashKey(current.keyHash) } },
            ],
          }),
        );
        return { ...current, revokedAt };
      } catch (e) {
        // Revoked (or written) concurrently: read again and report what is stored.
        if (
          !cancellationCodes(e)?.some((c) => c === "ConditionalCheckFailed" || c === "TransactionConflict")
        ) {
          throw e;
        }
      }
    }
    throw conflict("API key is being changed concurrently.");
  }
}
