import { describe, expect, it } from "vitest";
import { DomainError } from "../../src/shared/errors.ts";
import { DynamoDbTenantStore } from "../../src/tenants/adapters/dynamodb.ts";
import { useDynamoDbTables } from "../support/dynamodb.ts";
import { describeTenantStore } from "./tenant-store.suite.ts";

const ddb = useDynamoDbTables();

// Tenant listing spans the whole table, so every test gets its own tables. A Query page size of 2
// makes every listing follow LastEvaluatedKey across several requests.
describeTenantStore("dynamodb", async () => {
  const names = await ddb.fresh();
  return new DynamoDbTenantStore(ddb.client, names.platform, { queryPageSize: 2 });
});

describe("DynamoDbTenantStore cursors", () => {
  it("rejects malformed cursors and cursors of another tenant's partition", async () => {
    const store = new DynamoDbTenantStore(ddb.client, ddb.names.platform);
    const t = { id: "01JTENANTA000000000000000A", name: "A", createdAt: 1 };
    await store.createTenant(t);
    for (let i = 0; i < 3; i++) {
      await store.createApiKey({
        id: `01JKEY00000000000000000A${i}0`,
        tenantId: t.id,
        name: `k${i}`,
        keyHash: `hash-${i}`,
        prefix: "pk_",
        createdAt: i,
      });
    }
    const first = await store.listApiKeys(t.id, { limit: 1 });
    expect(first.cursor).toBeTypeOf("string");
    const other = store.listApiKeys("01JTENANTB000000000000000B", { limit: 1, cursor: first.cursor! });
    await expect(other).rejects.toBeInstanceOf(DomainError);
    await expect(store.listApiKeys(t.id, { limit: 1, cursor: "not-a-cursor" })).rejects.toMatchObject({
      code: "validation",
    });
    const second = await store.listApiKeys(t.id, { limit: 1, cursor: first.cursor! });
    expect(second.items.map((k) => k.name)).toEqual(["k1"]);
  });
});
