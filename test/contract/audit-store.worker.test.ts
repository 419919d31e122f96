import { afterAll, describe, expect, it } from "vitest";
import { WorkerAuditStore } from "../../src/audit/adapters/worker-store.ts";
import type { AuditEvent } from "../../src/audit/events.ts";
import { systemClock } from "../../src/shared/clock.ts";
import { ulidGenerator } from "../../src/shared/ids.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { describeAuditStore } from "./audit-store.suite.ts";

const stores: WorkerAuditStore[] = [];
const log = createLogger({ level: "silent" });
/** A worker store (its thread runs on the system clock: the suite's events are at real times). */
const make = (options: { ringUnits?: number; maxEventsPerTenant?: number } = {}) => {
  const s = new WorkerAuditStore({ retentionDays: 30, clock: systemClock, log, ...options });
  stores.push(s);
  return s;
};
afterAll(async () => {
  for (const s of stores) await s.close();
});

describeAuditStore("memory, in a worker thread", () => make());

const T0 = Date.now();
function event(tenant: string, i: number): AuditEvent {
  return {
    v: 1,
    id: ulidGenerator.ulid(),
    time: new Date(T0 + i).toISOString(),
    tenant,
    type: "authz.check",
    actor: "apikey:k1",
    subject: `user:u${i % 10}`,
    resource: `document:d${i}`,
    action: "viewer",
    decision: i % 3 ? "allow" : "deny",
    reason: i % 3 ? "document:d#viewer <- user:u" : "no path",
    region: "local",
    request: { id: `r${i}`, ip: "127.0.0.1" },
    latency_ms: (i % 100) / 1000,
    detail: { store_id: "s1" },
  };
}

/** Every event of a tenant, newest first, through pages of 1,000. */
async function all(store: WorkerAuditStore, tenant: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  let cursor: string | undefined;
  do {
    const p = await store.query(tenant, {}, { limit: 1000, ...(cursor ? { cursor } : {}) });
    out.push(...p.items);
    cursor = p.cursor;
  } while (cursor);
  return out;
}

describe("worker audit store", () => {
  it("a query made after enqueue sees every event enqueued, in order, across tenants", async () => {
    const store = make();
    const events = Array.from({ length: 5000 }, (_, i) => event(i % 2 ? "a" : "b", i));
    for (let i = 0; i < events.length; i += 7) store.enqueue(events.slice(i, i + 7));
    const a = await all(store, "a");
    expect(a.map((e) => e.id)).toEqual(
      events
        .filter((e) => e.tenant === "a")
        .reverse()
        .map((e) => e.id),
    );
    expect(a[0]).toEqual(events.filter((e) => e.tenant === "a").at(-1));
    expect(await all(store, "b")).toHaveLength(2500);
  });

  it("sends what the ring cannot hold by message: nothing lost when it is full", async () => {
    // A ring of a few events: most of one large enqueue goes by message.
    const store = make({ ringUnits: 2000 });
    const events = Array.from({ length: 3000 }, (_, i) => event("full", i));
    store.enqueue(events);
    store.enqueue([event("full", 3000)]);
    await store.settled();
    const got = await all(store, "full");
    expect(got).toHaveLength(3001);
    expect(new Set(got.map((e) => e.id)).size).toBe(3001);
    expect(got.at(-1)).toEqual(events[0]);
  });

  it("keeps its per-tenant bound and answers bad cursors with a validation error", async () => {
    const store = make({ maxEventsPerTenant: 100 });
    store.enqueue(Array.from({ length: 500 }, (_, i) => event("bounded", i)));
    const got = await all(store, "bounded");
    expect(got.length).toBeGreaterThanOrEqual(100);
    expect(got.length).toBeLessThanOrEqual(110);
    expect(got[0]!.resource).toBe("document:d499");
    await expect(store.query("bounded", {}, { limit: 1, cursor: "garbage" })).rejects.toMatchObject({
      code: "validation",
    });
  });
});
