import { describe, expect, it } from "vitest";
import { MemoryAuditStore } from "../../src/audit/adapters/memory.ts";
import type { AuditEvent } from "../../src/audit/events.ts";
import { systemClock } from "../../src/shared/clock.ts";
import { describeAuditStore } from "./audit-store.suite.ts";

describeAuditStore("memory", (clock) => new MemoryAuditStore({ retentionDays: 30, clock }));

describe("memory audit store bound", () => {
  it("keeps at most maxEventsPerTenant events per tenant, newest kept, other tenants untouched", async () => {
    const store = new MemoryAuditStore({ retentionDays: 30, clock: systemClock, maxEventsPerTenant: 10 });
    const t0 = Date.now();
    const ev = (tenant: string, i: number) =>
      ({
        v: 1,
        id: `01J${String(i).padStart(23, "0")}`,
        time: new Date(t0 + i).toISOString(),
        tenant,
        type: "authz.check",
        actor: "user:a",
        resource: `doc:${i}`,
        action: "viewer",
        decision: "allow",
        region: "local",
      }) as AuditEvent;
    for (let i = 0; i < 25; i++) await store.put([ev("a", i)]);
    await store.put([ev("b", 100)]);
    const a = await store.query("a", {}, { limit: 100 });
    expect(a.items.length).toBeLessThanOrEqual(11);
    expect(a.items.length).toBeGreaterThanOrEqual(10);
    expect(a.items[0]!.resource).toBe("doc:24");
    expect(a.items.some((e) => e.resource === "doc:0")).toBe(false);
    expect((await store.query("b", {}, { limit: 100 })).items.map((e) => e.resource)).toEqual(["doc:100"]);
  });
});
