/**
 * The AuditStore contract: every adapter runs this suite, and any difference between them is a bug.
 */
import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../../src/audit/events.ts";
import type { AuditFilter, AuditStore } from "../../src/audit/ports.ts";
import { ManualClock } from "../../src/shared/clock.ts";
import { ulidGenerator } from "../../src/shared/ids.ts";

/** Makes an EMPTY store for one test, with 30 days of retention on `clock`. */
export type MakeAuditStore = (clock: ManualClock) => AuditStore | Promise<AuditStore>;

// Real time: DynamoDB Local runs TTL deletion, so events must not be expired by the wall clock.
const T0 = Math.floor(Date.now() / 1000) * 1000;
let seq = 0;
const tenantId = () => `tenant-${ulidGenerator.ulid()}`;

function event(tenant: string, at: number, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    v: 1,
    id: ulidGenerator.ulid(),
    time: new Date(at).toISOString(),
    tenant,
    type: "authz.check",
    actor: "credential:k1",
    resource: `document:d${seq++}`,
    action: "viewer",
    decision: "allow",
    region: "eu-west-1",
    ...over,
  };
}

async function all(store: AuditStore, tenant: string, filter: AuditFilter, limit: number) {
  const items: AuditEvent[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const p = await store.query(tenant, filter, { limit, ...(cursor ? { cursor } : {}) });
    items.push(...p.items);
    expect(p.items.length).toBeLessThanOrEqual(limit);
    cursor = p.cursor;
    pages++;
  } while (cursor && pages < 100);
  return { items, pages };
}

export function describeAuditStore(name: string, make: MakeAuditStore): void {
  describe(`AuditStore contract: ${name}`, () => {
    it("stores events idempotently by id and returns them newest first", async () => {
      const clock = new ManualClock(T0);
      const store = await make(clock);
      const t = tenantId();
      const evs = [event(t, T0 + 1000), event(t, T0 + 3000), event(t, T0 + 2000)];
      expect(await store.put(evs)).toEqual({ written: 3, duplicates: 0 });
      expect(await store.put([evs[0]!, evs[1]!])).toEqual({ written: 0, duplicates: 2 });
      const p = await store.query(t, {}, { limit: 10 });
      expect(p.items.map((e) => e.id)).toEqual([evs[1]!.id, evs[2]!.id, evs[0]!.id]);
      expect(p.items[0]).toEqual(evs[1]);
      expect(p.cursor).toBeUndefined();
    });

    it("isolates tenants", async () => {
      const store = await make(new ManualClock(T0));
      const a = tenantId();
      const b = tenantId();
      await store.put([event(a, T0), event(b, T0), event(b, T0 + 1)]);
      expect((await store.query(a, {}, { limit: 10 })).items).toHaveLength(1);
      expect((await store.query(b, {}, { limit: 10 })).items.every((e) => e.tenant === b)).toBe(true);
      expect((await store.query(tenantId(), {}, { limit: 10 })).items).toEqual([]);
    });

    it("filters by time range (inclusive), type, actor, resource and decision", async () => {
      const store = await make(new ManualClock(T0));
      const t = tenantId();
      const evs = [
        event(t, T0 + 1000, { decision: "deny", reason: "no path" }),
        event(t, T0 + 2000, { actor: "credential:k2" }),
        event(t, T0 + 3000, { type: "authz.tuples.written", action: "write", decision: "success" }),
        event(t, T0 + 4000, { resource: "document:x", decision: "deny", actor: "credential:k2" }),
        event(t, T0 + 5000, { resource: "document:x" }),
      ];
      await store.put(evs);
      const ids = async (f: AuditFilter) =>
        (await all(store, t, f, 2)).items.map((e) => evs.findIndex((x) => x.id === e.id));
      expect(await ids({ from: T0 + 2000, to: T0 + 4000 })).toEqual([3, 2, 1]);
      expect(await ids({ type: "authz.tuples.written" })).toEqual([2]);
      expect(await ids({ actor: "credential:k2" })).toEqual([3, 1]);
      expect(await ids({ resource: "document:x" })).toEqual([4, 3]);
      expect(await ids({ decision: "deny" })).toEqual([3, 0]);
      expect(await ids({ decision: "deny", actor: "credential:k2", from: T0 + 3500 })).toEqual([3]);
      expect(await ids({ from: T0 + 6000 })).toEqual([]);
    });

    it("paginates with cursors across every event, without repeats", async () => {
      const store = await make(new ManualClock(T0));
      const t = tenantId();
      const evs = Array.from({ length: 23 }, (_, i) =>
        event(t, T0 + i * 10, { decision: i % 2 ? "deny" : "allow" }),
      );
      await store.put(evs);
      const r = await all(store, t, {}, 5);
      expect(r.pages).toBe(5);
      expect(r.items.map((e) => e.id)).toEqual([...evs].reverse().map((e) => e.id));
      const denies = await all(store, t, { decision: "deny" }, 4);
      expect(denies.items).toHaveLength(11);
      expect(new Set(denies.items.map((e) => e.id)).size).toBe(11);
    });

    it("hides events past their retention", async () => {
      const clock = new ManualClock(T0);
      const store = await make(clock);
      const t = tenantId();
      await store.put([event(t, T0 - 31 * 86_400_000), event(t, T0 - 29 * 86_400_000)]);
      expect((await store.query(t, {}, { limit: 10 })).items).toHaveLength(1);
    });

    it("rejects malformed cursors", async () => {
      const store = await make(new ManualClock(T0));
      await expect(store.query(tenantId(), {}, { limit: 1, cursor: "garbage" })).rejects.toMatchObject({
        code: "validation",
      });
    });
  });
}
