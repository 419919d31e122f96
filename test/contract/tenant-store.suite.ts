/**
 * The TenantStore contract: every adapter runs this suite, and any difference between them is a bug.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { DomainError } from "../../src/shared/errors.ts";
import { hashSecret, ulidGenerator } from "../../src/shared/ids.ts";
import type { ApiKeyRecord, Tenant } from "../../src/tenants/model.ts";
import type { TenantStore } from "../../src/tenants/ports.ts";

/** Makes an EMPTY store for one test. */
export type MakeTenantStore = () => TenantStore | Promise<TenantStore>;

// In the future: DynamoDB Local deletes items whose TTL attribute (`expires_at`) has passed, within
// seconds, which would race the assertions.
const T0 = Date.UTC(2099, 0, 1);
const id = () => ulidGenerator.ulid();

const tenant = (name: string, at = T0): Tenant => ({ id: id(), name, createdAt: at });

function apiKey(tenantId: string, name: string, at = T0): ApiKeyRecord {
  const hash = hashSecret(`pk_${id()}`);
  return { id: id(), tenantId, name, keyHash: hash, prefix: `pk_${hash.slice(0, 6)}`, createdAt: at };
}

async function expectDomainError(p: Promise<unknown>, code: DomainError["code"]): Promise<DomainError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DomainError);
  expect((e as DomainError).code).toBe(code);
  return e as DomainError;
}

/** Collects every page of a paginated listing, checking that cursors move forward. */
async function allPages<T>(
  list: (o: { limit: number; cursor?: string }) => Promise<{ items: T[]; cursor?: string }>,
  limit: number,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await list(cursor === undefined ? { limit } : { limit, cursor });
    pages++;
    expect(page.items.length).toBeLessThanOrEqual(limit);
    items.push(...page.items);
    cursor = page.cursor;
    if (pages > 50) throw new Error("pagination does not terminate");
  } while (cursor !== undefined);
  return { items, pages };
}

