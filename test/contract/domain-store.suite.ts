/**
 * The TenantDomainStore contract: every adapter runs this suite, and any difference between them is
 * a bug. Domains are passed normalised (the service normalises them).
 */
import { beforeEach, describe, expect, it } from "vitest";
import { DomainError } from "../../src/shared/errors.ts";
import { ulidGenerator } from "../../src/shared/ids.ts";
import type { TenantDomainStore } from "../../src/tenants/ports.ts";

/** Makes an EMPTY store for one test. */
export type MakeDomainStore = () => TenantDomainStore | Promise<TenantDomainStore>;

// In the future: DynamoDB Local deletes items whose TTL attribute (`expires_at`) has passed, within
// seconds, which would race the assertions.
const T0 = Date.UTC(2099, 0, 1);
const id = () => ulidGenerator.ulid();

async function expectConflict(p: Promise<unknown>, domain: string): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DomainError);
  expect((e as DomainError).code).toBe("conflict");
  expect((e as DomainError).detail).toContain(domain);
}

/** Registers the TenantDomainStore contract tests for one adapter. */
export function describeDomainStore(name: string, makeStore: MakeDomainStore): void {
  describe(`TenantDomainStore contract: ${name}`, () => {
    let store: TenantDomainStore;
    beforeEach(async () => {
      store = await makeStore();
    });

    it("a tenant without domains has none, and unknown domains belong to nobody", async () => {
      expect(await store.listTenantDomains(id())).toEqual([]);
      expect(await store.findDomainTenant("nobody.example")).toBeUndefined();
    });

    it("claims, lists sorted, finds, replaces and releases", async () => {
      const a = id();
      await store.setTenantDomains(a, ["zeta.example", "acme.example"], T0);
      expect(await store.listTenantDomains(a)).toEqual(["acme.example", "zeta.example"]);
      expect(await store.findDomainTenant("acme.example")).toBe(a);
      expect(await store.findDomainTenant("zeta.example")).toBe(a);
      // Replace: zeta released, new claimed, acme kept.
      await store.setTenantDomains(a, ["acme.example", "new.example"], T0 + 1);
      expect(await store.listTenantDomains(a)).toEqual(["acme.example", "new.example"]);
      expect(await store.findDomainTenant("zeta.example")).toBeUndefined();
      expect(await store.findDomainTenant("new.example")).toBe(a);
      // The same list again changes nothing.
      await store.setTenantDomains(a, ["acme.example", "new.example"], T0 + 2);
      expect(await store.listTenantDomains(a)).toEqual(["acme.example", "new.example"]);
      // Release everything.
      await store.setTenantDomains(a, [], T0 + 3);
      expect(await store.listTenantDomains(a)).toEqual([]);
      expect(await store.findDomainTenant("acme.example")).toBeUndefined();
    });

    it("a domain belongs to one tenant: a conflicting change changes nothing at all", async () => {
      const a = id();
      const b = id();
      await store.setTenantDomains(a, ["acme.example"], T0);
      await store.setTenantDomains(b, ["globex.example", "old-b.example"], T0);
      await expectConflict(
        store.setTenantDomains(b, ["globex.example", "fresh.example", "acme.example"], T0 + 1),
        "acme.example",
      );
      expect(await store.findDomainTenant("acme.example")).toBe(a);
      expect(await store.findDomainTenant("fresh.example")).toBeUndefined();
      // b's previous claims are intact, including the one the failed change would have released.
      expect(await store.listTenantDomains(b)).toEqual(["globex.example", "old-b.example"]);
      expect(await store.findDomainTenant("old-b.example")).toBe(b);
      // Once a releases it, b may claim it.
      await store.setTenantDomains(a, [], T0 + 2);
      await store.setTenantDomains(b, ["acme.example"], T0 + 3);
      expect(await store.findDomainTenant("acme.example")).toBe(b);
      expect(await store.findDomainTenant("old-b.example")).toBeUndefined();
    });

    it("of two tenants racing for a domain exactly one gets it", async () => {
      const a = id();
      const b = id();
      const results = await Promise.allSettled([
        store.setTenantDomains(a, ["race.example"], T0),
        store.setTenantDomains(b, ["race.example"], T0),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const winner = results[0]!.status === "fulfilled" ? a : b;
      const loser = winner === a ? b : a;
      expect(await store.findDomainTenant("race.example")).toBe(winner);
      expect(await store.listTenantDomains(winner)).toEqual(["race.example"]);
      expect(await store.listTenantDomains(loser)).toEqual([]);
    });

    it("concurrent changes of one tenant's list leave list and claims consistent", async () => {
      const a = id();
      await Promise.allSettled([
        store.setTenantDomains(a, ["one.example", "two.example"], T0),
        store.setTenantDomains(a, ["three.example"], T0),
      ]);
      const list = await store.listTenantDomains(a);
      expect([["one.example", "two.example"], ["three.example"]]).toContainEqual(list);
      for (const d of ["one.example", "two.example", "three.example"])
        expect(await store.findDomainTenant(d)).toBe(list.includes(d) ? a : undefined);
    });
  });
}
