/**
 * Tenant email domains: normalisation (IDNA, punycode, refusals), the service's rules, and the
 * email-step rate limiter that guards home-realm discovery.
 */
import { describe, expect, it } from "vitest";
import { MemorySignInStore } from "../../../src/sessions/adapters/memory.ts";
import { CONTENTION_WAIT_MS, EmailStepLimiter } from "../../../src/sessions/email-step-limit.ts";
import { ManualClock } from "../../../src/shared/clock.ts";
import { DomainError } from "../../../src/shared/errors.ts";
import { MemoryTenantDomainStore } from "../../../src/tenants/adapters/domains-memory.ts";
import { MemoryTenantStore } from "../../../src/tenants/adapters/memory.ts";
import { emailDomain, normalizeDomain, TenantDomainService } from "../../../src/tenants/domains.ts";

describe("normalizeDomain", () => {
  it("lowercases, maps IDNs to punycode and drops a trailing dot", () => {
    expect(normalizeDomain("ACME.com")).toBe("acme.com");
    expect(normalizeDomain("  acme.com.  ")).toBe("acme.com");
    expect(normalizeDomain("Bücher.Example")).toBe("xn--bcher-kva.example");
    expect(normalizeDomain("xn--bcher-kva.example")).toBe("xn--bcher-kva.example");
    expect(normalizeDomain("faß.de")).toBe("xn--fa-hia.de");
    expect(normalizeDomain("ｅｘａｍｐｌｅ.com")).toBe("example.com");
    expect(normalizeDomain("eu.acme-corp.co.uk")).toBe("eu.acme-corp.co.uk");
  });

  it("refuses what is not a host name of two or more labels", () => {
    for (const bad of [
      "",
      "com",
      "localhost",
      "a..b",
      ".acme.com",
      "-acme.com",
      "acme-.com",
      "ac_me.com",
      "*.acme.com",
      "acme.com/path",
      "user@acme.com",
      "acme.com:443",
      "ex%41mple.com",
      "exa mple.com",
      "1.2.3.4",
      "[::1]",
      "xn--zz.com",
      "ab--cd.com",
      `${"a".repeat(64)}.com`,
      `${"a.".repeat(127)}com`,
      "acme.com\u0000",
    ])
      expect(normalizeDomain(bad), bad).toBeUndefined();
  });

  it("takes the domain of an email address", () => {
    expect(emailDomain("Ada@ACME.com")).toBe("acme.com");
    expect(emailDomain("a@b@bücher.example")).toBe("xn--bcher-kva.example");
    expect(emailDomain("no-at-sign")).toBeUndefined();
    expect(emailDomain("trailing@")).toBeUndefined();
  });
});

describe("TenantDomainService", () => {
  const setup = async () => {
    const tenants = new MemoryTenantStore();
    const clock = new ManualClock();
    const svc = new TenantDomainService({ store: new MemoryTenantDomainStore(), tenants, clock });
    await tenants.createTenant({ id: "01JTENANTA000000000000000A", name: "a", createdAt: 0 });
    await tenants.createTenant({ id: "01JTENANTB000000000000000B", name: "b", createdAt: 0 });
    return { svc, tenants };
  };
  const A = "01JTENANTA000000000000000A";
  const B = "01JTENANTB000000000000000B";

  it("normalises, de-duplicates and sorts; bad entries are all reported and change nothing", async () => {
    const { svc } = await setup();
    expect(await svc.set(A, ["Zeta.example", "acme.example", "ACME.example."])).toEqual([
      "acme.example",
      "zeta.example",
    ]);
    const e = await svc.set(A, ["ok.example", "bad_domain", "*.acme.example"]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).code).toBe("validation");
    expect(JSON.stringify((e as DomainError).errors)).toContain("/domains/1");
    expect(JSON.stringify((e as DomainError).errors)).toContain("/domains/2");
    expect(await svc.list(A)).toEqual(["acme.example", "zeta.example"]);
  });

  it("routes emails to active tenants only; unknown tenants are not_found", async () => {
    const { svc, tenants } = await setup();
    await svc.set(B, ["globex.example"]);
    expect(await svc.tenantOfEmail("hank@GLOBEX.example")).toBe(B);
    expect(await svc.tenantOfEmail("hank@sub.globex.example")).toBeUndefined();
    expect(await svc.tenantOfEmail("not-an-email")).toBeUndefined();
    await expect(svc.list("01JNOSUCHTENANT00000000000")).rejects.toMatchObject({ code: "not_found" });
    await tenants.markTenantDeleted(B, 1);
    expect(await svc.tenantOfEmail("hank@globex.example")).toBeUndefined();
    // A deleted tenant may release its domains, not claim new ones.
    await expect(svc.set(B, ["more.example"])).rejects.toMatchObject({ code: "not_found" });
    expect(await svc.set(B, [])).toEqual([]);
    expect(await svc.set(A, ["globex.example"])).toEqual(["globex.example"]);
  });
});

describe("EmailStepLimiter", () => {
  it("counts every submission per IP and per IP + tenant in fixed windows", async () => {
    const clock = new ManualClock();
    const l = new EmailStepLimiter({
      store: new MemorySignInStore(),
      clock,
      limits: { perIp: 3, perTenantIp: 2, windowSeconds: 60 },
    });
    expect(await l.hit("10.0.0.1", "t1")).toEqual({ waitMs: 0 });
    clock.advance(10_000);
    expect(await l.hit("10.0.0.1", "t1")).toEqual({ waitMs: 0 });
    // The third to t1 is over the per-tenant limit; the window ends 60 s after the first.
    expect(await l.hit("10.0.0.1", "t1")).toEqual({ waitMs: 50_000, scope: "tenant_ip" });
    // The IP's 4th submission (any tenant) is over the IP limit.
    expect(await l.hit("10.0.0.1")).toEqual({ waitMs: 50_000, scope: "ip" });
    expect(await l.hit("10.0.0.2", "t1")).toEqual({ waitMs: 0 });
    clock.advance(50_000);
    expect(await l.hit("10.0.0.1", "t1")).toEqual({ waitMs: 0 });
    expect(await l.hitTenant("10.0.0.1", "t2")).toEqual({ waitMs: 0 });
  });

  it("a counter the store cannot settle (rate_limited) is a short wait, not an error", async () => {
    const store = new MemorySignInStore();
    store.hitWindow = async () => {
      throw new DomainError("rate_limited", "Too many concurrent attempts.");
    };
    const l = new EmailStepLimiter({ store, clock: new ManualClock() });
    expect(await l.hit("10.0.0.1", "t1")).toEqual({ waitMs: CONTENTION_WAIT_MS, scope: "ip" });
    expect(await l.hitTenant("10.0.0.1", "t1")).toEqual({ waitMs: CONTENTION_WAIT_MS, scope: "tenant_ip" });
    store.hitWindow = async () => {
      throw new Error("boom");
    };
    await expect(l.hit("10.0.0.1")).rejects.toThrow("boom");
  });
});
