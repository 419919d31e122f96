import { afterAll, describe, expect, it } from "vitest";
import { WorkerAuditStore } from "../../src/audit/adapters/worker-store.ts";
import type { AuditEvent } from "../../src/audit/events.ts";
import { type Clock, ManualClock, systemClock } from "../../src/shared/clock.ts";
import { createLogger } from "../../src/shared/logger.ts";
import { checkEventAt } from "../support/audit-events.ts";
import { describeAuditStore } from "./audit-store.suite.ts";

const stores: WorkerAuditStore[] = [];
const log = createLogger({ level: "silent" });
const make = (
  options: { ringUnits?: number; maxEventsPerTenant?: number; drainMs?: number; clock?: Clock } = {},
) => {
  const s = new WorkerAuditStore({ retentionDays: 30, clock: systemClock, log, ...options });
  stores.push(s);
  return s;
};
afterAll(async () => {
  for (const s of stores) await s.close();
});

describeAuditStore("memory, in a worker thread", (clock) => make({ clock }));

const T0 = Date.now();
const event = (tenant: string, i: number): AuditEvent => checkEventAt(tenant, i, T0);

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

  it("takes events out of time order too (by message), and answers them merged in order", async () => {
    const store = make();
    // Ring and message events interleave: every fourth goes back in time.
    const events = Array.from({ length: 400 }, (_, i) => event("mixed", i % 4 === 3 ? i - 200 : i));
    for (let i = 0; i < events.length; i += 9) store.enqueue(events.slice(i, i + 9));
    const got = await all(store, "mixed");
    const key = (e: AuditEvent) => `${e.time}#${e.id}`;
    expect(got.map(key)).toEqual(events.map(key).sort().reverse());
    // Pages of one still walk both sources without gaps or repeats.
    const one: string[] = [];
    let cursor: string | undefined;
    do {
      const p = await store.query(
        "mixed",
        { decision: "allow" },
        { limit: 1, ...(cursor ? { cursor } : {}) },
      );
      one.push(...p.items.map(key));
      cursor = p.cursor;
    } while (cursor);
    expect(one).toEqual(got.filter((e) => e.decision === "allow").map(key));
  });

  it("stays idempotent by id across the ring and messages: a put of an event taken through the ring is a duplicate", async () => {
    const store = make();
    const e = event("again", 1);
    store.enqueue([e]);
    expect(await store.put([e])).toEqual({ written: 0, duplicates: 1 });
    store.enqueue([e]); // earlier than the last written: by message, a duplicate there
    await store.settled();
    expect(await all(store, "again")).toEqual([e]);
  });

  it("an event dated ahead of the clock does not send every later one by message", async () => {
    const store = make();
    const ahead = { ...event("ahead", 0), time: new Date(Date.now() + 3_600_000).toISOString() };
    store.enqueue([ahead]);
    const later = Array.from({ length: 20 }, (_, i) => ({
      ...event("ahead", i + 1),
      time: new Date(Date.now() + i).toISOString(),
    }));
    // Through the ring, the worker's timer off: each query takes them without a message per event.
    const pending: Promise<unknown>[] = [];
    for (const e of later) {
      store.enqueue([e]);
      pending.push(store.query("ahead", {}, { limit: 1 }));
    }
    await Promise.all(pending);
    const got = await all(store, "ahead");
    expect(got.map((e) => e.id)).toEqual([ahead, ...later.reverse()].map((e) => e.id));
    expect(store.sentByMessage).toBe(1);
  });

  it("bounds a tenant across ring and messages without a gap: what it keeps is the newest", async () => {
    const store = make({ maxEventsPerTenant: 100 });
    // Every fourth event earlier than the one before it: by message; the rest through the ring.
    const events = Array.from({ length: 600 }, (_, i) => event("gapless", i % 4 === 3 ? i - 2 : i));
    for (let i = 0; i < events.length; i += 5) store.enqueue(events.slice(i, i + 5));
    await store.settled();
    const got = (await all(store, "gapless")).map((e) => `${e.time}#${e.id}`);
    const newest = events
      .map((e) => `${e.time}#${e.id}`)
      .sort()
      .reverse();
    expect(got.length).toBeGreaterThanOrEqual(75);
    expect(got).toEqual(newest.slice(0, got.length));
    // Events that came by message before a trim: dropped with it when older than what it keeps.
    store.enqueue([event("before-trim", 1000)]);
    store.enqueue(Array.from({ length: 50 }, (_, i) => event("before-trim", i)));
    await store.settled();
    store.enqueue(Array.from({ length: 300 }, (_, i) => event("before-trim", 1001 + i)));
    const kept = (await all(store, "before-trim")).map((e) => e.time);
    expect(kept.length).toBeGreaterThanOrEqual(75);
    expect(kept.length).toBeLessThanOrEqual(110);
    expect(kept.every((t) => t > new Date(T0 + 1000).toISOString())).toBe(true);
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

  it("drains the ring before answering: a query right after enqueue sees it without the timer", async () => {
    const store = make({ drainMs: 600_000 });
    await store.settled(); // the worker is up; its timer will not fire during the test
    store.enqueue([event("barrier", 1), event("barrier", 2)]);
    expect((await all(store, "barrier")).map((e) => e.resource)).toEqual(["document:d2", "document:d1"]);
  });

  it("judges retention by the store's clock, not the worker's", async () => {
    const clock = new ManualClock(T0);
    const store = make({ clock });
    store.enqueue([event("aging", 0)]);
    expect(await all(store, "aging")).toHaveLength(1);
    clock.advance(31 * 86_400_000);
    expect(await all(store, "aging")).toHaveLength(0);
  });

  it("close fails pending requests instead of leaving them waiting, and refuses new ones", async () => {
    const store = make();
    store.enqueue([event("closing", 1)]);
    // The worker may not even be up yet.
    const pending = expect(store.query("closing", {}, { limit: 10 })).rejects.toThrow(/closed/);
    await store.close();
    await pending;
    expect(() => store.enqueue([event("closing", 2)])).not.toThrow();
    await expect(store.query("closing", {}, { limit: 10 })).rejects.toThrow(/closed/);
  });
});
