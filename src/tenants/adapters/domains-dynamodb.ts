/**
 * DynamoDB TenantDomainStore on the `platform` table.
 *
 * | item            | pk                 | sk        | attributes                           |
 * |-----------------|--------------------|-----------|--------------------------------------|
 * | domain claim    | `DOMAIN#<domain>`  | `DOMAIN`  | `tenantId`, `domain`, `claimedAt`    |
 * | tenant's list   | `TENANT#<id>`      | `DOMAINS` | `domains` (list), `version`          |
 *
 * The claim item makes a domain unique across the platform: it is created with
 * `attribute_not_exists(pk)` (or kept when the same tenant already holds it). A change is ONE
 * TransactWriteItems: the tenant's list (compare-and-swap on `version`), a conditional Put per new
 * domain and a conditional Delete (`tenantId = :t`) per released one; any failed condition cancels
 * all of it. Sign-in lookup = one GetItem on the claim item; the tenant's list = one GetItem.
 */
import type { AttributeValue, TransactWriteItem } from "@aws-sdk/client-dynamodb";
import { TransactWriteItemsCommand } from "@aws-sdk/client-dynamodb";
import { cancellationCodes, TableAdapter } from "../../shared/dynamodb.ts";
import { conflict } from "../../shared/errors.ts";
import type { TenantDomainStore } from "../ports.ts";

type Item = Record<string, AttributeValue>;

const claimKey = (domain: string): Item => ({ pk: { S: `DOMAIN#${domain}` }, sk: { S: "DOMAIN" } });
const listKey = (tenantId: string): Item => ({ pk: { S: `TENANT#${tenantId}` }, sk: { S: "DOMAINS" } });

/** TenantDomainStore on DynamoDB; see the item design at the top of this file. */
export class DynamoDbTenantDomainStore extends TableAdapter implements TenantDomainStore {
  async #current(tenantId: string): Promise<{ domains: string[]; version: number }> {
    const item = await this.getItem(listKey(tenantId));
    return {
      domains: (item?.domains?.L ?? []).map((v) => v.S ?? "").filter(Boolean),
      version: Number(item?.version?.N ?? 0),
    };
  }

  async listTenantDomains(tenantId: string): Promise<string[]> {
    return (await this.#current(tenantId)).domains.sort();
  }

  async setTenantDomains(tenantId: string, domains: readonly string[], at: number): Promise<void> {
    for (let attempt = 0; attempt < 4; attempt++) {
      const cur = await this.#current(tenantId);
      const have = new Set(cur.domains);
      const want = new Set(domains);
      const added = [...want].filter((d) => !have.has(d));
      const removed = [...have].filter((d) => !want.has(d));
      if (added.length === 0 && removed.length === 0) return;
      const t = { S: tenantId };
      const items: TransactWriteItem[] = [
        {
          Put: {
            TableName: this.table,
            Item: {
              ...listKey(tenantId),
              domains: { L: [...want].sort().map((d) => ({ S: d })) },
              version: { N: String(cur.version + 1) },
              updatedAt: { N: String(at) },
            },
            ConditionExpression: cur.version === 0 ? "attribute_not_exists(pk)" : "version = :v",
            ...(cur.version === 0 ? {} : { ExpressionAttributeValues: { ":v": { N: String(cur.version) } } }),
          },
        },
        ...added.map(
          (d): TransactWriteItem => ({
            Put: {
              TableName: this.table,
              Item: { ...claimKey(d), tenantId: t, domain: { S: d }, claimedAt: { N: String(at) } },
              ConditionExpression: "attribute_not_exists(pk) OR tenantId = :t",
              ExpressionAttributeValues: { ":t": t },
            },
          }),
        ),
        ...removed.map(
          (d): TransactWriteItem => ({
            Delete: {
              TableName: this.table,
              Key: claimKey(d),
              ConditionExpression: "attribute_not_exists(pk) OR tenantId = :t",
              ExpressionAttributeValues: { ":t": t },
            },
          }),
        ),
      ];
      try {
        await this.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
        return;
      } catch (e) {
        const codes = cancellationCodes(e);
        if (!codes) throw e;
        // A claim held by another tenant: name it. The list changed concurrently: read again.
        const taken = codes.findIndex(
          (c, i) => c === "ConditionalCheckFailed" && i >= 1 && i <= added.length,
        );
        if (taken >= 1) throw conflict(`The domain ${added[taken - 1]} is held by another tenant.`);
        if (!codes.some((c) => c === "ConditionalCheckFailed" || c === "TransactionConflict")) throw e;
      }
    }
    throw conflict("The tenant's domains are being changed concurrently; try again.");
  }

  async findDomainTenant(domain: string): Promise<string | undefined> {
    const item = await this.getItem(claimKey(domain));
    return item?.tenantId?.S;
  }
}