/** Registers the TenantStore contract tests for one adapter. */
export function describeTenantStore(name: string, makeStore: MakeTenantStore): void {
  describe(`TenantStore contract: ${name}`, () => {
    let store: TenantStore;
    beforeEach(async () => {
      store = await makeStore();
    });

    describe("tenants", () => {
      it("creates and reads a tenant; unknown ids are undefined", async () => {
        const t = tenant("Acme");
        await store.createTenant(t);
        expect(await store.getTenant(t.id)).toEqual(t);
        expect(await store.getTenant(id())).toBeUndefined();
      });

      it("refuses a second tenant with the same id and keeps the first", async () => {
        const t = tenant("Acme");
        await store.createTenant(t);
        await expectDomainError(store.createTenant({ ...t, name: "Other" }), "conflict");
        expect((await store.getTenant(t.id))?.name).toBe("Acme");
      });

      it("lists tenants oldest first across pages, including deleted ones", async () => {
        const created: Tenant[] = [];
        for (let i = 0; i < 7; i++) created.push(tenant(`t${i}`, T0 + i));
        for (const t of [...created].reverse()) await store.createTenant(t);
        await store.markTenantDeleted(created[3]!.id, T0 + 100);

        const { items, pages } = await allPages((o) => store.listTenants(o), 3);
        expect(pages).toBe(3);
        expect(items.map((t) => t.id)).toEqual(created.map((t) => t.id));
        expect(items[3]?.deletedAt).toBe(T0 + 100);

        const exact = await allPages((o) => store.listTenants(o), 7);
        expect(exact.pages).toBe(1);
        expect(exact.items).toHaveLength(7);
      });

      it("returns an empty last page without a cursor when there are no tenants", async () => {
        const page = await store.listTenants({ limit: 5 });
        expect(page.items).toEqual([]);
        expect(page.cursor).toBeUndefined();
      });

      it("soft-deletes once: the first deletion time is kept", async () => {
        const t = tenant("Acme");
        await store.createTenant(t);
        const first = await store.markTenantDeleted(t.id, T0 + 10);
        expect(first).toEqual({ ...t, deletedAt: T0 + 10 });
        const second = await store.markTenantDeleted(t.id, T0 + 20);
        expect(second.deletedAt).toBe(T0 + 10);
        expect((await store.getTenant(t.id))?.deletedAt).toBe(T0 + 10);
      });

      it("reports not_found when deleting a missing tenant, and creates nothing", async () => {
        const missing = id();
        await expectDomainError(store.markTenantDeleted(missing, T0), "not_found");
        expect(await store.getTenant(missing)).toBeUndefined();
      });
    });

    describe("API keys", () => {
      it("creates a key readable by id and by hash", async () => {
        const t = tenant("Acme");
        await store.createTenant(t);
        const k = apiKey(t.id, "ci");
        await store.createApiKey(k);
        expect(await store.getApiKey(t.id, k.id)).toEqual(k);
        expect(await store.findApiKeyByHash(k.keyHash)).toEqual(k);
        expect(await store.findApiKeyByHash(hashSecret("unknown"))).toBeUndefined();
        expect(await store.getApiKey(t.id, id())).toBeUndefined();
      });

      it("refuses a duplicate id or a duplicate hash, writing nothing", async () => {
        const t = tenant("Acme");
        await store.createTenant(t);
        const k = apiKey(t.id, "ci");
        await store.createApiKey(k);

        const sameId = { ...apiKey(t.id, "other"), id: k.id };
        await expectDomainError(store.createApiKey(sameId), "conflict");
        expect(await store.findApiKeyByHash(sameId.keyHash)).toBeUndefined();

        const sameHash = { ...apiKey(t.id, "other"), keyHash: k.keyHash };
        await expectDomainError(store.createApiKey(sameHash), "conflict");
        expect(await store.getApiKey(t.id, sameHash.id)).toBeUndefined();
        expect((await store.findApiKeyByHash(k.keyHash))?.id).toBe(k.id);
      });

      it("revokes once: both lookups see the first revocation time", async () => {
        const t = tenant("Acme");
        await store.createTenant(t);
        const k = apiKey(t.id, "ci");
        await store.createApiKey(k);

        const revoked = await store.revokeApiKey(t.id, k.id, T0 + 5);
        expect(revoked).toEqual({ ...k, revokedAt: T0 + 5 });
        expect((await store.revokeApiKey(t.id, k.id, T0 + 9)).revokedAt).toBe(T0 + 5);
        expect((await store.getApiKey(t.id, k.id))?.revokedAt).toBe(T0 + 5);
        expect((await store.findApiKeyByHash(k.keyHash))?.revokedAt).toBe(T0 + 5);
      });

      it("reports not_found when revoking a key of another tenant or a missing key", async () => {
        const a = tenant("A");
        const b = tenant("B");
        await store.createTenant(a);
        await store.createTenant(b);
        const k = apiKey(a.id, "ci");
        await store.createApiKey(k);
        await expectDomainError(store.revokeApiKey(b.id, k.id, T0), "not_found");
        await expectDomainError(store.revokeApiKey(a.id, id(), T0), "not_found");
        expect((await store.findApiKeyByHash(k.keyHash))?.revokedAt).toBeUndefined();
      });

      it("lists keys per tenant, oldest first, paginated, never another tenant's", async () => {
        const a = tenant("A");
        const b = tenant("B");
        await store.createTenant(a);
        await store.createTenant(b);
        const keysA: ApiKeyRecord[] = [];
        for (let i = 0; i < 5; i++) keysA.push(apiKey(a.id, `a${i}`, T0 + i));
        const keyB = apiKey(b.id, "b0");
        await store.createApiKey(keyB);
        for (const k of [...keysA].reverse()) await store.createApiKey(k);
        await store.revokeApiKey(a.id, keysA[1]!.id, T0 + 50);

        const { items, pages } = await allPages((o) => store.listApiKeys(a.id, o), 2);
        expect(pages).toBe(3);
        expect(items.map((k) => k.id)).toEqual(keysA.map((k) => k.id));
        expect(items.every((k) => k.tenantId === a.id)).toBe(true);
        expect(items[1]?.revokedAt).toBe(T0 + 50);

        expect((await store.listApiKeys(b.id, { limit: 10 })).items).toEqual([keyB]);
        const none = await store.listApiKeys(id(), { limit: 10 });
        expect(none).toEqual({ items: [] });
      });
    });
  });
}
